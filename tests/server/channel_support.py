"""Shared pieces of the sales-channel tests: connections, signed events, Envato.

``send_event`` signs a body exactly as each store does (with the server's own
``signatures.sign_*`` helpers, which ``test_channels_signatures`` pins against
independently computed values), and ``FakeEnvato`` is a real HTTP server on
loopback answering with the shapes Envato's author sale API documents.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from license_server.channels import signatures
from license_server.extensions import db
from license_server.models import License
from license_server.models.channels import StoreEvent
from tests.conftest import VendorFixture

ADMIN = "/v1/admin/channels"
STRIPE_SECRET = "whsec_test_" + "s" * 24  # noqa: S105 - a test secret


def connect(
    client: FlaskClient, vendor: VendorFixture, kind: str, **fields: Any
) -> dict[str, Any]:
    """Create a store connection; return its JSON (with ``secret`` when made)."""
    body = {"kind": kind, "name": f"{kind} shop", **fields}
    if kind == "stripe":
        body.setdefault("secret", STRIPE_SECRET)
    answer = client.post(f"{ADMIN}/connections", json=body, headers=vendor.headers)
    assert answer.status_code == 201, answer.get_json()
    data: dict[str, Any] = answer.get_json()
    data.setdefault("secret", body.get("secret"))
    return data


def map_product(
    client: FlaskClient,
    vendor: VendorFixture,
    connection: dict[str, Any],
    external_id: str,
    **template: Any,
) -> dict[str, Any]:
    """Map a store id to ``jannah`` with a licence template."""
    body = {"external_id": external_id, "product": "jannah", **template}
    answer = client.post(
        f"{ADMIN}/connections/{connection['id']}/mappings",
        json=body,
        headers=vendor.headers,
    )
    assert answer.status_code == 201, answer.get_json()
    data: dict[str, Any] = answer.get_json()
    return data


def signed_headers(
    kind: str, secret: str, body: bytes, *, at: int | None = None, msg_id: str = ""
) -> dict[str, str]:
    """Return the headers store ``kind`` would send with ``body``."""
    stamp = int(time.time()) if at is None else at
    if kind == "stripe":
        return {"Stripe-Signature": signatures.sign_stripe(secret, body, stamp)}
    if kind == "woocommerce":
        return {
            "X-WC-Webhook-Signature": signatures.sign_woocommerce(secret, body),
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Delivery-ID": str(uuid.uuid4()),
        }
    if kind == "lemonsqueezy":
        return {"X-Signature": signatures.sign_lemonsqueezy(secret, body)}
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signatures.sign_generic(secret, msg_id, body, stamp),
    }


def send_event(
    client: FlaskClient,
    connection: dict[str, Any],
    payload: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    secret: str | None = None,
    at: int | None = None,
    msg_id: str = "",
) -> tuple[int, dict[str, Any]]:
    """POST a signed store event to the connection's inbound URL."""
    body = json.dumps(payload).encode()
    sent = headers
    if sent is None:
        sent = signed_headers(
            connection["kind"],
            secret or connection["secret"],
            body,
            at=at,
            msg_id=msg_id,
        )
    answer = client.post(
        connection["inbound_url"],
        data=body,
        headers={**sent, "Content-Type": "application/json"},
    )
    return answer.status_code, answer.get_json()


def license_count(app: Flask) -> int:
    """Count every licence."""
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(License)) or 0)


def logged(app: Flask) -> list[tuple[str, str | None]]:
    """Return the inbound log's (outcome, reason), oldest first."""
    with app.app_context():
        rows = db.session.execute(
            select(StoreEvent.outcome, StoreEvent.reason).order_by(StoreEvent.id)
        ).all()
    return [(row[0], row[1]) for row in rows]


# --- store payloads, in each store's documented shape ------------------------------


def stripe_checkout(
    price: str = "price_jannah", *, event_id: str = "evt_1", session: str = "cs_1"
) -> dict[str, Any]:
    """A ``checkout.session.completed`` event of a one-off payment."""
    return {
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": session,
                "object": "checkout.session",
                "mode": "payment",
                "payment_status": "paid",
                "payment_intent": f"pi_{session}",
                "subscription": None,
                "customer_details": {"email": "buyer@example.com", "name": "Ann Buyer"},
                "metadata": {"license_sku": price},
            }
        },
    }


