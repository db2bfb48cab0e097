"""What routes hand to services: the app's runtime, the clock, the caller."""

from __future__ import annotations

from datetime import datetime

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
