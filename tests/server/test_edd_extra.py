"""EDD: the CSV import, rate limits (429, not EDD's 200), and the request reader."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from license_server.compat import edd_import, edd_source, php
from license_server.compat.edd_request import parse
from license_server.extensions import db
from license_server.runtime import of as runtime_of
from tests.conftest import VendorFixture, create_license, create_product, make_app

CSV = """License ID,License Key,License Status,Customer ID,Customer Email,\
Customer Name,User ID,Product Name,Price ID,Purchase Date,Expiration Date,\
Activation Limit,Activation Count,Activated URLs
1,d41d8cd98f00b204e9800998ecf8427e,active,3,cy@example.org,Cy,0,Jannah,,\
2025-03-01 10:00:00,lifetime,2,2,"cy.com/, cy.com/blog/"
2,900150983cd24fb0d6963f7d28e17f72,disabled,4,di@example.org,Di,0,Jannah,,\
2025-03-02 10:00:00,1900000000,1,1,di.org/
3,not-a-key,active,5,x@example.org,X,0,Jannah,,2025-03-02 10:00:00,lifetime,1,0,
"""


def test_csv_import_is_idempotent_and_keys_work(
    app: Flask, client: FlaskClient, vendor: VendorFixture, tmp_path: Path
) -> None:
    path = tmp_path / "edd-export-licenses.csv"
    path.write_text(CSV, encoding="utf-8")
    store = edd_source.read_csv(path, timezone="Europe/Paris")

    def run() -> dict[str, int | bool]:
        with app.app_context():
            summary = edd_import.import_store(
                keyring=runtime_of(app).keyring,
                vendor_id=vendor.new.vendor.id,
                store=store,
                now=datetime.now(UTC),
            )
            db.session.remove()
        return summary.as_dict()

    first = run()
    assert (first["products_created"], first["licenses_created"]) == (1, 2)
    assert first["licenses_skipped"] == 1  # "not-a-key" is no key at all
    assert (first["activations_created"], first["sites_merged"]) == (2, 1)
    second = run()
    assert (second["licenses_created"], second["licenses_found"]) == (0, 2)
    answer = client.post(
        "/",
        data={
            "edd_action": "check_license",
            "license": "d41d8cd98f00b204e9800998ecf8427e",
            "item_name": "Jannah",
            "url": "https://cy.com/blog/",
        },
    ).get_json()
    assert (answer["license"], answer["site_count"]) == ("valid", 1)
    disabled = client.post(
        "/",
        data={
            "edd_action": "check_license",
            "license": "900150983cd24fb0d6963f7d28e17f72",
            "item_name": "Jannah",
            "url": "di.org",
        },
    ).get_json()
    assert disabled["license"] == "disabled"
    # 1900000000 is 2030-03-17 17:46:40 in the store: the local wall time returns
    assert disabled["expires"] == "2030-03-17 17:46:40"


@pytest.fixture
def tight_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(
        database_url,
        tmp_path / "instance",
        RATELIMIT_VALIDATE="3/minute",
        RATELIMIT_FAILED_LOOKUPS="2/minute",
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_rate_limited_edd_request_is_429_not_an_invalid_200(tight_app: Flask) -> None:
    from tests.conftest import new_vendor

    client = tight_app.test_client()
    vendor = new_vendor(tight_app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    data = {"edd_action": "check_license", "license": key, "item_name": "Jannah"}
    statuses = [
        client.post("/", data={**data, "url": "a.com"}).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = client.post("/", data={**data, "url": "a.com"})
    assert limited.get_json()["code"] == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1


def test_failed_lookups_are_throttled(tight_app: Flask) -> None:
    client = tight_app.test_client()
    unknown = {
        "edd_action": "activate_license",
        "license": "0" * 32,
        "item_name": "Jannah",
        "url": "a.com",
    }
    statuses = [client.post("/", data=unknown).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_reader_follows_php() -> None:
    request = parse(
        {
            "edd_action": "activate_license",
            "license": "abc%2Bdef+x",
            "item_id": "0",
            "item_name": "My+Theme%21",
            "url": "",
        },
        "WordPress/6.1.9; https://site.example/",
    )
    assert request.license == "abc+def x"  # urldecode: + is a space
    assert request.item_name == "My+Theme!"  # rawurldecode: + stays
    assert request.item_id is None and request.item_id_arg is False
    assert request.url == "https://site.example/" and request.raw_url == ""
    assert php.form_to_nested(
        [("products[a][version]", "1"), ("products[b][beta]", "0")]
    ) == {"products": {"a": {"version": "1"}, "b": {"beta": "0"}}}
    assert (
        php.sanitize_title("Jannah &amp; News — Théme v2.0!")
        == "jannah-news-theme-v2-0"
    )
    assert php.absint("12abc") == 12 and php.absint("-3") == 3 and php.absint("x") == 0
