"""The verifier raises the right typed error for each broken rule; pinning forms."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from license_client import (
    AlgorithmRefused,
    ClaimMismatch,
    KeyUnknown,
    PublicKeyInvalid,
    SignatureInvalid,
    TokenExpired,
    TokenFromFuture,
    TokenInvalid,
    TokenMalformed,
    TokenVerifier,
    jwk_thumbprint,
    load_public_keys,
)
from tests.client.conftest import TEST_JWK, TEST_KEY, TEST_KID, sign_token

NOW = 1_767_225_600
CLAIMS: dict[str, Any] = {
    "iss": "acme-themes",
    "aud": "jannah",
    "dom": "shop.example.com",
    "valid": True,
    "code": "VALID",
    "iat": NOW,
    "exp": NOW + 3600,
    "grace": 7200,
    "nonce": "n-1",
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(header: dict[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode())
    return f"{head}.{b64(json.dumps(CLAIMS).encode())}.{b64(signature)}"


def hs256(secret: bytes) -> str:
    head = b64(
        json.dumps({"alg": "HS256", "typ": "license+jwt", "kid": TEST_KID}).encode()
    )
    body = b64(json.dumps(CLAIMS).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def verify(token: str, now: int = NOW, nonce: str | None = "n-1") -> Any:
    verifier = TokenVerifier(
        load_public_keys(TEST_JWK),
        issuer="acme-themes",
        audience="jannah",
        domain="shop.example.com",
    )
    return verifier.verify(token, now=datetime.fromtimestamp(now, UTC), nonce=nonce)


OTHER = Ed25519PrivateKey.generate()
RAW_PUBLIC = TEST_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (
            unsigned({"alg": "none", "typ": "license+jwt", "kid": TEST_KID}),
            AlgorithmRefused,
        ),
        (unsigned({"typ": "license+jwt", "kid": TEST_KID}, b"x"), AlgorithmRefused),
        (hs256(RAW_PUBLIC), AlgorithmRefused),
        (hs256(json.dumps(TEST_JWK).encode()), AlgorithmRefused),
        (sign_token(CLAIMS, typ="JWT"), ClaimMismatch),
        (
            sign_token(CLAIMS, key=OTHER, kid=jwk_thumbprint(OTHER.public_key())),
            KeyUnknown,
        ),
        (sign_token(CLAIMS, key=OTHER), SignatureInvalid),
        (sign_token({**CLAIMS, "dom": "evil.com"}), ClaimMismatch),
        (sign_token({**CLAIMS, "aud": ["jannah", "x"]}), ClaimMismatch),
        (sign_token({**CLAIMS, "iss": "other"}), ClaimMismatch),
        (sign_token({**CLAIMS, "nonce": "n-0"}), ClaimMismatch),
        (sign_token({**CLAIMS, "iat": NOW + 301}), TokenFromFuture),
        (sign_token({**CLAIMS, "exp": NOW - 7201}), TokenExpired),
        (sign_token({**CLAIMS, "grace": -5}), TokenMalformed),
        (sign_token({**CLAIMS, "iat": True}), TokenMalformed),
        (sign_token({k: v for k, v in CLAIMS.items() if k != "dom"}), TokenMalformed),
        (sign_token({**CLAIMS, "lic": "active"}), TokenMalformed),
        ("not-a-token", TokenMalformed),
        ("", TokenMalformed),
        ("a." * 9000, TokenMalformed),
    ],
)
def test_each_rule_raises_its_error(token: str, error: type[TokenInvalid]) -> None:
    with pytest.raises(error):
        verify(token)


def test_claim_mismatch_names_the_claim() -> None:
    with pytest.raises(ClaimMismatch) as caught:
        verify(sign_token({**CLAIMS, "dom": "evil.com"}))
    assert caught.value.claim == "dom"


def test_good_token_and_boundaries() -> None:
    token = sign_token(CLAIMS)
    assert verify(token).valid
    assert verify(token, now=NOW - 300).valid
    assert verify(token, now=NOW + 3600 + 7200).valid
    assert verify(token, nonce=None).nonce == "n-1"  # cached tokens: no nonce check


@pytest.mark.parametrize(
    "source",
    [
        {**TEST_JWK, "d": "c2VjcmV0"},
        {"vendor": {}, "api_key": "lsk_x", "public_keys": [TEST_JWK]},
        {"kty": "RSA", "n": "x", "e": "AQAB"},
        {**TEST_JWK, "crv": "X25519"},
        {**TEST_JWK, "alg": "HS256"},
        {**TEST_JWK, "x": "c2hvcnQ"},
        "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----",
        "not json",
        [],
        {"keys": "x"},
        42,
    ],
)
def test_bad_pins_are_refused(source: Any) -> None:
    with pytest.raises(PublicKeyInvalid):
        load_public_keys(source)


def test_pin_forms() -> None:
    jwk_line = json.dumps(TEST_JWK)
    cli_json = {"public_keys": [TEST_JWK]}
    pem = TEST_KEY.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    for source in (
        TEST_JWK,
        jwk_line,
        cli_json,
        pem,
        pem.decode(),
        TEST_KEY.public_key(),
    ):
        assert list(load_public_keys(source)) == [TEST_KID]
    both = load_public_keys([TEST_JWK, OTHER.public_key()])
    assert set(both) == {TEST_KID, jwk_thumbprint(OTHER.public_key())}
