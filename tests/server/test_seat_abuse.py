"""Seats, second pass (issue 17, items 5-7 and 9): no seat bypass, no key reveal."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import VendorFixture, create_license, create_product, public_call

A = "/v1/admin"


def _activate(client: FlaskClient, key: str, domain: str) -> tuple[int, Any]:
    return public_call(
        client, "activate", license_key=key, domain=domain, product="jannah"
    )


def test_development_activations_are_capped_at_three_by_default(
    client: FlaskClient, license: dict[str, Any]
) -> None:
    for n in range(3):
        assert _activate(client, license["key"], f"site{n}.test")[0] == 201
    status, body = _activate(client, license["key"], "site3.test")
    assert (status, body["code"]) == (409, "ACTIVATION_LIMIT_REACHED")
    assert _activate(client, license["key"], "shop.com")[0] == 201  # the real seat


def test_a_product_may_lift_the_development_cap(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    assert product["max_dev_domains"] == 3
    assert product["max_deactivations"] == 3
    changed = client.patch(
        f"{A}/products/{product['id']}",
        json={"max_dev_domains": None},
        headers=vendor.headers,
    )
    assert changed.get_json()["max_dev_domains"] is None


def test_deactivations_are_limited_per_license_per_day(
    client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    key = license["key"]
    for n in range(3):
        assert _activate(client, key, f"site{n}.com")[0] == 201
        status, _ = public_call(
            client, "deactivate", license_key=key, domain=f"site{n}.com"
        )
        assert status == 200
    assert _activate(client, key, "site3.com")[0] == 201
    status, body = public_call(
        client, "deactivate", license_key=key, domain="site3.com"
    )
    assert (status, body["code"]) == (429, "DEACTIVATION_LIMIT_REACHED")
    assert 0 < body["detail"]["retry_after"] <= 86400
    # the seat stays taken: the fifth site cannot cycle in
    assert _activate(client, key, "site4.com")[1]["code"] == "ACTIVATION_LIMIT_REACHED"
    # the vendor's own deactivation is not limited
    listed = client.get(
        f"{A}/licenses/{license['id']}/activations?active=true", headers=vendor.headers
    ).get_json()["data"]
    freed = client.post(
        f"{A}/activations/{listed[0]['id']}/deactivate", headers=vendor.headers
    )
    assert freed.status_code == 200


def _reader(client: FlaskClient, vendor: VendorFixture) -> dict[str, str]:
    created = client.post(
        f"{A}/api-keys", json={"name": "r", "scope": "read"}, headers=vendor.headers
    )
    return {"Authorization": f"Bearer {created.get_json()['key']}"}


def test_a_read_key_sees_the_hint_never_the_key(
    client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    read = _reader(client, vendor)
    seen = client.get(f"{A}/licenses/{license['id']}", headers=read).get_json()
    assert "key" not in seen and seen["key_hint"] == license["key"][-4:]
    listed = client.get(f"{A}/licenses", headers=read).get_json()["data"]
    assert all("key" not in row for row in listed)
    full = client.get(f"{A}/licenses/{license['id']}", headers=vendor.headers)
    assert full.get_json()["key"] == license["key"]


def test_a_key_lookup_goes_in_the_body_and_a_read_key_may_search(
    client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    read = _reader(client, vendor)
    found = client.post(
        f"{A}/licenses/search",
        json={"key": license["key"].lower()},
        headers={**read, "Idempotency-Key": "ignored-for-reads"},
    )
    assert found.status_code == 200, found.get_json()
    assert [row["id"] for row in found.get_json()["data"]] == [license["id"]]
    assert "key" not in found.get_json()["data"][0]
    refused = client.post(
        f"{A}/products", json={"slug": "x", "name": "X"}, headers=read
    )
    assert refused.status_code == 403


def test_concurrent_deactivations_cannot_pass_the_limit(
    app: Flask, client: FlaskClient, vendor: VendorFixture
) -> None:
    """Ten sites deactivate at once against a limit of two: exactly two succeed.

    The guards are the count inside the ending UPDATE (one statement under SQLite's
    writer lock) and the license row lock before it (PostgreSQL). Removing the
    count from the UPDATE lets all ten pass on both backends; removing the lock lets
    all ten pass on PostgreSQL (both checked by hand).
    """
    create_product(client, vendor, max_domains=10, max_deactivations=2)
    key = create_license(client, vendor)["key"]
    for n in range(10):
        assert _activate(client, key, f"site{n}.com")[0] == 201
    barrier = threading.Barrier(10)

    def call(n: int) -> int:
        own = app.test_client()
        barrier.wait()
        body = {"license_key": key, "domain": f"site{n}.com"}
        return own.post("/v1/deactivate", json=body).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = Counter(pool.map(call, range(10)))
    assert statuses == Counter({200: 2, 429: 8})
