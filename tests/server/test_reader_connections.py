"""The validate read's held connection on PostgreSQL (license_server.validation.reader).

Each serving thread keeps one connection of its own for the license-state read:
one per thread however many validations it serves, outside the pool's count, a new
one in a forked child (which never touches its parent's), closed when its thread
has ended or the engine is disposed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from license_server.runtime import of as runtime_of
from tests.conftest import create_license, create_product, make_app, new_vendor

pytestmark = pytest.mark.postgresql


@pytest.fixture
def served(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Flask, dict[str, Any]]]:
    app = make_app(postgres_url, tmp_path / "instance")
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    body = {"license_key": key, "domain": "shop.example", "product": "jannah"}
    assert client.post("/v1/activate", json=body).status_code == 201
    yield app, body
    runtime_of(app).engine.dispose()
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE licenses, products, vendors CASCADE"))
    engine.dispose()


def _alive(postgres_url: str, pids: list[int]) -> list[int]:
    """Which of these server processes (backend pids) still have a session."""
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE pid = ANY(:pids)"),
            {"pids": pids},
        ).all()
    engine.dispose()
    return sorted(row[0] for row in rows)


def _valid(app: Flask, body: dict[str, Any]) -> bool:
    answer = app.test_client().post("/v1/validate", json=body)
    assert answer.status_code == 200, answer.get_json()
    return bool(answer.get_json()["valid"])


def _held_pid(app: Flask) -> int:
    held = runtime_of(app).reader._local.held
    return int(held.info.backend_pid)


def test_one_thread_reuses_one_connection_outside_the_pool(
    served: tuple[Flask, dict[str, Any]],
) -> None:
    app, body = served
    assert _valid(app, body)
    first = _held_pid(app)
    for _ in range(5):
        assert _valid(app, body)
    assert _held_pid(app) == first
    pool = runtime_of(app).engine.pool
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


def test_disposing_the_engine_closes_every_thread_connection(
    served: tuple[Flask, dict[str, Any]], postgres_url: str
) -> None:
    app, body = served
    barrier = threading.Barrier(3)
    results: list[bool] = []

    def serve() -> None:
        results.append(_valid(app, body))
        barrier.wait(10)  # keep the thread (and its connection) alive
        barrier.wait(10)

    threads = [threading.Thread(target=serve) for _ in range(2)]
    for thread in threads:
        thread.start()
    barrier.wait(10)
    assert results == [True, True]
    held = list(runtime_of(app).reader._held)
    assert len(held) == 2 and all(not entry.connection.closed for entry in held)
    pids = sorted(entry.connection.info.backend_pid for entry in held)
    assert _alive(postgres_url, pids) == pids
    runtime_of(app).engine.dispose()
    assert all(entry.connection.closed for entry in held)
    barrier.wait(10)
    for thread in threads:
        thread.join(10)
    deadline = time.monotonic() + 10  # a backend exits just after its client left
    while _alive(postgres_url, pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(postgres_url, pids) == []  # the server ended both sessions


def test_an_ended_thread_connection_is_closed_by_the_next_opened(
    served: tuple[Flask, dict[str, Any]],
) -> None:
    app, body = served
    thread = threading.Thread(target=_valid, args=(app, body))
    thread.start()
    thread.join(10)
    reader = runtime_of(app).reader
    (ended,) = reader._held
    assert not ended.connection.closed
    assert _valid(app, body)  # this thread opens its own: the ended one is swept
    assert ended.connection.closed
    assert [entry.thread for entry in reader._held] == [threading.current_thread()]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_and_leaves_the_parents_alone(
    served: tuple[Flask, dict[str, Any]],
) -> None:
    app, body = served
    assert _valid(app, body)
    parent = _held_pid(app)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            ok = _valid(app, body) and _held_pid(app) != parent
            runtime_of(app).engine.dispose()  # closes the child's only
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent's connection survived the child's use, dispose and exit
    assert _valid(app, body)
    assert _held_pid(app) == parent
