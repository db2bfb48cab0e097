"""Domain tokens: they verify with the vendor's JWKS key, and forgeries do not."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from license_server.signing import (
    TokenInvalid,
    issue_token,
    jwk_thumbprint,
    public_key_from_jwk,
    verify_token,
)
from tests.conftest import VendorFixture, new_vendor, public_call


@pytest.fixture
def issued(
    client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> dict[str, Any]:
    """A VALID answer for site.com, with the vendor's JWKS."""
    public_call(
        client,
        "activate",
        license_key=license["key"],
        domain="site.com",
        product="jannah",
    )
    _, body = public_call(
        client,
        "validate",
        license_key=license["key"],
        domain="site.com",
        product="jannah",
        nonce="nonce-1",
    )
    jwks = client.get(f"/v1/vendors/{vendor.slug}/jwks.json").get_json()
    return {"token": body["token"], "jwks": jwks, "issuer": vendor.new.vendor.issuer}


def _keys(jwks: dict[str, Any]) -> dict[str, Any]:
    return {key["kid"]: public_key_from_jwk(key) for key in jwks["keys"]}


def _verify(issued: dict[str, Any], token: str, **overrides: Any) -> dict[str, Any]:
    options = {
        "issuer": issued["issuer"],
        "audience": "jannah",
        "domain": "site.com",
        "now": datetime.now(UTC),
        "nonce": "nonce-1",
        **overrides,
    }
    keys = overrides.pop("keys", None) or _keys(issued["jwks"])
    options.pop("keys", None)
    return verify_token(token, keys, **options)


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(part: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    )
    return data


def test_token_verifies_with_jwks_key_and_plain_pyjwt(issued: dict[str, Any]) -> None:
    header = jwt.get_unverified_header(issued["token"])
    assert header == {"alg": "EdDSA", "typ": "license+jwt", "kid": header["kid"]}
    jwk = next(k for k in issued["jwks"]["keys"] if k["kid"] == header["kid"])
    assert jwk_thumbprint(base64.urlsafe_b64decode(jwk["x"] + "=")) == jwk["kid"]
    key = jwt.PyJWK(jwk).key
    claims = jwt.decode(
        issued["token"],
        key,
        algorithms=["EdDSA"],
        audience="jannah",
        issuer=issued["issuer"],
    )
    assert (claims["dom"], claims["valid"], claims["code"]) == (
        "site.com",
        True,
        "VALID",
    )
    assert _verify(issued, issued["token"])["nonce"] == "nonce-1"


def test_tampered_claims_are_rejected(issued: dict[str, Any]) -> None:
    header, payload, signature = _segments(issued["token"])
    claims = _unb64(payload)
    claims["lic"]["max_domains"] = 1000
    forged = ".".join([header, _b64(claims), signature])
    with pytest.raises(TokenInvalid, match="Signature"):
        _verify(issued, forged)


def test_another_vendors_key_is_rejected(
    app: Flask, issued: dict[str, Any], client: FlaskClient
) -> None:
    other = new_vendor(app, "Mallory Themes")
    other_jwks = client.get(f"/v1/vendors/{other.slug}/jwks.json").get_json()
    with pytest.raises(TokenInvalid, match="unknown kid"):
        _verify(issued, issued["token"], keys=_keys(other_jwks))
    # Same kid pinned to the other vendor's key material: the signature fails.
    kid = jwt.get_unverified_header(issued["token"])["kid"]
    swapped = {kid: public_key_from_jwk(other_jwks["keys"][0])}
    with pytest.raises(TokenInvalid):
        _verify(issued, issued["token"], keys=swapped)


def test_alg_none_is_rejected(issued: dict[str, Any]) -> None:
    header, payload, _ = _segments(issued["token"])
    none_header = _unb64(header) | {"alg": "none"}
    for forged in (f"{_b64(none_header)}.{payload}.", f"{_b64(none_header)}.{payload}"):
        with pytest.raises(TokenInvalid):
            _verify(issued, forged)


def test_hs256_signed_with_the_public_key_is_rejected(issued: dict[str, Any]) -> None:
    header = jwt.get_unverified_header(issued["token"])
    jwk = issued["jwks"]["keys"][0]
    secret = base64.urlsafe_b64decode(jwk["x"] + "=")
    claims = _unb64(_segments(issued["token"])[1])
    forged = jwt.encode(
        claims,
        secret,
        algorithm="HS256",
        headers={"kid": header["kid"], "typ": "license+jwt"},
    )
    with pytest.raises(TokenInvalid):
        _verify(issued, forged)
    with pytest.raises(jwt.PyJWTError):
        jwt.decode(
            forged, public_key_from_jwk(jwk), algorithms=["EdDSA"], audience="jannah"
        )


def test_wrong_domain_audience_issuer_and_nonce_are_rejected(
    issued: dict[str, Any],
) -> None:
    with pytest.raises(TokenInvalid, match="another domain"):
        _verify(issued, issued["token"], domain="evil.com")
    with pytest.raises(TokenInvalid):
        _verify(issued, issued["token"], audience="other-theme")
    with pytest.raises(TokenInvalid):
        _verify(issued, issued["token"], issuer="someone-else")
    with pytest.raises(TokenInvalid, match="nonce"):
        _verify(issued, issued["token"], nonce="other-nonce")


def test_expiry_is_exp_plus_grace() -> None:
    private = Ed25519PrivateKey.generate()
    kid = "test-kid"
    claims = {
        "iss": "acme",
        "aud": "jannah",
        "dom": "site.com",
        "valid": True,
        "code": "VALID",
        "iat": 1_000_000,
        "exp": 1_000_100,
        "grace": 50,
    }
    token = issue_token(private, kid, claims)
    keys = {kid: private.public_key()}
    common = {"issuer": "acme", "audience": "jannah", "domain": "site.com"}
    verify_token(token, keys, now=datetime.fromtimestamp(1_000_150, UTC), **common)
    with pytest.raises(TokenInvalid, match="expired"):
        verify_token(token, keys, now=datetime.fromtimestamp(1_000_151, UTC), **common)
    with pytest.raises(TokenInvalid, match="future"):
        verify_token(token, keys, now=datetime.fromtimestamp(999_000, UTC), **common)
