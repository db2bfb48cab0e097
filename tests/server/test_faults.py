"""Database faults answer 503 ``SERVICE_UNAVAILABLE`` with ``Retry-After``, quickly.

The full outage (a PostgreSQL cluster stopped mid-load and started again) is in
``test_db_restart.py``; here: a database that refuses connections, one that accepts
them and never answers, a pool that runs dry, and connections killed between
requests (pre-ping replaces them without an error).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from license_server.extensions import db
from tests.conftest import (
    TEST_MASTER_KEY,
    _truncate,
    create_license,
    create_product,
    make_app,
    new_vendor,
    public_call,
)
from tests.server.hardening_support import ServerProcess, free_port

KEY = "JAN-00000-00000-00000-00000-00000"
BODY = {"license_key": KEY, "domain": "a.com", "product": "jannah"}


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert set(body) >= {"code", "message", "detail", "request_id"}
    assert int(response.headers["Retry-After"]) > 0


def _app_on(url: str, tmp_path: Path) -> Flask:
    return make_app(url, tmp_path / "instance", MASTER_KEY=TEST_MASTER_KEY)


def test_refused_connections_answer_503_at_once(tmp_path: Path) -> None:
    app = _app_on(f"postgresql://postgres@127.0.0.1:{free_port()}/gone", tmp_path)
    client = app.test_client()
    started = time.monotonic()
    for endpoint in ("validate", "activate"):
        _assert_unavailable(client.post(f"/v1/{endpoint}", json=BODY))
    _assert_unavailable(
        client.post("/v1/deactivate", json={"license_key": KEY, "domain": "a.com"})
    )
    _assert_unavailable(client.get("/v1/vendors/acme/jwks.json"))
    admin = {"Authorization": "Bearer lsk_" + "x" * 43}
    _assert_unavailable(client.get("/v1/admin/products", headers=admin))
    _assert_unavailable(client.get("/readyz"))
    assert client.get("/healthz").status_code == 200
    assert time.monotonic() - started < 5


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_a_database_that_never_answers_times_out_with_503(
    tmp_path: Path, silent_server: int
) -> None:
    app = _app_on(f"postgresql://postgres@127.0.0.1:{silent_server}/mute", tmp_path)
    started = time.monotonic()
    _assert_unavailable(app.test_client().post("/v1/validate", json=BODY))
    assert time.monotonic() - started < 8  # connect_timeout is 5 s: no hang


@pytest.mark.parametrize(
    "error",
    [
        PoolTimeout("QueuePool limit of size 10 overflow 10 reached"),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    ],
    ids=["pool-timeout", "operational-error"],
)
def test_pool_and_operational_errors_are_503(app: Flask, error: Exception) -> None:
    @app.get("/fault")
    def fault() -> None:
        raise error

    _assert_unavailable(app.test_client().get("/fault"))


def test_killed_connections_are_replaced_without_an_error(
    postgres_url: str, tmp_path: Path
) -> None:
    app = make_app(postgres_url, tmp_path / "instance")
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    body = {"license_key": key, "domain": "a.com", "product": "jannah"}
    assert public_call(client, "activate", **body)[0] == 201
    with app.app_context():
        database = db.engine.url.database
    killer = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            ).scalar_one()
        assert killed >= 1
        for _ in range(3):  # every pooled connection was killed; none is used
            status, answer = public_call(client, "validate", **body)
            assert (status, answer["code"]) == (200, "VALID")
    finally:
        killer.dispose()
        with app.app_context():
            db.engine.dispose()
        _truncate(postgres_url)


def test_a_killed_worker_is_replaced(sqlite_template: Path, tmp_path: Path) -> None:
    database = tmp_path / "served.sqlite3"
    shutil.copy(sqlite_template, database)
    url = f"sqlite:///{database}"
    app = make_app(url, tmp_path / "instance")
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    env = {
        "LICENSE_SERVER_DATABASE_URL": url,
        "LICENSE_SERVER_MASTER_KEY": TEST_MASTER_KEY,
        # limits in memory would be per worker, which serve refuses; not tested here
        "LICENSE_SERVER_RATELIMIT_ENABLED": "0",
    }
    server = ServerProcess(tmp_path, env, workers=2)
    body = {"license_key": key, "domain": "a.com", "product": "jannah"}
    try:
        with requests.Session() as session:
            answer = session.post(f"{server.base}/v1/activate", json=body, timeout=10)
            assert answer.status_code == 201
            workers = _wait_for_workers(server, 2)
            victim = sorted(workers)[0]
            os.kill(victim, signal.SIGKILL)
            for _ in range(20):
                answer = session.post(
                    f"{server.base}/v1/validate", json=body, timeout=10
                )
                assert (answer.status_code, answer.json()["code"]) == (200, "VALID")
        replaced = _wait_for_workers(server, 2)
        assert victim not in replaced and len(replaced - workers) == 1
    finally:
        server.stop()
        with app.app_context():
            db.engine.dispose()


def _wait_for_workers(server: ServerProcess, count: int) -> set[int]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        pids = server.worker_pids()
        if len(pids) == count and all(Path(f"/proc/{pid}").exists() for pid in pids):
            return pids
        time.sleep(0.1)
    raise AssertionError(f"gunicorn has workers {server.worker_pids()}, not {count}")
