"""The fixed signed token of ``tests/vectors/token.json``, on both sides.

The client verifies each token at fixed times (and refuses it at the edges); the
server's ``issue_token`` reproduces each token byte for byte from the test-only
private key and the claims (Ed25519 is deterministic), so the header layout, the
claim encoding and the kid cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

import license_client.exceptions as client_errors
from license_client import TokenVerifier, canonical_domain, load_public_keys
from license_server.signing import issue_token, jwk_thumbprint, public_jwk
from tests.client.conftest import TEST_KEY, TOKEN_VECTOR

TOKENS: list[dict[str, Any]] = TOKEN_VECTOR["tokens"]
SITE: dict[str, str] = TOKEN_VECTOR["site"]
CHECKS = [(t, check) for t in TOKENS for check in t["checks"]]


def verifier(keys: Any = None) -> TokenVerifier:
    pinned = load_public_keys(keys if keys is not None else TOKEN_VECTOR["public_jwk"])
    return TokenVerifier(
        pinned,
        issuer=SITE["issuer"],
        audience=SITE["product"],
        domain=canonical_domain(SITE["domain"]),
    )


@pytest.mark.parametrize(
    ("token", "check"), CHECKS, ids=lambda v: v.get("name", str(v.get("now")))
)
def test_client_verifies_vector(token: dict[str, Any], check: dict[str, Any]) -> None:
    now = datetime.fromtimestamp(check["now"], UTC)
    if check["expect"] != "ok":
        error = getattr(client_errors, check["expect"])
        with pytest.raises(error):
            verifier().verify(token["token"], now=now, nonce=token["nonce"])
        return
    claims = verifier().verify(token["token"], now=now, nonce=token["nonce"])
    expected = token["claims"]
    assert claims.valid is expected["valid"] and claims.code == expected["code"]
    assert claims.domain == expected["dom"] == "xn--bcher-kva.de"
    assert (claims.issued_at, claims.expires_at) == (expected["iat"], expected["exp"])
    assert claims.grace == expected["grace"] and claims.subject == expected["sub"]
    assert claims.license is not None
    assert claims.license.status == expected["lic"]["status"]


@pytest.mark.parametrize(
    "keys",
    [
        TOKEN_VECTOR["public_pem"],
        {"keys": [TOKEN_VECTOR["public_jwk"]]},
        {k: v for k, v in TOKEN_VECTOR["public_jwk"].items() if k != "kid"},
    ],
    ids=["pem", "jwks", "jwk-without-kid"],
)
def test_every_pin_form_yields_the_same_kid(keys: Any) -> None:
    assert list(load_public_keys(keys)) == [TOKEN_VECTOR["kid"]]
    token = TOKENS[0]
    now = datetime.fromtimestamp(token["claims"]["iat"], UTC)
    assert verifier(keys).verify(token["token"], now=now).valid


def test_vector_kid_is_the_server_thumbprint() -> None:
    private = load_pem_private_key(
        TOKEN_VECTOR["private_key_TEST_ONLY"]["pkcs8_pem"].encode(), password=None
    )
    assert isinstance(private, Ed25519PrivateKey)
    public_bytes = private.public_key().public_bytes_raw()
    assert jwk_thumbprint(public_bytes) == TOKEN_VECTOR["kid"]
    assert public_jwk(TOKEN_VECTOR["kid"], public_bytes) == TOKEN_VECTOR["public_jwk"]


@pytest.mark.parametrize("token", TOKENS, ids=lambda t: t["name"])
def test_server_issues_the_identical_token(token: dict[str, Any]) -> None:
    assert issue_token(TEST_KEY, TOKEN_VECTOR["kid"], token["claims"]) == token["token"]


def test_verifier_refuses_other_time_and_nonce() -> None:
    token = TOKENS[0]
    now = datetime.fromtimestamp(token["claims"]["iat"], UTC)
    with pytest.raises(client_errors.ClaimMismatch) as caught:
        verifier().verify(token["token"], now=now, nonce="another-nonce")
    assert caught.value.claim == "nonce"
