"""EDD ``get_version`` with releases: request -> answer, by GET and POST, form and JSON.

The table: an entitled site (package URL), a lapsed licence (the version named, no
package, a reason), the wrong site, a keyless request, betas, and a site whose PHP
is too old (its own version answered, as EDD does). Then the package URL downloads
the package, and ``?changelog=1`` shows the notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from license_server.compat import php
from tests.conftest import VendorFixture, create_license, create_product
from tests.server.updates_support import activate, fetch, publish, set_published_at

TRANSPORTS = ["get", "form", "json"]
PACKAGE = "http://localhost/edd-sl/package_download/"


@dataclass
class Store:
    client: FlaskClient
    keys: dict[str, str]
    vendor: str


@pytest.fixture
def store(app: Flask, client: FlaskClient, vendor: VendorFixture) -> Store:
    product = create_product(client, vendor, max_domains=3)
    mapping = {"item_ids": [42], "item_names": ["Jannah Old Name"]}
    url = f"/v1/admin/products/{product['id']}/edd"
    assert client.put(url, json=mapping, headers=vendor.headers).status_code == 200
    settings = {
        "homepage": "https://acme.example/jannah",
        "renewal_url": "https://acme.example/renew",
        "description": "A *news* theme.",
        "banners": {"low": "https://acme.example/b-low.png"},
        "icons": {"1x": "https://acme.example/i.png"},
    }
    updated = client.put(
        f"/v1/admin/products/{product['id']}/updates",
        json=settings,
        headers=vendor.headers,
    )
    assert updated.status_code == 200, updated.get_json()
    stable = publish(
        client,
        vendor,
        product["id"],
        "1.1.0",
        changelog="* Faster menus",
        requires_php="7.4",
    )
    publish(client, vendor, product["id"], "1.2.0-beta1", channel="beta")
    # published yesterday: after the lapsed licence's end of updates
    set_published_at(app, stable["id"], datetime.now(UTC) - timedelta(days=1))
    lapsed_until = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    keys = {
        "entitled": create_license(client, vendor)["key"],
        "lapsed": create_license(client, vendor, updates_until=lapsed_until)["key"],
    }
    for key in keys.values():
        activate(client, key, "example.com")
    return Store(client, keys, vendor.slug)


def _ask(
    store: Store, transport: str, data: dict[str, Any], path: str = "/"
) -> dict[str, Any]:
    body = {"edd_action": "get_version", **data}
    if "license" in body:
        body["license"] = store.keys.get(body["license"], body["license"])
    if transport == "get":
        response = store.client.get(path, query_string=body)
    elif transport == "form":
        response = store.client.post(path, data=body)
    else:
        response = store.client.post(path, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


BASE = {"item_id": "42", "url": "https://www.example.com/", "version": "1.0.0"}
# name, request (license by name), expected fields, package expected
CASES = [
    (
        "entitled",
        {"license": "entitled", **BASE},
        {"new_version": "1.1.0", "stable_version": "1.1.0", "name": "Jannah"},
        True,
    ),
    (
        "entitled, by the sample theme's name and User-Agent site",
        {"license": "entitled", "name": "Jannah Old Name", "version": "1.0.0"},
        {"new_version": "1.1.0", "slug": "jannah"},
        True,
    ),
    (
        "lapsed: named, no package, a reason",
        {"license": "lapsed", **BASE},
        {"new_version": "1.1.0", "stable_version": "1.1.0"},
        False,
    ),
    (
        "wrong site",
        {"license": "entitled", **BASE, "url": "https://elsewhere.com"},
        {"new_version": "1.1.0"},
        False,
    ),
    (
        "no key (on the vendor's path: item ids are one store's)",
        {"item_id": "42", "version": "1.0.0", "_vendor_path": True},
        {"new_version": "1.1.0", "msg": "No license key has been provided."},
        False,
    ),
    (
        "beta",
        {"license": "entitled", **BASE, "beta": "1"},
        {"new_version": "1.2.0-beta1", "stable_version": "1.1.0"},
        True,
    ),
    (
        "beta=0 is not beta (PHP truthiness)",
        {"license": "entitled", **BASE, "beta": "0"},
        {"new_version": "1.1.0"},
        True,
    ),
    (
        "PHP too old: the site's own version, as EDD answers",
        {"license": "entitled", **BASE, "php_version": "7.2"},
        {"new_version": "1.0.0", "stable_version": "1.1.0"},
        False,
    ),
    (
        "up to date: the newest is named, nothing to install",
        {"license": "entitled", **BASE, "version": "1.1.0"},
        {"new_version": "1.1.0"},
        False,
    ),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "request_", "expected", "package"), CASES, ids=[c[0] for c in CASES]
)
def test_get_version_request_to_answer(
    store: Store,
    transport: str,
    name: str,
    request_: dict[str, Any],
    expected: dict[str, Any],
    package: bool,
) -> None:
    user_agent = "WordPress/6.6; https://www.example.com"
    store.client.environ_base["HTTP_USER_AGENT"] = user_agent
    data = dict(request_)
    path = f"/edd/{store.vendor}/" if data.pop("_vendor_path", False) else "/"
    answer = _ask(store, transport, data, path)
    assert {k: answer.get(k) for k in expected} == expected, answer
    assert answer["package"] == answer["download_link"]
    if package:
        assert answer["package"].startswith(PACKAGE), answer
        for key in store.keys.values():  # no licence key inside the URL
            assert key not in answer["package"]
            assert key.replace("-", "") not in answer["package"]
    else:
        assert answer["package"] == "", answer
    if not package and name.startswith(("lapsed", "wrong")):
        assert answer["msg"]  # why, in words
    # EDD's shape: PHP-serialised sections, banners, icons; the changelog view
    sections = php.unserialize(answer["sections"])
    assert set(sections) == {"description", "changelog"}
    assert "<em>news</em>" in sections["description"]
    assert php.unserialize(answer["banners"]) == {
        "high": "",
        "low": "https://acme.example/b-low.png",
    }
    assert php.unserialize(answer["icons"]) == {"1x": "https://acme.example/i.png"}
    assert answer["url"] == f"http://localhost{path}?changelog=1&download=jannah"
    assert answer["homepage"] == "https://acme.example/jannah"
    assert len(answer["last_updated"]) == len("2026-12-01 09:00:00")


def test_lapsed_reason_names_the_renewal_and_entitled_gets_the_notes(
    store: Store,
) -> None:
    lapsed = _ask(store, "form", {"license": "lapsed", **BASE})
    assert "update period ended" in lapsed["msg"]
    entitled = _ask(store, "form", {"license": "entitled", **BASE})
    assert "msg" not in entitled
    assert "Faster menus" in php.unserialize(entitled["sections"])["changelog"]
    assert entitled["requires_php"] == "7.4"


def test_edd_package_url_downloads_the_signed_package_and_refuses_tampering(
    store: Store,
) -> None:
    answer = _ask(store, "form", {"license": "entitled", **BASE})
    path = answer["package"].removeprefix("http://localhost")
    got = fetch(store.client, path)
    assert got.status_code == 200, got.get_data(as_text=True)
    assert got.headers["Content-Type"] == "application/zip"
    assert got.headers["x-content-signature"]
    sig = fetch(store.client, path + ".sig")
    assert sig.get_data(as_text=True).strip() == got.headers["x-content-signature"]
    tampered = fetch(store.client, path[:-2] + ("AA" if path[-2:] != "AA" else "BB"))
    assert tampered.status_code == 403
    assert tampered.get_json()["code"] == "DOWNLOAD_INVALID"


def test_changelog_view_is_the_framable_notes_page(store: Store) -> None:
    page = fetch(store.client, "/?changelog=1&download=jannah")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "1.1.0" in text and "Faster menus" in text
    assert "frame-ancestors *" in page.headers["Content-Security-Policy"]
    scoped = fetch(store.client, f"/edd/{store.vendor}/?changelog=1&download=jannah")
    assert scoped.status_code == 200 and "Faster menus" in scoped.get_data(True)
    missing = fetch(store.client, "/?changelog=1&download=nothing-like-it")
    assert missing.status_code == 404
    assert missing.get_json()["code"] == "PRODUCT_NOT_FOUND"
