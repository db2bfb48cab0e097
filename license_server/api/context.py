"""What routes hand to services: the keyring, the signer, the clock, the caller."""

from __future__ import annotations

import atexit
import uuid
import weakref
from datetime import UTC, datetime

from flask import Flask, current_app, g

from license_server.keyring import Keyring
from license_server.models import ApiKey
from license_server.signing import SignerCache
from license_server.usage import UsageBuffer


def keyring() -> Keyring:
    """Return the app's keyring."""
    ring: Keyring = current_app.extensions["keyring"]
    return ring


def signer() -> SignerCache:
    """Return the app's per-process cache of opened signing keys."""
    cache: SignerCache | None = current_app.extensions.get("signer")
    if cache is None:
        cache = current_app.extensions["signer"] = SignerCache(keyring())
    return cache


def now() -> datetime:
    """Return the current time, aware UTC."""
    return datetime.now(UTC)


def api_key() -> ApiKey:
    """Return the authenticated admin API key of this request."""
    key: ApiKey = g.api_key
    return key


def actor() -> str:
    """Return the event actor for this admin request."""
    return f"api_key:{api_key().id}"


def count_validation(vendor_id: uuid.UUID, product_id: uuid.UUID) -> None:
    """Count a validation for the stats; write the counts when a flush is due."""
    buffer: UsageBuffer | None = current_app.extensions.get("usage")
    if buffer is None:
        buffer = current_app.extensions["usage"] = UsageBuffer(
            current_app.config["USAGE_FLUSH_INTERVAL"]
        )
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        atexit.register(_flush_at_exit, weakref.ref(app), buffer)
    buffer.add(vendor_id, product_id, now().date())
    if buffer.due():
        buffer.flush()


def _flush_at_exit(app_ref: weakref.ref[Flask], buffer: UsageBuffer) -> None:
    app = app_ref()
    if app is not None:
        with app.app_context():
            buffer.flush()
