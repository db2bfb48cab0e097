"""Verify a license-server webhook (Standard Webhooks, v1a and v1).

Needs ``cryptography`` for v1a and ``standardwebhooks`` for v1. Pass the raw body
bytes exactly as received, and the request headers.
"""

import base64
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

TOLERANCE = 300  # seconds: refuse replays of old messages


def webhook_keys(jwks: dict) -> list[Ed25519PublicKey]:
    """Load the webhook keys from the vendor's JWKS (kids starting 'webhook-')."""
    keys = []
    for jwk in jwks["keys"]:
        if jwk.get("kid", "").startswith("webhook-") and jwk.get("crv") == "Ed25519":
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            keys.append(Ed25519PublicKey.from_public_bytes(raw))
    return keys


def verify_v1a(body: bytes, headers: dict, keys: list[Ed25519PublicKey]) -> dict:
    """Return the event if one v1a signature verifies with one key; else raise."""
    headers = {name.lower(): value for name, value in headers.items()}
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        raise WebhookVerificationError("timestamp out of tolerance")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for item in headers["webhook-signature"].split():
        version, _, signature = item.partition(",")
        if version != "v1a":
            continue
        for key in keys:
            try:
                key.verify(base64.b64decode(signature), signed)
            except (InvalidSignature, ValueError):
                continue
            return json.loads(body)
    raise WebhookVerificationError("no valid v1a signature")


def verify_v1(body: bytes, headers: dict, secret: str) -> dict:
    """Return the event if a v1 (HMAC) signature verifies with ``secret``."""
    return Webhook(secret).verify(body, headers)


class Deduplicator:
    """Remember webhook-ids: a retried message is acknowledged, not processed twice."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def first_time(self, headers: dict) -> bool:
        """Tell whether this webhook-id is new (and remember it)."""
        msg_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        if msg_id in self.seen:
            return False
        self.seen.add(msg_id)
        return True
