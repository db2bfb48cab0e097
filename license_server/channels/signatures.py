"""Each store's webhook signature, checked exactly as that store makes it.

- **Stripe** ``Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]``: HMAC-SHA256
  with the endpoint's secret (``whsec_...``, used as it is) over ``"<t>." + body``;
  any one ``v1`` may match (Stripe sends several while a secret rolls), and ``t``
  must be within :data:`TOLERANCE` of the server's time.
- **WooCommerce** ``X-WC-Webhook-Signature``: base64 of HMAC-SHA256 over the raw
  body with the webhook's secret.
- **Lemon Squeezy** ``X-Signature``: hex HMAC-SHA256 over the raw body with the
  webhook's signing secret.
- **Generic** (any other store; docs/CHANNELS.md): Standard Webhooks v1,
  ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64>``
  (several, space-separated) over ``"<id>.<timestamp>." + body`` with the base64 key
  of a ``whsec_`` secret; the timestamp within :data:`TOLERANCE`.

Every comparison is constant-time. A failure raises :class:`SignatureInvalid` or
:class:`SignatureExpired`; the message says what was wrong, never a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from license_server.channels.errors import SignatureExpired, SignatureInvalid
from license_server.models.channels import StoreKind

TOLERANCE = 300  # seconds between a signed timestamp and the server's clock
GENERIC_PREFIX = "whsec_"


def _mac(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def _any_equal(expected: bytes, offered: list[bytes]) -> bool:
    found = False
    for candidate in offered:  # no early exit: every candidate is compared
        found |= hmac.compare_digest(expected, candidate)
    return found


def _timestamp(text: str | None) -> int:
    if text is None or not text.strip().isdigit():
        raise SignatureInvalid("The signature's timestamp is missing or not a number.")
    return int(text.strip())


def _fresh(timestamp: int, now: datetime) -> None:
    if abs(now.timestamp() - timestamp) > TOLERANCE:
        raise SignatureExpired(
            detail={"tolerance_seconds": TOLERANCE, "timestamp": timestamp}
        )


def _unhex(text: str) -> bytes | None:
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _unbase64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_stripe(secret: str, header: str | None, body: bytes, now: datetime) -> None:
    """Check a ``Stripe-Signature`` header."""
    if not header:
        raise SignatureInvalid("The Stripe-Signature header is missing.")
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for name, value in parts if name.strip() == "t"]
    offered = [_unhex(value.strip()) for name, value in parts if name.strip() == "v1"]
    signatures = [found for found in offered if found is not None]
    if len(stamps) != 1 or not signatures:
        raise SignatureInvalid("The Stripe-Signature header has no t= and v1= parts.")
    timestamp = _timestamp(stamps[0])
    expected = _mac(secret.encode(), f"{timestamp}.".encode() + body)
    if not _any_equal(expected, signatures):
        raise SignatureInvalid()
    _fresh(timestamp, now)


def verify_woocommerce(secret: str, header: str | None, body: bytes) -> None:
    """Check an ``X-WC-Webhook-Signature`` header."""
    offered = _unbase64(header) if header else None
    if offered is None:
        raise SignatureInvalid("The X-WC-Webhook-Signature header is missing.")
    if not _any_equal(_mac(secret.encode(), body), [offered]):
        raise SignatureInvalid()


def verify_lemonsqueezy(secret: str, header: str | None, body: bytes) -> None:
    """Check an ``X-Signature`` header."""
    offered = _unhex(header.strip()) if header else None
    if offered is None:
        raise SignatureInvalid("The X-Signature header is missing.")
    if not _any_equal(_mac(secret.encode(), body), [offered]):
        raise SignatureInvalid()


def generic_key(secret: str) -> bytes:
    """Return the HMAC key of a ``whsec_`` secret (Standard Webhooks)."""
    raw = _unbase64(secret.removeprefix(GENERIC_PREFIX))
    if not raw:
        raise ValueError("a generic secret is whsec_ and base64")
    return raw


def verify_generic(
    secret: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> str:
    """Check Standard Webhooks v1 headers; return the ``webhook-id``."""
    msg_id = headers.get("webhook-id", "")
    signature = headers.get("webhook-signature", "")
    if not msg_id or not signature:
        raise SignatureInvalid("The webhook-id or webhook-signature header is missing.")
    timestamp = _timestamp(headers.get("webhook-timestamp"))
    offered = []
    for item in signature.split():
        version, _, value = item.partition(",")
        decoded = _unbase64(value) if version == "v1" else None
        if decoded is not None:
            offered.append(decoded)
    content = f"{msg_id}.{timestamp}.".encode() + body
    if not offered or not _any_equal(_mac(generic_key(secret), content), offered):
        raise SignatureInvalid()
    _fresh(timestamp, now)
    return msg_id


def verify(
    kind: str, secret: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> None:
    """Check an inbound request's signature the way store ``kind`` signs."""
    if kind == StoreKind.STRIPE:
        verify_stripe(secret, headers.get("stripe-signature"), body, now)
    elif kind == StoreKind.WOOCOMMERCE:
        verify_woocommerce(secret, headers.get("x-wc-webhook-signature"), body)
    elif kind == StoreKind.LEMONSQUEEZY:
        verify_lemonsqueezy(secret, headers.get("x-signature"), body)
    else:
        verify_generic(secret, headers, body, now)


# --- signing, for tests and for the documentation's examples -------------------------


def sign_stripe(secret: str, body: bytes, timestamp: int) -> str:
    """Return a ``Stripe-Signature`` header value for ``body``."""
    mac = _mac(secret.encode(), f"{timestamp}.".encode() + body).hex()
    return f"t={timestamp},v1={mac}"


def sign_woocommerce(secret: str, body: bytes) -> str:
    """Return an ``X-WC-Webhook-Signature`` header value for ``body``."""
    return base64.b64encode(_mac(secret.encode(), body)).decode()


def sign_lemonsqueezy(secret: str, body: bytes) -> str:
    """Return an ``X-Signature`` header value for ``body``."""
    return _mac(secret.encode(), body).hex()


def sign_generic(secret: str, msg_id: str, body: bytes, timestamp: int) -> str:
    """Return a ``webhook-signature`` header value (``v1,<base64>``) for ``body``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(_mac(generic_key(secret), content)).decode()
