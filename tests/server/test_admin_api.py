"""Admin API, first slice: products, licenses, activations, vendor scoping."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from license_server.keys import parse_key
from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    new_vendor,
    public_call,
)


def test_product_create_list_get(client: FlaskClient, vendor: VendorFixture) -> None:
    created = create_product(
        client,
        vendor,
        max_domains=3,
        token_ttl=3600,
        grace_period=0,
        expiry_policy="restrict",
        dev_patterns=["Staging.*", "*.WPEngine.com"],
    )
    assert created["dev_patterns"] == ["*.wpengine.com", "staging.*"]
    assert (created["max_domains"], created["token_ttl"]) == (3, 3600)
    listed = client.get("/v1/admin/products", headers=vendor.headers).get_json()
    assert [p["slug"] for p in listed["data"]] == ["jannah"]
    one = client.get(f"/v1/admin/products/{created['id']}", headers=vendor.headers)
    assert one.get_json() == created


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"max_domains": 0}, "max_domains"),
        ({"expiry_policy": "sometimes"}, "expiry_policy"),
        ({"key_prefix": "x"}, "key_prefix"),
        ({"dev_patterns": ["*.com"]}, "dev_patterns"),
        ({"token_ttl": 5}, "token_ttl"),
    ],
)
def test_product_validation(
    client: FlaskClient, vendor: VendorFixture, fields: dict[str, Any], field: str
) -> None:
    body = {"slug": "jannah", "name": "Jannah", **fields}
    response = client.post("/v1/admin/products", json=body, headers=vendor.headers)
    assert response.status_code == 422
    assert response.get_json()["code"] == "VALIDATION_ERROR"
    assert field in response.get_json()["detail"]["fields"]


def test_duplicate_product_slug_is_409(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    body = {"slug": "jannah", "name": "Again"}
    response = client.post("/v1/admin/products", json=body, headers=vendor.headers)
    assert (response.status_code, response.get_json()["code"]) == (
        409,
        "PRODUCT_EXISTS",
    )


def test_license_create_reveals_key_and_get_reveals_it_again(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    created = create_license(
        client,
        vendor,
        max_domains=3,
        expires_at="2030-01-01T00:00:00Z",
        customer_email="buyer@example.com",
        customer_name="Buyer",
    )
    key = parse_key(created["key"])
    assert key.prefix == "JAN"
    assert created["key_hint"] == key.body[-4:]
    assert (created["status"], created["max_domains"]) == ("active", 3)
    assert created["expires_at"] == "2030-01-01T00:00:00+00:00"
    again = client.get(f"/v1/admin/licenses/{created['id']}", headers=vendor.headers)
    assert again.get_json()["key"] == created["key"]
    listed = client.get("/v1/admin/licenses", headers=vendor.headers).get_json()
    assert [item["id"] for item in listed["data"]] == [created["id"]]
    assert "key" not in listed["data"][0]


def test_license_rejects_naive_datetime_and_unknown_product(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    body = {"product": "jannah", "expires_at": "2030-01-01T00:00:00"}
    response = client.post("/v1/admin/licenses", json=body, headers=vendor.headers)
    assert response.status_code == 422
    response = client.post(
        "/v1/admin/licenses", json={"product": "ghost"}, headers=vendor.headers
    )
    assert (response.status_code, response.get_json()["code"]) == (
        404,
        "PRODUCT_NOT_FOUND",
    )


def test_status_transitions(
    client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    base = f"/v1/admin/licenses/{license['id']}"

    def change(action: str) -> tuple[int, str]:
        response = client.post(f"{base}/{action}", headers=vendor.headers)
        body = response.get_json()
        return response.status_code, body.get("status") or body["code"]

    assert change("reinstate") == (409, "INVALID_STATUS_TRANSITION")
    assert change("suspend") == (200, "suspended")
    assert change("suspend") == (409, "INVALID_STATUS_TRANSITION")
    assert change("reinstate") == (200, "active")
    assert change("revoke") == (200, "revoked")
    assert change("reinstate") == (409, "INVALID_STATUS_TRANSITION")


def test_activations_listed_and_deactivated_by_vendor(
    client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    public_call(
        client,
        "activate",
        license_key=license["key"],
        domain="site.com",
        product="jannah",
    )
    url = f"/v1/admin/licenses/{license['id']}/activations"
    activations = client.get(url, headers=vendor.headers).get_json()["data"]
    assert [(a["domain"], a["active"]) for a in activations] == [("site.com", True)]
    deactivate = f"/v1/admin/activations/{activations[0]['id']}/deactivate"
    response = client.post(deactivate, headers=vendor.headers)
    assert response.status_code == 200
    assert response.get_json()["active"] is False
    status, body = public_call(
        client,
        "validate",
        license_key=license["key"],
        domain="site.com",
        product="jannah",
    )
    assert body["code"] == "DOMAIN_NOT_ACTIVATED"


def test_another_vendors_objects_answer_404(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    public_call(
        client,
        "activate",
        license_key=license["key"],
        domain="site.com",
        product="jannah",
    )
    owner = vendor.headers
    activation = client.get(
        f"/v1/admin/licenses/{license['id']}/activations", headers=owner
    ).get_json()["data"][0]
    product_id = client.get("/v1/admin/products", headers=owner).get_json()["data"][0][
        "id"
    ]
    intruder = new_vendor(app, "Intruder").headers
    lid = license["id"]
    for method, url in [
        ("get", f"/v1/admin/products/{product_id}"),
        ("get", f"/v1/admin/licenses/{lid}"),
        ("get", f"/v1/admin/licenses/{lid}/activations"),
        ("post", f"/v1/admin/licenses/{lid}/suspend"),
        ("post", f"/v1/admin/licenses/{lid}/revoke"),
        ("post", f"/v1/admin/activations/{activation['id']}/deactivate"),
    ]:
        response = getattr(client, method)(url, headers=intruder)
        assert (url, response.status_code, response.get_json()["code"]) == (
            url,
            404,
            "NOT_FOUND",
        )
    assert client.get("/v1/admin/licenses", headers=intruder).get_json()["data"] == []
    response = client.post(
        "/v1/admin/licenses", json={"product": "jannah"}, headers=intruder
    )
    assert response.status_code == 404
    still = client.get(f"/v1/admin/licenses/{lid}", headers=owner).get_json()
    assert still["status"] == "active"
