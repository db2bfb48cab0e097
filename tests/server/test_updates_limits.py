"""Rate limits on the update routes: check, PUC metadata, downloads, changelog.

Each route counts per client address (its own setting), the key-taking ones per
licence key and against the address's failed lookups, as ``/v1/validate`` does; a
refusal is 429 ``RATE_LIMITED`` in the protocol's error shape with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from license_server.extensions import db
from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    make_app,
    new_vendor,
)
from tests.server.updates_support import activate, publish

UNKNOWN_KEY = "JAN-00000-00000-00000-00000-00000"


@dataclass
class Site:
    app: Flask
    client: FlaskClient
    vendor: VendorFixture
    key: str

    def check(self, key: str | None = None, address: str = "127.0.0.1") -> Any:
        body = {
            "license_key": key or self.key,
            "domain": "example.com",
            "product": "jannah",
            "version": "1.0.0",
        }
        return self.client.post(
            "/v1/updates/check", json=body, environ_base={"REMOTE_ADDR": address}
        )

    def puc(self, key: str | None = None, address: str = "127.0.0.1") -> Any:
        query = {"license_key": key or self.key, "domain": "example.com"}
        return self.client.get(
            "/v1/updates/jannah/puc.json",
            query_string={**query, "installed_version": "1.0.0"},
            environ_base={"REMOTE_ADDR": address},
        )

    def get(self, url: str, address: str = "127.0.0.1") -> Any:
        response = self.client.get(url, environ_base={"REMOTE_ADDR": address})
        response.get_data()
        response.close()
        return response


@pytest.fixture
def build(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Site]]:
    """Build one app with the given limits, a released theme and an active site."""
    apps: list[Flask] = []

    def factory(**settings: Any) -> Site:
        app = make_app(database_url, tmp_path / "instance", **settings)
        apps.append(app)
        client = app.test_client()
        vendor = new_vendor(app)
        product = create_product(client, vendor, max_domains=10)
        key = create_license(client, vendor)["key"]
        activate(client, key)
        publish(client, vendor, product["id"], "1.1.0", changelog="* New")
        return Site(app, client, vendor, key)

    yield factory
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def _refused(response: Any, counted_by: str | None = None) -> dict[str, Any]:
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert body["code"] == "RATE_LIMITED"
    assert set(body) >= {"code", "message", "detail", "request_id"}
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 61
    assert body["detail"]["retry_after"] == retry_after
    if counted_by is not None:
        assert body["detail"]["counted_by"] == counted_by
    return body


def test_update_check_is_limited_per_address(build: Callable[..., Site]) -> None:
    site = build(RATELIMIT_UPDATE_CHECK="3/minute")
    assert [site.check().status_code for _ in range(3)] == [200, 200, 200]
    _refused(site.check(), "client_address")
    # validate keeps its own counter; another address keeps its own
    validate = site.client.post(
        "/v1/validate",
        json={"license_key": site.key, "domain": "example.com", "product": "jannah"},
    )
    assert validate.status_code == 200
    assert site.check(address="192.0.2.8").status_code == 200


def test_puc_metadata_is_limited_per_address_and_apart_from_the_check(
    build: Callable[..., Site],
) -> None:
    site = build(RATELIMIT_UPDATE_CHECK="2/minute")
    assert [site.puc().status_code for _ in range(2)] == [200, 200]
    _refused(site.puc(), "client_address")
    assert site.check().status_code == 200  # the check counts apart


def test_the_licence_key_counts_across_addresses_and_routes(
    build: Callable[..., Site],
) -> None:
    # the fixture's activation of the key counted one already
    site = build(RATELIMIT_LICENSE_KEY="4/minute")
    assert site.check(address="192.0.2.1").status_code == 200
    assert site.puc(site.key.lower(), address="192.0.2.2").status_code == 200
    assert site.check(address="192.0.2.3").status_code == 200
    _refused(site.puc(address="192.0.2.4"), "license_key")
    _refused(site.check(address="192.0.2.5"), "license_key")
    # the key's counter is the one validate uses too
    validate = site.client.post(
        "/v1/validate",
        json={"license_key": site.key, "domain": "example.com", "product": "jannah"},
        environ_base={"REMOTE_ADDR": "192.0.2.6"},
    )
    _refused(validate, "license_key")


def test_failed_lookups_on_the_update_routes_hold_back_guessers_only(
    build: Callable[..., Site],
) -> None:
    site = build(RATELIMIT_FAILED_LOOKUPS="3/minute")
    for _ in range(5):  # good checks are not failed lookups
        assert site.check().get_json()["code"] == "VALID"
    assert site.check(UNKNOWN_KEY).get_json()["code"] == "NOT_FOUND"
    assert site.puc(UNKNOWN_KEY).status_code == 200
    bad = site.check("JAN-12345")
    assert bad.status_code == 400 and bad.get_json()["code"] == "INVALID_KEY_FORMAT"
    # three failed lookups: the address is now held back for keys it has not used
    other = create_license(site.client, site.vendor)["key"]
    _refused(site.check(other), "failed_lookups")
    _refused(site.puc(UNKNOWN_KEY), "failed_lookups")
    # ... but not for the key it uses successfully (shared hosting), nor elsewhere
    assert site.check().get_json()["code"] == "VALID"
    assert site.check(other, address="192.0.2.9").status_code == 200


def test_downloads_are_limited_per_address(build: Callable[..., Site]) -> None:
    site = build(RATELIMIT_DOWNLOAD="2/minute")
    package = site.check().get_json()["package"]
    assert site.get(package).status_code == 200
    assert site.get(package + ".sig").status_code == 200  # .sig counts too
    _refused(site.get(package), "client_address")
    # refusals of a bad token are counted as well (the token is no key)
    _refused(site.get("/v1/downloads/AAAA.BBBB"), "client_address")
    assert site.get(package, address="192.0.2.7").status_code == 200


def test_changelog_page_is_limited_per_address(build: Callable[..., Site]) -> None:
    site = build(RATELIMIT_CHANGELOG="2/minute")
    url = "/v1/updates/jannah/changelog"
    assert [site.get(url).status_code for _ in range(2)] == [200, 200]
    refused = site.get(url)
    _refused(refused, "client_address")
    assert site.get(url, address="192.0.2.7").status_code == 200


def test_update_limits_come_from_settings_and_refuse_a_malformed_one(
    database_url: str, tmp_path: Path
) -> None:
    from license_server.config import ConfigError

    with pytest.raises(ConfigError, match="RATELIMIT_DOWNLOAD"):
        make_app(database_url, tmp_path / "bad", RATELIMIT_DOWNLOAD="lots")