def stripe_refund(session: str = "cs_1", *, event_id: str = "evt_r") -> dict[str, Any]:
    """A ``charge.refunded`` event (a full refund)."""
    return {
        "id": event_id,
        "type": "charge.refunded",
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "payment_intent": f"pi_{session}",
                "refunded": True,
                "amount_refunded": 5900,
            }
        },
    }


def woo_order(status: str, order: int = 1001, product: int = 77) -> dict[str, Any]:
    """A WooCommerce order as its webhooks send it."""
    return {
        "id": order,
        "status": status,
        "billing": {
            "first_name": "Ann",
            "last_name": "Buyer",
            "email": "buyer@example.com",
        },
        "line_items": [
            {"id": 5, "product_id": product, "variation_id": 0, "quantity": 1}
        ],
    }


def lemon(
    event: str, data_type: str, object_id: str, **attributes: Any
) -> dict[str, Any]:
    """A Lemon Squeezy webhook body."""
    return {
        "meta": {"event_name": event, "test_mode": True},
        "data": {
            "type": data_type,
            "id": object_id,
            "attributes": {
                "user_email": "buyer@example.com",
                "user_name": "Ann Buyer",
                "updated_at": "2026-12-01T10:00:00.000000Z",
                **attributes,
            },
        },
    }


def lemon_order(order: str = "9001", variant: int = 301) -> dict[str, Any]:
    """An ``order_created`` of a paid order."""
    return lemon(
        "order_created",
        "orders",
        order,
        status="paid",
        first_order_item={"product_id": 30, "variant_id": variant},
    )


def generic_order(order: str = "A-1", sku: str = "jannah-yearly") -> dict[str, Any]:
    """An ``order.paid`` of the generic form."""
    return {
        "type": "order.paid",
        "data": {
            "order_id": order,
            "customer": {"email": "buyer@example.com", "name": "Ann Buyer"},
            "items": [{"product": sku, "quantity": 1}],
        },
    }


# --- Envato's author sale API ------------------------------------------------------


def envato_sale(
    item_id: int = 2819356, license: str = "Regular License", **changes: Any
) -> dict[str, Any]:
    """The 200 answer of ``GET /v3/market/author/sale`` (Envato's documented shape)."""
    sale: dict[str, Any] = {
        "amount": "59.00",
        "sold_at": "2026-11-20T10:54:28+11:00",
        "license": license,
        "support_amount": "0.00",
        "supported_until": "2027-05-20T01:54:28+11:00",
        "item": {
            "id": item_id,
            "name": "Jannah - Newspaper Magazine News BuddyPress AMP",
            "author_username": "TieLabs",
        },
        "buyer": "themebuyer",
        "purchase_count": 1,
    }
    sale.update(changes)
    return sale


NOT_FOUND = {
    "error": 404,
    "description": "No sale belonging to the current user found with that code",
}


@dataclass
class FakeEnvato:
    """Envato's API on loopback: ``answers[code]`` is (status, body, headers)."""

    token: str = "envato-personal-token-TEST"  # noqa: S105 - a test token
    answers: dict[str, tuple[int, Any, dict[str, str]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, authorization: str) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(path)
        code = parse_qs(parts.query).get("code", [""])[0]
        self.requests.append((code, authorization))
        if parts.path != "/v3/market/author/sale":
            return 404, {"error": 404, "description": "no such route"}, {}
        if authorization != f"Bearer {self.token}":
            return 403, {"error": 403, "description": "Forbidden"}, {}
        return self.answers.get(code, (404, NOT_FOUND, {}))

    def stop(self) -> None:
        """Stop answering (Envato down: connections are refused)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@contextmanager
def fake_envato() -> Iterator[FakeEnvato]:
    """Run a :class:`FakeEnvato` on a free loopback port."""
    fake = FakeEnvato()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            status, body, headers = fake.answer(
                self.path, self.headers.get("Authorization", "")
            )
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            return None

    fake.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        fake.stop()
        thread.join(5)


def utc(text: str) -> datetime:
    """Parse an ISO time as aware UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)
