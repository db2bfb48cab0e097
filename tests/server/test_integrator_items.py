"""Tests of issue 17's items the integrator built in the hot-path rewrite (10, 11).

Written beside the rewrite, they assert only the protocol's promise: every token
carries ``kh``, and a restricting license's token ends at the license's expiry.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from flask.testing import FlaskClient

from tests.conftest import VendorFixture, create_license, create_product, public_call


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_every_token_carries_the_key_hash(
    client: FlaskClient, license: dict[str, Any]
) -> None:
    site = {"license_key": license["key"], "domain": "a.com", "product": "jannah"}
    _, activated = public_call(client, "activate", **site)
    body = license["key"].replace("-", "")[-25:]
    digest = hashlib.sha256(body.encode()).digest()[:16]
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert _claims(activated["token"])["kh"] == expected
    _, refused = public_call(client, "validate", **{**site, "domain": "b.com"})
    assert _claims(refused["token"])["kh"] == expected


def test_a_restricting_license_token_ends_at_the_license_expiry(
    client: FlaskClient, vendor: VendorFixture
) -> None:
    create_product(client, vendor, expiry_policy="restrict")
    soon = datetime.now(UTC) + timedelta(hours=1)
    key = create_license(client, vendor, expires_at=soon.isoformat())["key"]
    site = {"license_key": key, "domain": "a.com", "product": "jannah"}
    _, answer = public_call(client, "activate", **site)
    claims = _claims(answer["token"])
    assert claims["exp"] <= int(soon.timestamp())
    assert claims["exp"] + claims["grace"] <= int(soon.timestamp())
