"""The fast signer makes exactly the JWT PyJWT makes, and verifies with PyJWT."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from license_server.signing import (
    ALGORITHM,
    TOKEN_TYPE,
    OpenKey,
    header_segment,
    issue_token,
)

# a fixed key (Ed25519 signatures are deterministic, so tokens are reproducible)
SEED = bytes(range(32))
CLAIMS: list[dict[str, Any]] = [
    {"iss": "acme", "aud": "jannah", "dom": "example.com", "valid": True},
    {
        "iss": "acme-themes",
        "aud": "jannah",
        "dom": "xn--bcher-kva.example",
        "valid": False,
        "code": "NOT_FOUND",
        "iat": 1_800_000_000,
        "exp": 1_800_604_800,
        "grace": 1_209_600,
        "kh": "q0m3zY8dPp3-7UuFZ7qkTQ",
        "nonce": 'n/ü "quoted" \u2028',
    },
    {
        "lic": {
            "status": "active",
            "expires_at": None,
            "updates_until": "2027-01-01T00:00:00Z",
            "max_domains": 1,
            "active_domains": 0,
        },
        "sub": "5c7e0b55-1df0-4a44-9a2b-2e1c3d4f5a6b",
    },
]


@pytest.mark.parametrize("claims", CLAIMS, ids=["small", "unicode", "nested"])
def test_tokens_are_byte_for_byte_pyjwts(claims: dict[str, Any]) -> None:
    private = Ed25519PrivateKey.from_private_bytes(SEED)
    kid = "test-kid"
    expected = jwt.encode(
        claims,
        private,
        algorithm=ALGORITHM,
        headers={"kid": kid, "typ": TOKEN_TYPE},
    )
    assert issue_token(private, kid, claims) == expected
    assert OpenKey(kid, private, header_segment(kid)).token(claims) == expected
    decoded = jwt.decode(
        expected,
        private.public_key(),
        algorithms=[ALGORITHM],
        options={"verify_aud": False, "verify_iat": False, "verify_exp": False},
    )
    assert decoded == claims


def test_the_header_is_the_protocols() -> None:
    header = jwt.get_unverified_header(
        issue_token(Ed25519PrivateKey.from_private_bytes(SEED), "k1", {"a": 1})
    )
    assert header == {"alg": "EdDSA", "kid": "k1", "typ": "license+jwt"}
