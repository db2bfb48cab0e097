"""EDD bundles from a real MariaDB: children keep EDD's inherited limits, expiry and
state, a bundle's own key answers for its items through their children, and a
second import changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server.compat import edd_import, edd_source
from license_server.extensions import db
from license_server.models import EddLicense, License, LicenseStatus
from license_server.runtime import of as runtime_of
from tests.conftest import VendorFixture
from tests.server.edd_store import BUNDLE, Expected, edd_store
from tests.server.hardening_support import snapshot

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BUNDLE_ID, _TITLE, _SLUG, _LIMIT, (FIRST, SECOND) = BUNDLE


@pytest.fixture(scope="module")
def store() -> Iterator[Expected]:
    with edd_store(licenses=20, bundles=4) as expected:
        yield expected


def _import(app: Flask, vendor: VendorFixture, url: str) -> dict[str, Any]:
    with app.app_context():
        summary = edd_import.import_store(
            keyring=runtime_of(app).keyring,
            vendor_id=vendor.new.vendor.id,
            store=edd_source.read_mysql(url),
            now=NOW,
        )
        db.session.remove()
    return summary.as_dict()


def _licence(app: Flask, vendor: VendorFixture, edd_id: int) -> dict[str, Any]:
    with app.app_context():
        facts = db.session.scalar(
            select(EddLicense).where(
                EddLicense.vendor_id == vendor.new.vendor.id,
                EddLicense.edd_id == edd_id,
            )
        )
        assert facts is not None, edd_id
        license = db.session.get(License, facts.license_id)
        assert license is not None
        found = {
            "product": license.product.slug,
            "status": license.status,
            "seats": license.seat_limit,
            "expires_at": license.expires_at,
            "bundle": facts.bundle,
            "parent": facts.parent_edd_id,
        }
        db.session.remove()
    return found


def _edd(client: FlaskClient, **data: Any) -> dict[str, Any]:
    response = client.post("/", data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


def test_bundles_import_as_edd_keeps_them_and_the_bundle_key_names_its_items(
    app: Flask, client: FlaskClient, vendor: VendorFixture, store: Expected
) -> None:
    summary = _import(app, vendor, store.url)
    sold = store.bundles
    assert summary["licenses_created"] >= 3 * len(sold)
    active, disabled, own_limit = sold[0], sold[1], sold[2]

    parent = _licence(app, vendor, active["id"])
    assert parent["bundle"] and parent["product"] == "theme-club"
    child = _licence(app, vendor, active["children"][FIRST]["id"])
    other = _licence(app, vendor, active["children"][SECOND]["id"])
    assert (child["bundle"], child["parent"]) == (False, active["id"])
    assert child["product"] == "jannah-news" and other["product"] == "sahifa"
    # EDD's child stores expiration 0 and no limit: it uses its bundle licence's
    assert child["expires_at"] == parent["expires_at"] is not None
    assert child["seats"] == other["seats"] == active["limit"] == 3
    assert _licence(app, vendor, own_limit["children"][FIRST]["id"])["seats"] == 1
    # a disabled bundle licence disables its children (EDD cascades it)
    for item in (FIRST, SECOND):
        got = _licence(app, vendor, disabled["children"][item]["id"])
        assert got["status"] == LicenseStatus.SUSPENDED

    key, site = active["key"], "https://club-member.com"
    # EDD: a bundle's own key is not activable; with no item of it named, still so
    for fields in ({}, {"item_id": str(BUNDLE_ID)}, {"item_name": "Theme Club"}):
        refused = _edd(client, edd_action="activate_license", license=key, url=site,
                       **fields)  # fmt: skip
        assert (refused["success"], refused["error"]) == (
            False,
            "license_not_activable",
        )
    # naming an item: answered as the item's child key, on the child's seats
    done = _edd(
        client, edd_action="activate_license", license=key, url=site, item_id=FIRST
    )
    assert (done["success"], done["license"]) == (True, "valid"), done
    assert (done["license_limit"], done["site_count"]) == (3, 1)
    child_key = active["children"][FIRST]["key"]
    checked = _edd(
        client, edd_action="check_license", license=child_key, url=site, item_id=FIRST
    )
    assert (checked["license"], checked["site_count"]) == ("valid", 1)
    by_name = _edd(
        client,
        edd_action="check_license",
        license=key,
        url=site,
        item_name="Sahifa Magazine",
    )
    assert by_name["license"] == "inactive"  # the other child holds no site yet
    version = _edd(
        client, edd_action="get_version", license=key, item_id=FIRST, url=site
    )
    assert version["name"] == "Jannah News Theme" and "msg" not in version
    # deactivating needs the item too (EDD refuses a bundle key's deactivation)
    failed = _edd(client, edd_action="deactivate_license", license=key, url=site)
    assert failed["license"] == "failed"
    freed = _edd(
        client,
        edd_action="deactivate_license",
        license=key,
        url=site,
        item_id=FIRST,
    )
    assert freed["license"] == "deactivated"
    # our own API takes the child's key; the bundle's key is the bundle product's
    token = client.post(
        "/v1/activate",
        json={"license_key": child_key, "domain": site, "product": "jannah-news"},
    )
    assert token.status_code == 201, token.get_json()
    bundle_key = client.post(
        "/v1/validate",
        json={"license_key": key, "domain": site, "product": "jannah-news"},
    )
    assert bundle_key.get_json()["code"] == "PRODUCT_MISMATCH"

    before = snapshot(app)
    again = _import(app, vendor, store.url)
    assert again["licenses_created"] == 0 and again["activations_created"] == 0
    assert snapshot(app) == before
