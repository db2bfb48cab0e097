"""What routes hand to services: the keyring, the signer, the clock, the caller."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, g

from license_server.keyring import Keyring
from license_server.models import ApiKey
from license_server.signing import SignerCache


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
