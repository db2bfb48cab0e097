"""Pinned vendor public keys: the only keys a client ever trusts (PROTOCOL §1).

Keys are embedded in the theme's code and never fetched at verify time. Accepted
forms, alone or in a list:

* a public JWK dict (``kty`` OKP, ``crv`` Ed25519), e.g. the line
  ``license-server vendors create`` prints;
* a JWKS dict ``{"keys": [...]}``, or the whole ``vendors create --json`` output
  (``{"public_keys": [...]}``);
* a PEM ``-----BEGIN PUBLIC KEY-----`` block (str or bytes);
* a JSON string of any of the dict forms.

A key's id is its JWK ``kid`` when given, else its RFC 7638 thumbprint (which is
what the server uses). Private JWKs are refused: a theme must never embed one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from license_client.exceptions import PublicKeyInvalid

__all__ = ["KeySource", "PinnedKeys", "jwk_thumbprint", "load_public_keys"]

PinnedKeys: TypeAlias = Mapping[str, Ed25519PublicKey]
KeySource: TypeAlias = (
    Mapping[str, Any] | str | bytes | Ed25519PublicKey | Iterable[Any]
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def jwk_thumbprint(key: Ed25519PublicKey) -> str:
    """Return the RFC 7638 JWK thumbprint of an Ed25519 public key."""
    x = _b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
    members = f'{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}'
    return _b64url(hashlib.sha256(members.encode("ascii")).digest())


def load_public_keys(source: KeySource) -> dict[str, Ed25519PublicKey]:
    """Load pinned keys from any accepted form into a ``{kid: key}`` mapping."""
    keys: dict[str, Ed25519PublicKey] = {}
    if isinstance(source, Mapping) and _already_loaded(source):
        return dict(source)
    _collect(source, keys, depth=0)
    if not keys:
        raise PublicKeyInvalid("no public key given: pin at least one vendor key")
    return keys


def _already_loaded(source: Mapping[Any, Any]) -> bool:
    return bool(source) and all(
        isinstance(kid, str) and isinstance(key, Ed25519PublicKey)
        for kid, key in source.items()
    )


def _collect(source: Any, keys: dict[str, Ed25519PublicKey], depth: int) -> None:
    if depth > 3:
        raise PublicKeyInvalid("public keys are nested too deeply")
    if isinstance(source, Ed25519PublicKey):
        keys[jwk_thumbprint(source)] = source
    elif isinstance(source, bytes | str):
        _collect_text(source, keys, depth)
    elif isinstance(source, Mapping):
        if "api_key" in source:
            raise PublicKeyInvalid(
                "that holds the vendor's admin API key: embed only 'public_keys'"
            )
        if "keys" in source or "public_keys" in source:
            members = source.get("keys", source.get("public_keys"))
            if not isinstance(members, list):
                raise PublicKeyInvalid("'keys' must be a list of JWKs")
            _collect(members, keys, depth + 1)
        else:
            kid, key = _from_jwk(source)
            keys[kid] = key
    elif isinstance(source, Iterable):
        for item in source:
            _collect(item, keys, depth + 1)
    else:
        raise PublicKeyInvalid(f"unsupported public key form: {type(source).__name__}")


def _collect_text(
    source: str | bytes, keys: dict[str, Ed25519PublicKey], depth: int
) -> None:
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnicodeError) as exc:
            raise PublicKeyInvalid(f"unreadable PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise PublicKeyInvalid("only Ed25519 public keys can be pinned")
        keys[jwk_thumbprint(key)] = key
        return
    try:
        parsed = json.loads(text)
    except ValueError:
        raise PublicKeyInvalid("a key must be a JWK, a JWKS or a PEM block") from None
    if not isinstance(parsed, dict | list):
        raise PublicKeyInvalid("a key must be a JWK, a JWKS or a PEM block")
    _collect(parsed, keys, depth + 1)


def _from_jwk(jwk: Mapping[str, Any]) -> tuple[str, Ed25519PublicKey]:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise PublicKeyInvalid("only OKP/Ed25519 JWKs can be pinned")
    if "d" in jwk:
        raise PublicKeyInvalid("that JWK holds a private key: embed the public key")
    if jwk.get("alg", "EdDSA") != "EdDSA" or jwk.get("use", "sig") != "sig":
        raise PublicKeyInvalid("a pinned JWK must be for EdDSA signatures")
    x = jwk.get("x")
    try:
        raw = base64.urlsafe_b64decode(str(x) + "=" * (-len(str(x)) % 4))
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise PublicKeyInvalid("the JWK's 'x' is not a 32-byte Ed25519 key") from None
    kid = jwk.get("kid") or jwk_thumbprint(key)
    if not isinstance(kid, str):
        raise PublicKeyInvalid("a JWK's 'kid' must be a string")
    return kid, key
