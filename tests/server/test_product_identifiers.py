"""Product identifiers are vendor-scoped (issue 17, item 23).

Slugs are unique per vendor, not server-wide: a vendor can neither learn that
another uses a slug (no PRODUCT_EXISTS for another's slug) nor capture another's
clients by taking its slug. Public requests name ``vendor/product``; a bare slug,
what existing clients send, names the first product that took it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import VendorFixture, create_license, new_vendor, public_call


def _validate(client: FlaskClient, key: str, product: str) -> tuple[int, Any]:
    return public_call(
        client, "validate", license_key=key, domain="a.com", product=product
    )


def test_another_vendor_may_use_the_same_slug_without_learning_it_exists(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    other = new_vendor(app, "Squatter Themes")
    body = {"slug": "jannah", "name": "Mine", "key_prefix": "SQ"}
    created = client.post("/v1/admin/products", json=body, headers=other.headers)
    assert created.status_code == 201, created.get_json()
    again = client.post("/v1/admin/products", json=body, headers=other.headers)
    assert again.get_json()["code"] == "PRODUCT_EXISTS"  # only one's own slugs


def test_a_bare_slug_keeps_reaching_the_first_product_that_took_it(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    key = create_license(client, vendor)["key"]
    public_call(client, "activate", license_key=key, domain="a.com", product="jannah")
    squatter = new_vendor(app, "Squatter Themes")
    client.post(
        "/v1/admin/products",
        json={"slug": "jannah", "name": "Copy", "key_prefix": "JAN"},
        headers=squatter.headers,
    )
    stolen = create_license(client, squatter)["key"]
    # an existing client (bare slug) still reaches its own product
    assert _validate(client, key, "jannah")[1]["code"] == "VALID"
    # the squatter's keys do not answer for the bare slug
    assert _validate(client, stolen, "jannah")[1]["code"] == "NOT_FOUND"
    # each product by its vendor-scoped identifier
    assert _validate(client, key, f"{vendor.slug}/jannah")[1]["code"] == "VALID"
    scoped = f"{squatter.slug}/jannah"
    assert _validate(client, stolen, scoped)[1]["code"] == "DOMAIN_NOT_ACTIVATED"
    assert _validate(client, key, scoped)[1]["code"] == "NOT_FOUND"


def test_a_scoped_identifier_of_nobody_is_product_not_found(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    key = create_license(client, vendor)["key"]
    status, body = _validate(client, key, "nobody/jannah")
    assert (status, body["code"]) == (404, "PRODUCT_NOT_FOUND")
    status, body = _validate(client, key, "a/b/c")
    assert (status, body["code"]) == (422, "VALIDATION_ERROR")


def test_the_token_audience_stays_the_slug(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    import jwt

    key = create_license(client, vendor)["key"]
    _, body = _validate(client, key, f"{vendor.slug}/jannah")
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["aud"] == "jannah" and claims["iss"] == vendor.new.vendor.issuer
