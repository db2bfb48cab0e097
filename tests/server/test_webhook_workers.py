"""The worker as a process: killed mid-delivery, and two of them on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from license_server.extensions import db
from license_server.models.webhooks import WebhookDelivery
from tests.conftest import TEST_MASTER_KEY, VendorFixture, create_license
from tests.server.webhook_support import (
    Receiver,
    Reply,
    add_endpoint,
    wait_for,
    webhook_app,
)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = webhook_app(database_url, tmp_path / "instance")
    yield application
    with application.app_context():
        db.engine.dispose()


def _worker(app: Flask, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LICENSE_SERVER_DATABASE_URL": app.config["DATABASE_URL"],
        "LICENSE_SERVER_MASTER_KEY": TEST_MASTER_KEY,
        "LICENSE_SERVER_INSTANCE_PATH": app.config["INSTANCE_PATH"],
        "LICENSE_SERVER_WEBHOOK_ALLOWED_SCHEMES": "http",
        "LICENSE_SERVER_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "LICENSE_SERVER_WEBHOOK_POLL_INTERVAL": "1",
    }
    with log.open("ab") as handle:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "license_server.cli", "worker"],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def _pending(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.state != "delivered")
        )
        db.session.remove()
    return int(count or 0)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_a_worker_killed_mid_delivery_loses_nothing(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    tmp_path: Path,
) -> None:
    with Receiver() as receiver:
        add_endpoint(client, vendor, receiver.url)
        licenses = [create_license(client, vendor)["id"] for _ in range(6)]
        receiver.replies.extend([Reply(), Reply(), Reply(delay=30)])  # the 3rd hangs
        log = tmp_path / "worker.log"
        first = _worker(app, log)
        try:
            wait_for(lambda: len(receiver.requests) >= 3, timeout=60)
            first.send_signal(signal.SIGKILL)  # mid-delivery: no answer yet
            first.wait(timeout=10)
        finally:
            _stop(first)
        second = _worker(app, log)
        try:
            wait_for(lambda: _pending(app) == 0, timeout=60)
        finally:
            _stop(second)
        ids = receiver.ids()
        created = [r.event["data"]["id"] for r in receiver.requests]
    assert set(created) == set(licenses), log.read_text()
    assert len(set(ids)) == 6
    assert len(ids) <= 7  # at most the interrupted one a second time
    # a receiver that dedups by webhook-id processes each event exactly once
    seen: set[str] = set()
    processed = [i for i in ids if not (i in seen or seen.add(i))]
    assert len(processed) == 6


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_on_postgresql_never_deliver_one_event_twice(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    tmp_path: Path,
) -> None:
    with Receiver(Reply(delay=0.2)) as receiver:
        add_endpoint(client, vendor, receiver.url)
        for _ in range(24):
            create_license(client, vendor)
        log = tmp_path / "workers.log"
        workers = [_worker(app, log), _worker(app, log)]
        try:
            wait_for(lambda: _pending(app) == 0, timeout=120)
        finally:
            for worker in workers:
                _stop(worker)
        ids = receiver.ids()
        overlap = receiver.max_in_flight
    assert len(ids) == 24 and len(set(ids)) == 24, log.read_text()
    assert overlap == 2  # both workers were delivering at the same time


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--parent-pid" in cmdline and str(pid).encode() in cmdline:
                found.append(int(entry.name))
    return found


def test_serve_runs_one_worker_beside_it_on_sqlite(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from license_server import create_app
    from license_server.cli import main
    from tests.conftest import create_product, new_vendor
    from tests.server.test_serve import _free_port, _get

    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("LICENSE_SERVER_WEBHOOK_ALLOWED_SCHEMES", "http")
    monkeypatch.setenv("LICENSE_SERVER_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    app = create_app()
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    port = _free_port()
    command = [sys.executable, "-m", "license_server.cli", "serve", "--port", str(port)]
    with Receiver() as receiver:
        add_endpoint(client, vendor, receiver.url)
        license = create_license(client, vendor)
        with (tmp_path / "serve.log").open("wb") as log:
            server = subprocess.Popen(
                [*command, "--workers", "1"], stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_for(lambda: len(receiver.requests) == 1, timeout=60)
            assert _get(f"http://127.0.0.1:{port}/healthz") == {"status": "ok"}
            (worker,) = _children_of(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)
        assert receiver.requests[0].event["data"]["id"] == license["id"]
    wait_for(lambda: not Path(f"/proc/{worker}").exists() or _zombie(worker), 15)
    with app.app_context():
        db.engine.dispose()


def _zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
