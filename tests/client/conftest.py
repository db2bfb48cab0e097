"""Fixtures for the client tests: transports into the real app, a live port, clocks.

The server side is always the real app of ``tests/conftest.py`` (``app``, ``client``,
``vendor``, ...), on SQLite and PostgreSQL. ``FakeServer`` is only for the hostile
and clock tests, where answers must be forged or timed exactly; it signs with the
test-only key of ``tests/vectors/token.json``.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from license_client import (
    ClientConfig,
    LicenseClient,
    MemoryStore,
    Request,
    Response,
    Store,
    Transport,
    TransportFailed,
)
from tests.conftest import VendorFixture

VECTORS = Path(__file__).parent.parent / "vectors"
TOKEN_VECTOR: dict[str, Any] = json.loads(
    (VECTORS / "token.json").read_text(encoding="utf-8")
)
TEST_SEED = TOKEN_VECTOR["private_key_TEST_ONLY"]["seed_b64url"]
TEST_KEY = Ed25519PrivateKey.from_private_bytes(
    base64.urlsafe_b64decode(TEST_SEED + "=" * (-len(TEST_SEED) % 4))
)
TEST_JWK: dict[str, str] = TOKEN_VECTOR["public_jwk"]
TEST_KID: str = TOKEN_VECTOR["kid"]
SETTINGS_URL = "/admin/theme-options"


class ManualClock:
    """A clock tests move by hand; starts at the real time (whole seconds)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    @property
    def ts(self) -> int:
        return int(self.now.timestamp())


class FlaskTransport:
    """Forward requests to the real app in-process; ``down`` simulates an outage."""

    def __init__(self, app: Flask) -> None:
        self.http = app.test_client()
        self.down = False
        self.sent: list[Request] = []

    def send(self, request: Request, *, timeout: float) -> Response:
        self.sent.append(request)
        if self.down:
            raise TransportFailed("connection refused (simulated outage)")
        path = urllib.parse.urlsplit(request.url).path
        answer = self.http.open(
            path,
            method=request.method,
            data=request.body,
            headers=dict(request.headers),
        )
        return Response(answer.status_code, answer.get_data(), dict(answer.headers))


def sign_token(
    claims: dict[str, Any],
    *,
    key: Ed25519PrivateKey = TEST_KEY,
    kid: str = TEST_KID,
    typ: str = "license+jwt",
) -> str:
    """Sign claims as the protocol's EdDSA JWT (test key by default)."""
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid, "typ": typ})


@dataclass
class FakeServer:
    """A scripted license server signing with the test key; tests swap ``handler``."""

    clock: ManualClock
    issuer: str = "acme-themes"
    product: str = "jannah"
    ttl: int = 3600
    grace: int = 7200
    code: str = "VALID"
    requests: list[dict[str, Any]] = field(default_factory=list)
    handler: Callable[[dict[str, Any]], Response] | None = None

    def send(self, request: Request, *, timeout: float) -> Response:
        body = json.loads(request.body)
        body["_path"] = urllib.parse.urlsplit(request.url).path
        self.requests.append(body)
        return (self.handler or self.honest)(body)

    def claims(self, body: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """Return the claims an honest server would sign for ``body``."""
        iat = self.clock.ts
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.product,
            "dom": body["domain"],
            "valid": self.code == "VALID",
            "code": self.code,
            "iat": iat,
            "exp": iat + self.ttl,
            "grace": self.grace,
            "sub": "5f0c1a2e-8d7b-4c39-9a61-3e2f4b5c6d7e",
            "lic": {
                "status": "active",
                "expires_at": None,
                "updates_until": None,
                "max_domains": 1,
                "active_domains": 1,
            },
        }
        if body.get("nonce") is not None:
            claims["nonce"] = body["nonce"]
        claims.update(changes)
        return claims

    def answer(self, body: dict[str, Any], token: str, status: int = 200) -> Response:
        """Return a protocol-shaped JSON answer carrying ``token``."""
        payload = {
            "valid": self.code == "VALID",
            "code": self.code,
            "domain": body.get("domain"),
            "nonce": body.get("nonce"),
            "token": token,
        }
        return Response(status, json.dumps(payload).encode(), {})

    def honest(self, body: dict[str, Any]) -> Response:
        if body["_path"] == "/v1/deactivate":
            return Response(200, b'{"deactivated": true}', {})
        return self.answer(body, sign_token(self.claims(body)))


def fake_client(
    server: FakeServer,
    *,
    domain: str = "shop.example.com",
    store: Store | None = None,
    server_url: str = "https://licenses.invalid",
    transport: Transport | None = None,
    **options: Any,
) -> LicenseClient:
    """Return a client pinned to the test key, talking to ``server``."""
    settings: dict[str, Any] = {
        "server_url": server_url,
        "issuer": server.issuer,
        "product": server.product,
        "product_name": "Jannah",
        "public_keys": TEST_JWK,
        "domain": domain,
        "settings_url": SETTINGS_URL,
        "store": store if store is not None else MemoryStore(),
        "transport": transport or server,
        "clock": server.clock,
    }
    settings.update(options)
    return LicenseClient(ClientConfig(**settings))


def real_client(
    vendor: VendorFixture,
    transport: Transport,
    *,
    domain: str,
    server_url: str = "http://license-server.invalid",
    store: Store | None = None,
    issuer: str | None = None,
    product: str = "jannah",
    **options: Any,
) -> LicenseClient:
    """Return a client pinned to ``vendor``'s keys, talking to the real app."""
    config = ClientConfig(
        server_url=server_url,
        issuer=issuer or vendor.new.vendor.issuer,
        product=product,
        product_name="Jannah",
        public_keys=vendor.new.public_keys,
        domain=domain,
        settings_url=SETTINGS_URL,
        store=store if store is not None else MemoryStore(),
        transport=transport,
        **options,
    )
    return LicenseClient(config)


@dataclass
class LiveServer:
    """The real app served on a real local port by werkzeug."""

    server: BaseWSGIServer
    thread: threading.Thread
    stopped: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)


def serve(app: Any) -> LiveServer:
    """Serve a WSGI app on 127.0.0.1 (a free port) in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return LiveServer(server, thread)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test app on a real local port."""
    running = serve(app)
    yield running
    running.stop()


@pytest.fixture
def clock() -> ManualClock:
    """A hand-moved clock starting now."""
    return ManualClock()


@pytest.fixture
def fake_server(clock: ManualClock) -> FakeServer:
    """A scripted server signing with the test key."""
    return FakeServer(clock)
