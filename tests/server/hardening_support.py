"""Helpers for the hardening tests: SQL counting, database snapshots, services.

Also :func:`record`, which appends a measurement to the file named by
``RELIABILITY_METRICS`` (set by ``bench/reliability.py``), so ``make reliability``
can report what the tests saw; without that variable it does nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text

from license_server.extensions import db

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def record(kind: str, **data: Any) -> None:
    """Append one measurement for ``make reliability`` (no-op outside it)."""
    path = os.environ.get("RELIABILITY_METRICS")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"kind": kind, **data}, default=str) + "\n")


@contextmanager
def sql_statements(app: Flask) -> Iterator[list[str]]:
    """Collect the SQL statements ``app`` sends to its database meanwhile."""
    statements: list[str] = []

    def collect(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", collect)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", collect)


_BOOKKEEPING = {"last_used_at"}


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of every table, in a stable order."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with app.app_context(), db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            # an API key's last use is written in batches, whenever one is due,
            # for any authenticated request: bookkeeping, not a change a request makes
            columns = [c for c in table.columns if c.key not in _BOOKKEEPING]
            result = connection.execute(select(*columns))
            rows[table.name] = sorted((tuple(row) for row in result), key=repr)
    return rows


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_for_port(port: int, timeout: float) -> None:
    """Wait until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _skip_or_fail(reason: str, required_by: str) -> None:
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{reason}; {required_by}=1 forbids skipping")
    pytest.skip(reason)


def redis_url_or_skip() -> str:
    """Return the machine's Redis URL, or skip (fail under ``REQUIRE_REDIS=1``)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        _skip_or_fail(f"Redis at {REDIS_URL} is not reachable: {exc}", "REQUIRE_REDIS")
    return REDIS_URL


class RedisServer:
    """A throwaway redis-server on a free port, stopped and started at will."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _skip_or_fail("redis-server is not installed", "REQUIRE_REDIS")
        self.binary = str(binary)
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port, 10)

    def stop(self) -> None:
        """Kill the server (no clean shutdown) and wait for it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


def _postgres_binary(name: str) -> str | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    return shutil.which(name)


class PostgresCluster:
    """A throwaway PostgreSQL cluster on a free port, under a temporary folder.

    As root, the server runs as the ``postgres`` OS user (``runuser``), since
    PostgreSQL refuses to run as root. ``stop()`` is an immediate shutdown: every
    backend dies at once, as in a crash.
    """

    def __init__(self) -> None:
        initdb, pg_ctl = _postgres_binary("initdb"), _postgres_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            _skip_or_fail("initdb/pg_ctl are not installed", "REQUIRE_POSTGRES")
        self.initdb, self.pg_ctl = str(initdb), str(pg_ctl)
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ls-pg-"))
        self.data = self.root / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, *argv], check=True, capture_output=True, timeout=60, cwd=self.root
        )

    def create(self) -> None:
        """Initialise the cluster (trust auth, no fsync: a test cluster)."""
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            self.initdb,
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        options += " -c fsync=off -c max_connections=50"
        self._run(
            self.pg_ctl,
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self) -> None:
        """Stop the server at once (``-m immediate``)."""
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs and remove the folder."""
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _is_webhook_worker(pid: int) -> bool:
    """Tell the webhook worker ``serve`` starts on SQLite from gunicorn's workers."""
    try:
        return b"--parent-pid" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class ServerProcess:
    """``license-server serve`` (gunicorn) in a subprocess, on a free port."""

    def __init__(self, workdir: Path, env: dict[str, str], workers: int = 2) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"server-{self.port}.log"
        argv = [sys.executable, "-m", "license_server.cli", "serve", "--port"]
        argv += [str(self.port), "--workers", str(workers)]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                argv, env={**os.environ, **env}, stdout=log, stderr=log, cwd=workdir
            )
        try:
            wait_for_port(self.port, 30)
        except TimeoutError:
            self.stop()
            raise AssertionError(self.log.read_text(errors="replace")) from None

    def worker_pids(self) -> set[int]:
        """Return the pids of gunicorn's workers (the children of its master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = {int(pid) for pid in children.read_text().split()}
        return {pid for pid in pids if not _is_webhook_worker(pid)}

    def stop(self) -> None:
        """Stop gunicorn and its workers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


GENEROUS_LIMITS = {
    f"RATELIMIT_{name}": "1000000/minute"
    for name in (
        "ACTIVATE",
        "VALIDATE",
        "DEACTIVATE",
        "JWKS",
        "LICENSE_KEY",
        "FAILED_LOOKUPS",
    )
}
WORLD_SITE = {"domain": "a.com", "product": "jannah"}


@dataclass
class World:
    """An app shared by a module's tests: a one-seat product ``jannah``, a license
    active on a.com, a write key and a read key (``secrets``: key, write, read)."""

    app: Flask
    client: FlaskClient
    secrets: dict[str, str]


@contextmanager
def shared_world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[World]:
    """Build a :class:`World` on ``request.param``'s backend; empty it afterwards."""
    from tests.conftest import make_app

    folder = tmp_path_factory.mktemp("world")
    if request.param == "sqlite":
        shutil.copy(sqlite_template, folder / "db.sqlite3")
        url = f"sqlite:///{folder / 'db.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    # the buffered last-use times are written only at exit, not every 10 s: a case
    # that merely uses an API key changes no row, however slowly the table runs
    # (a loaded machine once flushed one mid-case: "the database changed")
    app = make_app(
        url, folder / "instance", **GENEROUS_LIMITS, LAST_SEEN_FLUSH_INTERVAL=10**6
    )
    try:
        yield World(app, *_populate(app))
    finally:
        with app.app_context():
            if request.param == "postgresql":
                tables = ", ".join(t.name for t in db.metadata.sorted_tables)
                db.session.execute(text(f"TRUNCATE {tables} CASCADE"))
                db.session.commit()
            db.engine.dispose()


def _populate(app: Flask) -> tuple[FlaskClient, dict[str, str]]:
    from tests.conftest import create_license, create_product, new_vendor

    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    activated = client.post("/v1/activate", json={**WORLD_SITE, "license_key": key})
    assert activated.status_code == 201
    created = client.post(
        "/v1/admin/api-keys",
        json={"name": "reader", "scope": "read"},
        headers=vendor.headers,
    )
    assert created.status_code == 201, created.get_json()
    reader = f"Bearer {created.get_json()['key']}"
    listed = client.get("/v1/admin/products", headers={"Authorization": reader})
    assert listed.status_code == 200  # the key's first use is recorded now
    other = new_vendor(app, "Other Themes")
    create_product(client, other, slug="other-theme")
    other_key = create_license(client, other, product="other-theme")["key"]
    secrets = {"key": key, "write": vendor.headers["Authorization"], "read": reader}
    secrets["other_key"] = other_key
    return client, secrets
