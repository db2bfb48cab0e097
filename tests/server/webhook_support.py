"""Shared pieces of the webhook tests: a real receiver on loopback, a clock, apps."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import VendorFixture, make_app

EXAMPLE = Path(__file__).parents[2] / "examples" / "webhooks" / "receiver.py"
WEBHOOK_CONFIG = {
    "WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
}


def receiver_example() -> ModuleType:
    """Import examples/webhooks/receiver.py, the snippet docs/WEBHOOKS.md shows."""
    spec = importlib.util.spec_from_file_location("webhook_receiver", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def webhook_app(database_url: str, instance: Path, **extra: Any) -> Flask:
    """An app whose webhooks may go to loopback over http (tests only)."""
    return make_app(database_url, instance, **WEBHOOK_CONFIG, **extra)


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    path: str

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Reply:
    """What the receiver answers to one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records every POST.

    ``by_path`` answers per path; else ``replies`` are used in order, then
    ``default``. ``on_request`` runs before
    the reply (e.g. to verify signatures). In-flight requests are counted.
    """

    def __init__(self, default: Reply | None = None) -> None:
        self.requests: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.default = default or Reply()
        self.by_path: dict[str, Reply] = {}
        self.on_request: Callable[[Received], None] | None = None
        self.arrived = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, each test
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                got = Received(
                    dict(self.headers.items()), self.rfile.read(length), self.path
                )
                with receiver.lock:
                    receiver.requests.append(got)
                    reply = receiver.by_path.get(self.path) or (
                        receiver.replies.popleft()
                        if receiver.replies
                        else receiver.default
                    )
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(
                        receiver.max_in_flight, receiver.in_flight
                    )
                receiver.arrived.set()
                try:
                    if receiver.on_request is not None:
                        receiver.on_request(got)
                    if reply.delay:
                        time.sleep(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker was killed or gave up: nothing to answer
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        return Handler

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        """Return the webhook-id of every request, in arrival order."""
        with self.lock:
            return [r.headers["webhook-id"] for r in self.requests]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def add_endpoint(
    client: FlaskClient, vendor: VendorFixture, url: str, **fields: Any
) -> dict[str, Any]:
    """Register a webhook endpoint through the admin API; return its JSON."""
    body = {"url": url, "event_types": ["*"], **fields}
    response = client.post(
        "/v1/admin/webhooks/endpoints", json=body, headers=vendor.headers
    )
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until ``predicate()`` is true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def no_jitter(_low: float, _high: float) -> float:
    """A jitter source that adds none, so the schedule is exact."""
    return 0.0


__all__ = ["Iterator"]
