"""Public endpoints: activate, validate, deactivate, JWKS (PROTOCOL §2, §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient

from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    new_vendor,
    public_call,
)


def _claims(token: str) -> dict[str, Any]:
    data: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return data


def _activate(client: FlaskClient, key: str, domain: str, **extra: Any) -> Any:
    return public_call(
        client, "activate", license_key=key, domain=domain, product="jannah", **extra
    )


def _validate(client: FlaskClient, key: str, domain: str, **extra: Any) -> Any:
    return public_call(
        client, "validate", license_key=key, domain=domain, product="jannah", **extra
    )


def test_activate_then_validate_is_valid_and_signed(
    client: FlaskClient, license: dict[str, Any]
) -> None:
    status, body = _activate(client, license["key"], "https://WWW.Shop.Example.com/x")
    assert status == 201
    assert body["valid"] is True and body["code"] == "VALID"
    assert body["domain"] == "shop.example.com"
    status, body = _validate(client, license["key"], "shop.example.com", nonce="n-1")
    assert status == 200
    assert (body["valid"], body["code"], body["nonce"]) == (True, "VALID", "n-1")
    assert body["license"]["active_domains"] == 1
    claims = _claims(body["token"])
    assert claims["dom"] == "shop.example.com"
    assert claims["nonce"] == "n-1"
    assert claims["sub"] == license["id"]
    assert claims["aud"] == "jannah"
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600
    assert claims["grace"] == 14 * 24 * 3600


def test_reactivation_is_idempotent(
    client: FlaskClient, license: dict[str, Any]
) -> None:
    first_status, first = _activate(client, license["key"], "example.com")
    again_status, again = _activate(
        client, license["key"], "http://www.example.com:8080"
    )
    assert (first_status, again_status) == (201, 200)
    assert first["activation_id"] == again["activation_id"]


def test_second_domain_is_refused_with_a_signed_token(
    client: FlaskClient, license: dict[str, Any]
) -> None:
    _activate(client, license["key"], "one.com")
    status, body = _activate(client, license["key"], "two.com", nonce="xyz")
    assert status == 409
    assert body["code"] == "ACTIVATION_LIMIT_REACHED"
    assert body["valid"] is False
    assert set(body) >= {"message", "detail", "request_id", "token"}
    claims = _claims(body["token"])
    assert (claims["valid"], claims["code"], claims["dom"], claims["nonce"]) == (
        False,
        "ACTIVATION_LIMIT_REACHED",
        "two.com",
        "xyz",
    )


def test_deactivate_frees_the_seat_for_another_domain(
    client: FlaskClient, license: dict[str, Any]
) -> None:
    _activate(client, license["key"], "old.com")
    status, body = public_call(
        client, "deactivate", license_key=license["key"], domain="old.com"
    )
    assert (status, body["deactivated"]) == (200, True)
    assert _validate(client, license["key"], "old.com")[1]["code"] == (
        "DOMAIN_NOT_ACTIVATED"
    )
    assert _activate(client, license["key"], "new.com")[0] == 201
    status, body = public_call(
        client, "deactivate", license_key=license["key"], domain="old.com"
    )
    assert (status, body["code"]) == (404, "NOT_FOUND")


def test_development_hosts_use_no_seat(
    client: FlaskClient, vendor: VendorFixture
) -> None:
    create_product(client, vendor, dev_patterns=["staging.*"], max_dev_domains=2)
    key = create_license(client, vendor)["key"]
    assert _activate(client, key, "live.com")[0] == 201
    assert _activate(client, key, "localhost")[0] == 201
    assert _activate(client, key, "staging.live.com")[0] == 201
    status, body = _activate(client, key, "site.test")
    assert (status, body["code"]) == (409, "ACTIVATION_LIMIT_REACHED")
    assert _validate(client, key, "staging.live.com")[1]["valid"] is True


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("unknown", "NOT_FOUND"),
        ("other_vendor", "NOT_FOUND"),
        ("other_product", "PRODUCT_MISMATCH"),
        ("revoked", "REVOKED"),
        ("suspended", "SUSPENDED"),
        ("expired_restrict", "EXPIRED"),
        ("expired_allow", "VALID"),
        ("not_activated", "DOMAIN_NOT_ACTIVATED"),
        ("revoked_and_expired", "REVOKED"),
        ("suspended_and_not_activated", "SUSPENDED"),
        ("valid", "VALID"),
    ],
)
def test_result_codes_in_protocol_order(
    client: FlaskClient,
    vendor: VendorFixture,
    app: Any,
    setup: str,
    expected: str,
) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    policy = "allow" if setup == "expired_allow" else "restrict"
    create_product(client, vendor, expiry_policy=policy)
    create_product(client, vendor, slug="other", name="Other", key_prefix="")
    fields: dict[str, Any] = {}
    if setup.startswith("expired") or setup == "revoked_and_expired":
        fields["expires_at"] = past
    if setup == "other_product":
        fields["product"] = "other"
    lic = create_license(client, vendor, **fields)
    key = lic["key"]
    if setup != "not_activated" and not setup.endswith("not_activated"):
        if setup not in {"other_product"}:
            _activate(client, key, "site.com")
    for change in ("revoked", "suspended"):
        if setup.startswith(change):
            action = {"revoked": "revoke", "suspended": "suspend"}[change]
            url = f"/v1/admin/licenses/{lic['id']}/{action}"
            assert client.post(url, headers=vendor.headers).status_code == 200
    if setup == "unknown":
        key = "JAN-00000-00000-00000-00000-00000"
    if setup == "other_vendor":
        other = new_vendor(app, "Beta Themes")
        create_product(client, other, slug="beta-theme", name="Beta")
        key = create_license(client, other, product="beta-theme")["key"]
    status, body = _validate(client, key, "site.com")
    assert status == 200
    assert body["code"] == expected
    assert body["valid"] is (expected == "VALID")
    assert _claims(body["token"])["code"] == expected


def test_malformed_key_and_domain_are_400(
    client: FlaskClient, license: dict[str, Any]
) -> None:
    typo = license["key"][:-1] + ("0" if license["key"][-1] != "0" else "1")
    status, body = _validate(client, typo, "site.com")
    assert (status, body["code"]) == (400, "INVALID_KEY_FORMAT")
    status, body = _validate(client, license["key"], "user@site.com")
    assert (status, body["code"]) == (400, "INVALID_DOMAIN")
    status, body = public_call(
        client, "validate", license_key=license["key"], domain="a.com", product="nope"
    )
    assert (status, body["code"]) == (404, "PRODUCT_NOT_FOUND")


def test_activation_of_refused_license_is_signed_negative(
    client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    client.post(f"/v1/admin/licenses/{license['id']}/revoke", headers=vendor.headers)
    status, body = _activate(client, license["key"], "site.com")
    assert (status, body["code"], body["valid"]) == (403, "REVOKED", False)
    assert _claims(body["token"])["code"] == "REVOKED"


def test_jwks_lists_the_vendor_key(client: FlaskClient, vendor: VendorFixture) -> None:
    response = client.get(f"/v1/vendors/{vendor.slug}/jwks.json")
    assert response.status_code == 200
    assert response.get_json()["keys"] == vendor.new.public_keys
    assert client.get("/v1/vendors/nobody/jwks.json").status_code == 404


def test_answers_are_exactly_their_documented_schemas(
    client: FlaskClient, license: dict[str, Any]
) -> None:
    """The hot path encodes answers directly: the bytes equal the schema's dump."""
    from license_server.schemas import public as schemas

    for call, schema, statuses in (
        (_activate, schemas.ActivateOut(), (201, 200)),
        (_validate, schemas.ValidateOut(), (200, 200)),
    ):
        for expected in statuses:
            status, body = call(client, license["key"], "shop.example.com", nonce="n")
            assert status == expected
            assert body == schema.dump(body)  # no field the schema does not list
            assert set(body) == set(schema.fields)  # and every field it lists
    status, body = _validate(client, license["key"], "other.example.com")
    assert (status, body["code"]) == (200, "DOMAIN_NOT_ACTIVATED")
    assert body == schemas.ValidateOut().dump(body)
    assert "activation_id" not in body
