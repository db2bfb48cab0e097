"""Due buffers are written on the flusher's thread: no answer waits for the write."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from license_server.extensions import db
from license_server.models import Activation
from license_server.runtime import of as runtime_of
from license_server.runtime.flusher import Flusher
from tests.conftest import create_license, create_product, make_app, new_vendor


def test_an_answer_does_not_wait_for_a_due_write(
    database_url: str, tmp_path: Path
) -> None:
    app = make_app(
        database_url,
        tmp_path / "instance",
        LAST_SEEN_INTERVAL=0,
        LAST_SEEN_FLUSH_INTERVAL=0.01,
    )
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    body = {"license_key": key, "domain": "shop.example.com", "product": "jannah"}
    assert client.post("/v1/activate", json=body).status_code == 201
    runtime = runtime_of(app)
    runtime.flush_all()

    release = threading.Event()
    writing = threading.Event()
    writers: list[str] = []

    def hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "last_seen_at" in statement and statement.lstrip().upper().startswith(
            "UPDATE"
        ):
            writers.append(threading.current_thread().name)
            writing.set()
            release.wait(10)

    event.listen(runtime.engine, "before_cursor_execute", hold)
    try:
        time.sleep(
            0.02
        )  # the buffer's interval has passed: the next answer finds it due
        answers: list[int] = []
        request = threading.Thread(
            target=lambda: answers.append(
                client.post("/v1/validate", json=body).status_code
            )
        )
        request.start()
        request.join(5)
        assert answers == [200], "the answer waited for the buffer's write"
        assert writing.wait(5), "the due buffer was never written"
        assert writers == ["license-server-flusher"]
    finally:
        release.set()
        event.remove(runtime.engine, "before_cursor_execute", hold)
    deadline = time.monotonic() + 5
    seen = None
    while time.monotonic() < deadline and seen is None:
        with app.app_context():
            seen = db.session.execute(select(Activation.last_seen_at)).scalar_one()
        time.sleep(0.02)
    assert seen is not None


def test_the_thread_ends_with_its_runtime() -> None:
    calls: list[object] = []
    done = threading.Event()

    class Owner:
        pass

    def flush(owner: object) -> None:
        calls.append(owner)
        done.set()

    owner = Owner()
    flusher = Flusher(owner, flush)
    flusher.wake()
    assert done.wait(5) and calls == [owner]
    thread = flusher._thread
    assert thread is not None and thread.is_alive()
    calls.clear()
    del owner
    gc.collect()
    thread.join(5)
    assert not thread.is_alive(), "a dropped runtime's flusher kept running"


def test_an_interval_of_zero_writes_at_once(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path / "instance", USAGE_FLUSH_INTERVAL=0)
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    body = {"license_key": key, "domain": "shop.example.com", "product": "jannah"}
    client.post("/v1/validate", json=body)
    runtime = runtime_of(app)
    assert len(runtime.usage._counts) == 0  # written by the request itself
    assert not runtime.flusher.running
