"""``license-server serve`` under each server it offers: up, ready, validating."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from license_server.cli import main
from license_server.cli.serve import _server_argv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
        return json.load(response)


@pytest.mark.parametrize(
    "options",
    [
        ["--server", "granian", "--threads", "2"],
        ["--server", "gunicorn", "--threads", "2"],
    ],
    ids=["granian", "gunicorn-gthread"],
)
def test_serve_answers_under_each_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, options: list[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(tmp_path))
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    port = _free_port()
    command = [sys.executable, "-m", "license_server.cli", "serve", "--port", str(port)]
    command += ["--workers", "1", *options]
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and body is None:
            try:
                body = _get(f"http://127.0.0.1:{port}/readyz")
            except OSError:
                time.sleep(0.2)
        assert body == {"status": "ready"}, (tmp_path / "serve.log").read_text()
        assert _get(f"http://127.0.0.1:{port}/healthz") == {"status": "ok"}
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert (
        f"with {options[1]}, 1 workers x 2 threads"
        in (tmp_path / "serve.log").read_text()
    )


def test_server_command_lines() -> None:
    granian = _server_argv("granian", "127.0.0.1", 8000, 4, 8)
    assert granian[-1] == "license_server.wsgi:app"
    assert granian[granian.index("--interface") + 1] == "wsgi"
    assert granian[granian.index("--blocking-threads") + 1] == "8"
    sync = _server_argv("gunicorn", "127.0.0.1", 8000, 2, 1)
    assert "--worker-class" not in sync
    threaded = _server_argv("gunicorn", "127.0.0.1", 8000, 2, 4)
    assert threaded[threaded.index("--worker-class") + 1] == "gthread"


def test_a_missing_server_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(tmp_path))
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "granian" else real(name, *a),
    )
    result = CliRunner().invoke(main, ["serve", "--server", "granian"])
    assert result.exit_code == 1
    assert "granian is not installed" in result.output


def _start(port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "license_server.cli", "serve", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, "--workers", "1"], stdout=out, stderr=subprocess.STDOUT
        )


def _ready(port: int, log: Path) -> None:
    deadline = time.monotonic() + 60  # a loaded machine boots slowly
    while time.monotonic() < deadline:
        try:
            if _get(f"http://127.0.0.1:{port}/readyz") == {"status": "ready"}:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(log.read_text())


def test_two_instances_share_no_control_socket(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(tmp_path))
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    ports = [_free_port(), _free_port()]
    servers = [_start(port, log) for port, log in zip(ports, logs, strict=True)]
    try:
        for port, log in zip(ports, logs, strict=True):
            _ready(port, log)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=20)
    for log in logs:  # gunicorn's default is one path per user, shared by both
        assert "Control socket" not in log.read_text(), log.read_text()
