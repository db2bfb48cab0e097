"""What routes hand to services: the app's runtime, the clock, the caller."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import current_app, g

from license_server import runtime as runtimes
from license_server.keyring import Keyring
from license_server.models import ApiKey
from license_server.runtime import Runtime
from license_server.signing import SignerCache


def runtime() -> Runtime:
    """Return the current app's runtime."""
    return runtimes.of(current_app)


def keyring() -> Keyring:
    """Return the app's keyring."""
    return runtime().keyring


def signer() -> SignerCache:
    """Return the app's opened signing keys."""
    return runtime().signer


def now() -> datetime:
    """Return the current time, aware UTC (the runtime's clock)."""
    return runtime().now()


def api_key() -> ApiKey:
    """Return the authenticated admin API key of this request."""
    key: ApiKey = g.api_key
    return key


def actor() -> str:
    """Return the event actor for this admin request."""
    return f"api_key:{api_key().id}"


def vendor_id() -> uuid.UUID:
    """Return the vendor of this admin request's API key."""
    return api_key().vendor_id


def scoped() -> dict[str, Any]:
    """The keyword arguments every admin write service takes."""
    return {
        "keyring": keyring(),
        "vendor_id": vendor_id(),
        "actor": actor(),
        "now": now(),
    }
