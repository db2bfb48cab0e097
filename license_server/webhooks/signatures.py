"""Standard Webhooks headers: ``v1`` (HMAC-SHA256) and ``v1a`` (Ed25519).

Both sign ``{webhook-id}.{webhook-timestamp}.{body}``. ``v1`` uses the
``standardwebhooks`` package with the endpoint's secret (``whsec_`` + base64);
``v1a`` signs with the vendor's webhook key, whose public half is in the vendor's
JWKS (``kid`` starting ``webhook-``), so a receiver needs no shared secret. During
a rotation every still-valid secret or key signs: the header carries each
signature, space-separated, and a receiver accepts any one it can verify.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from standardwebhooks.webhooks import Webhook

from license_server.keyring import Keyring
from license_server.signing import jwk_thumbprint, public_jwk

KID_PREFIX = "webhook-"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


@dataclass(frozen=True)
class NewWebhookKey:
    """A fresh Ed25519 webhook key pair, its private half sealed."""

    kid: str
    public_bytes: bytes
    private_sealed: bytes


def generate_key(keyring: Keyring) -> NewWebhookKey:
    """Generate a vendor webhook key, sealed like the token signing keys."""
    private = Ed25519PrivateKey.generate()
    public_bytes = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = KID_PREFIX + jwk_thumbprint(public_bytes)
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return NewWebhookKey(kid, public_bytes, keyring.seal_signing_key(raw, kid))


def open_key(keyring: Keyring, kid: str, sealed: bytes) -> Ed25519PrivateKey:
    """Open a sealed webhook private key."""
    return Ed25519PrivateKey.from_private_bytes(keyring.open_signing_key(sealed, kid))


def jwk(kid: str, public_bytes: bytes) -> dict[str, str]:
    """Return the public JWK of a webhook key."""
    return public_jwk(kid, public_bytes)


def new_secret() -> str:
    """Return a fresh ``v1`` endpoint secret: ``whsec_`` and 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_content(msg_id: str, timestamp: int, body: str) -> bytes:
    """Return the bytes both schemes sign."""
    return f"{msg_id}.{timestamp}.{body}".encode()


def sign_v1(secret: str, msg_id: str, moment: datetime, body: str) -> str:
    """Return a ``v1,<base64>`` HMAC signature (standardwebhooks)."""
    return Webhook(secret).sign(msg_id=msg_id, timestamp=moment, data=body)


def sign_v1a(key: Ed25519PrivateKey, msg_id: str, moment: datetime, body: str) -> str:
    """Return a ``v1a,<base64>`` Ed25519 signature."""
    signature = key.sign(signed_content(msg_id, int(moment.timestamp()), body))
    return "v1a," + base64.b64encode(signature).decode()


def headers(
    *,
    msg_id: str,
    moment: datetime,
    body: str,
    secrets_: Iterable[str] = (),
    keys: Iterable[Ed25519PrivateKey] = (),
) -> dict[str, str]:
    """Return the three Standard Webhooks headers, one signature per secret/key."""
    signatures = [sign_v1a(key, msg_id, moment, body) for key in keys]
    signatures += [sign_v1(secret, msg_id, moment, body) for secret in secrets_]
    if not signatures:
        raise ValueError("a webhook needs at least one signature")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
