"""Security headers on every answer, and gunicorn's own refusals in JSON (item 24)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from license_server.api.headers import frameable
from license_server.cli import main
from license_server.cli.serve import _server_argv
from tests.server.hardening_support import free_port

PATHS = [
    ("GET", "/healthz"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/v1/nowhere"),
    ("POST", "/v1/validate"),
    ("GET", "/v1/admin/licenses"),
    ("GET", "/v1/vendors/nobody/jwks.json"),
]


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_every_answer_carries_the_security_headers(
    client: FlaskClient, method: str, path: str
) -> None:
    response = client.open(path, method=method)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_frameable_page_may_be_framed_and_keeps_the_rest(app: Flask) -> None:
    @frameable
    def changelog() -> str:
        return "<p>1.2: fixes</p>"

    app.add_url_rule("/changelog-test", view_func=changelog)
    response = app.test_client().get("/changelog-test")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors" not in response.headers.get("Content-Security-Policy", "")
    assert "X-Frame-Options" not in response.headers


def test_gunicorn_runs_without_its_control_socket() -> None:
    argv = _server_argv("gunicorn", "127.0.0.1", 8000, 2, 2)
    assert "--no-control-socket" in argv
    assert argv[argv.index("--config") + 1] == "python:license_server.serving"


def _raw(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], {k.lower(): v for k, v in headers.items()}, body


def test_gunicorn_refusals_are_the_protocols_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HOME", str(tmp_path))  # where a control socket would go
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    port = free_port()
    command = [sys.executable, "-m", "license_server.cli", "serve", "--port", str(port)]
    command += ["--workers", "1", "--server", "gunicorn", "--threads", "2"]
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(  # noqa: S310 - our own test server
                    f"http://127.0.0.1:{port}/healthz", timeout=2
                ):
                    break
            except OSError:
                time.sleep(0.2)
        secret = "JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P"
        long_line = f"GET /v1/admin/licenses?key={secret}&x={'a' * 9000} HTTP/1.1\r\n"
        cases = [
            (long_line + "Host: x\r\n\r\n").encode(),
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
            b"NOT A REQUEST LINE\r\n\r\n",
        ]
        for request in cases:
            status, headers, body = _raw(port, request)
            assert status.split()[1] in {"400", "414", "431"}, (status, body)
            assert headers["content-type"] == "application/json", body
            assert headers["x-content-type-options"] == "nosniff"
            answer = json.loads(body)
            assert set(answer) == {"code", "message", "detail", "request_id"}
            assert secret not in body.decode()
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert not (tmp_path / ".gunicorn").exists()
    assert secret not in (tmp_path / "serve.log").read_text()
