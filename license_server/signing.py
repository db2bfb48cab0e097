"""Ed25519 signing keys and EdDSA domain tokens (PROTOCOL §1).

Private keys are kept sealed (AES-GCM, see :mod:`license_server.keyring`) and opened
at most once per process per key id: :class:`SignerCache` holds the opened keys.
Tokens are JWTs with header ``{"alg": "EdDSA", "typ": "license+jwt", "kid": ...}``.
Verification accepts EdDSA only and raises :class:`TokenInvalid` on any failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from license_server.keyring import Keyring

TOKEN_TYPE = "license+jwt"  # noqa: S105 - a JWT typ, not a secret
ALGORITHM = "EdDSA"
MAX_CLOCK_SKEW = 300
REQUIRED_CLAIMS = ["iss", "aud", "dom", "valid", "code", "iat", "exp"]


class TokenInvalid(Exception):
    """A token failed verification; the message says which check."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(public_bytes: bytes) -> str:
    """Return the RFC 7638 thumbprint of an Ed25519 public key, used as its ``kid``."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(public_bytes)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def public_jwk(kid: str, public_bytes: bytes) -> dict[str, str]:
    """Return the public JWK (OKP/Ed25519) for a key."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(public_bytes),
        "kid": kid,
        "alg": ALGORITHM,
        "use": "sig",
    }


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """Load an Ed25519 public key from a JWK, refusing any other kind."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise TokenInvalid("only OKP/Ed25519 keys are accepted")
    return Ed25519PublicKey.from_public_bytes(_b64url_decode(str(jwk["x"])))


@dataclass(frozen=True)
class NewSigningKey:
    """A freshly generated key pair, its private half already sealed."""

    kid: str
    public_bytes: bytes
    private_sealed: bytes


def generate_signing_key(keyring: Keyring) -> NewSigningKey:
    """Generate an Ed25519 key pair and seal its private half."""
    private = Ed25519PrivateKey.generate()
    public_bytes = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = jwk_thumbprint(public_bytes)
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return NewSigningKey(kid, public_bytes, keyring.seal_signing_key(raw, kid))


def header_segment(kid: str) -> str:
    """Return the token's encoded header for ``kid``.

    The bytes are PyJWT's for the same header (keys sorted, compact separators),
    so a token signed here is the JWT PyJWT would make (known-answer tests).
    """
    header = {"alg": ALGORITHM, "kid": kid, "typ": TOKEN_TYPE}
    return _b64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


def _payload_segment(claims: Mapping[str, Any]) -> str:
    # PyJWT's payload encoding: compact, insertion order, ASCII-escaped
    return _b64url(json.dumps(claims, separators=(",", ":")).encode())


@dataclass(frozen=True)
class OpenKey:
    """An opened private key with its token header already encoded."""

    kid: str
    private: Ed25519PrivateKey
    header: str

    def token(self, claims: Mapping[str, Any]) -> str:
        """Sign ``claims`` as an EdDSA JWT with the protocol's header."""
        signing_input = f"{self.header}.{_payload_segment(claims)}"
        signature = self.private.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{_b64url(signature)}"


class SignerCache:
    """Opened private keys by ``kid``: each key is decrypted once per process."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._keys: dict[str, OpenKey] = {}
        self._lock = threading.Lock()

    def open(self, kid: str, sealed: bytes) -> OpenKey:
        """Return the opened key for ``kid``, opening it on first use."""
        key = self._keys.get(kid)
        if key is None:
            raw = self._keyring.open_signing_key(sealed, kid)
            private = Ed25519PrivateKey.from_private_bytes(raw)
            key = OpenKey(kid, private, header_segment(kid))
            with self._lock:
                self._keys[kid] = key
        return key

    def private_key(self, kid: str, sealed: bytes) -> Ed25519PrivateKey:
        """Return the opened private key for ``kid``, opening it on first use."""
        return self.open(kid, sealed).private


def issue_token(
    private_key: Ed25519PrivateKey, kid: str, claims: Mapping[str, Any]
) -> str:
    """Sign ``claims`` as an EdDSA JWT with the protocol's header."""
    return OpenKey(kid, private_key, header_segment(kid)).token(claims)


def verify_token(
    token: str,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    issuer: str,
    audience: str,
    domain: str,
    now: datetime,
    nonce: str | None = None,
) -> dict[str, Any]:
    """Verify a domain token against pinned keys; raise :class:`TokenInvalid`."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenInvalid(f"malformed token: {exc}") from exc
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
        raise TokenInvalid("wrong alg or typ")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise TokenInvalid("unknown kid")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={"require": REQUIRED_CLAIMS, "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenInvalid(str(exc)) from exc
    _check_claims(claims, domain=domain, now=now, nonce=nonce)
    return claims


def _check_claims(
    claims: Mapping[str, Any], *, domain: str, now: datetime, nonce: str | None
) -> None:
    if claims.get("dom") != domain:
        raise TokenInvalid("token is for another domain")
    if nonce is not None and claims.get("nonce") != nonce:
        raise TokenInvalid("nonce mismatch")
    timestamp = now.timestamp()
    if int(claims["iat"]) > timestamp + MAX_CLOCK_SKEW:
        raise TokenInvalid("token issued in the future")
    if timestamp > int(claims["exp"]) + int(claims.get("grace", 0)):
        raise TokenInvalid("token expired")
