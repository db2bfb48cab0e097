"""The client against the real server app, on SQLite and PostgreSQL.

Most tests forward requests in-process (``FlaskTransport``); the live-port tests
serve the app with werkzeug on 127.0.0.1 and use the default ``StdlibTransport``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from license_client import JsonFileStore, LicenseClient, State, StdlibTransport
from tests.client.conftest import FlaskTransport, LiveServer, ManualClock, real_client
from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    new_vendor,
    public_call,
)


def admin(client: FlaskClient, vendor: VendorFixture, path: str) -> Any:
    """POST an admin action and return its JSON."""
    response = client.post(f"/v1/admin/{path}", headers=vendor.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def live_activations(
    client: FlaskClient, vendor: VendorFixture, license_id: str
) -> list[str]:
    """Return the domains holding a live activation on a license."""
    response = client.get(
        f"/v1/admin/licenses/{license_id}/activations", headers=vendor.headers
    )
    assert response.status_code == 200
    return sorted(a["domain"] for a in response.get_json()["data"] if a["active"])


def assert_notice(site: LicenseClient) -> None:
    notice = site.notice()
    assert notice is not None
    assert notice.text.startswith("Jannah License is not validated, Go to the theme")
    assert '<a href="/admin/theme-options">theme options page</a>' in notice.html


def test_activate_refresh_deactivate(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    site = real_client(vendor, FlaskTransport(app), domain="https://www.Shop-One.com/x")
    assert site.status().state is State.UNKNOWN
    assert site.status().code == "NO_LICENSE"
    assert_notice(site)

    outcome = site.activate(license["key"].lower().replace("-", " "))
    assert (outcome.ok, outcome.code) == (True, "VALID")
    status = site.status()
    assert status.valid and status.domain == "shop-one.com"
    assert status.license is not None and status.license.active_domains == 1
    assert site.notice() is None
    assert live_activations(client, vendor, license["id"]) == ["shop-one.com"]

    assert site.refresh().ok
    assert site.activate(license["key"]).ok  # idempotent per domain

    outcome = site.deactivate()
    assert (outcome.ok, outcome.code) == (True, "DEACTIVATED")
    assert site.status().state is State.UNKNOWN
    assert_notice(site)
    assert live_activations(client, vendor, license["id"]) == []
    _, answer = public_call(
        client,
        "validate",
        license_key=license["key"],
        domain="shop-one.com",
        product="jannah",
    )
    assert answer["code"] == "DOMAIN_NOT_ACTIVATED"
    assert site.refresh().code == "NO_LICENSE"


def test_transfer_to_another_domain(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    old = real_client(vendor, FlaskTransport(app), domain="old-site.com")
    new = real_client(vendor, FlaskTransport(app), domain="new-site.com")
    assert old.activate(license["key"]).ok

    refused = new.activate(license["key"])
    assert (refused.ok, refused.code) == (False, "ACTIVATION_LIMIT_REACHED")
    assert refused.status.state is State.INVALID  # a signed negative answer
    assert new.notice() is not None

    assert old.deactivate().ok
    moved = new.activate(license["key"])
    assert (moved.ok, moved.code) == (True, "VALID")
    assert new.notice() is None and old.notice() is not None
    assert live_activations(client, vendor, license["id"]) == ["new-site.com"]


def test_admin_deactivation_is_seen_on_refresh(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    site = real_client(vendor, FlaskTransport(app), domain="shop.com")
    outcome = site.activate(license["key"])
    admin(
        client,
        vendor,
        f"activations/{_activation_id(client, vendor, license)}/deactivate",
    )
    assert outcome.ok and site.status().valid  # offline: still the stored token
    refreshed = site.refresh()
    assert (refreshed.ok, refreshed.code) == (False, "DOMAIN_NOT_ACTIVATED")
    assert site.status().state is State.INVALID
    assert site.notice() is not None


def _activation_id(
    client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> str:
    response = client.get(
        f"/v1/admin/licenses/{license['id']}/activations", headers=vendor.headers
    )
    found: str = response.get_json()["data"][0]["id"]
    return found


def test_suspend_reinstate_revoke_move_the_notice(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    site = real_client(vendor, FlaskTransport(app), domain="shop.com")
    assert site.activate(license["key"]).ok and site.notice() is None

    admin(client, vendor, f"licenses/{license['id']}/suspend")
    assert site.refresh().code == "SUSPENDED"
    assert site.notice() is not None

    admin(client, vendor, f"licenses/{license['id']}/reinstate")
    assert site.refresh().ok
    assert site.notice() is None

    admin(client, vendor, f"licenses/{license['id']}/revoke")
    refreshed = site.refresh()
    assert (refreshed.ok, refreshed.code) == (False, "REVOKED")
    status = site.status()
    assert (status.state, status.code) == (State.INVALID, "REVOKED")
    assert_notice(site)


def test_refusals_are_signed_and_typos_never_leave_the_site(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    transport = FlaskTransport(app)
    site = real_client(vendor, transport, domain="shop.com")
    typo = create_license(client, vendor)["key"]
    typo = typo[:-1] + ("0" if typo[-1] != "0" else "1")
    assert site.activate(typo).code == "INVALID_KEY_FORMAT"
    assert transport.sent == []  # refused offline, before any network call

    unknown = "JAN-00000-00000-00000-00000-00000"
    outcome = site.activate(unknown)
    assert (outcome.code, outcome.status.state) == ("NOT_FOUND", State.INVALID)

    create_product(client, vendor, slug="other", name="Other", key_prefix="OTH")
    foreign = create_license(client, vendor, product="other")["key"]
    assert site.activate(foreign).code == "PRODUCT_MISMATCH"


def test_unsigned_server_errors_leave_state_alone(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    site = real_client(vendor, FlaskTransport(app), domain="shop.com")
    assert site.activate(license["key"]).ok
    wrong = real_client(
        vendor,
        site.config.transport,
        domain="shop.com",
        store=site.config.store,
        product="no-such-product",
    )
    outcome = wrong.refresh()
    assert (outcome.ok, outcome.code) == (False, "PRODUCT_NOT_FOUND")
    assert site.status().valid


def test_development_host_takes_no_seat(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    production = real_client(vendor, FlaskTransport(app), domain="shop.com")
    local = real_client(vendor, FlaskTransport(app), domain="http://localhost:8000/")
    assert local.development and not production.development
    assert local.activate(license["key"]).ok
    assert production.activate(license["key"]).ok
    assert local.notice(public=True) is None  # never publicly on a dev host


def test_tokens_from_another_vendor_are_refused(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    other = new_vendor(app, name="Other Themes")
    # Pinned to the other vendor's key; the server signs with ``vendor``'s.
    site = real_client(
        other, FlaskTransport(app), domain="shop.com", issuer=vendor.new.vendor.issuer
    )
    outcome = site.activate(license["key"])
    assert outcome.code == "UNTRUSTED_ANSWER" and not outcome.status.valid
    assert site.notice() is not None


def test_live_port_with_default_transport(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    license: dict[str, Any],
    live_server: LiveServer,
    tmp_path: Path,
) -> None:
    store = JsonFileStore(tmp_path / "state" / "license.json", recheck_interval=0)
    site = real_client(
        vendor,
        StdlibTransport(),
        domain="shop.com",
        server_url=live_server.url,
        store=store,
        timeout=5,
    )
    assert site.activate(license["key"]).ok
    assert site.refresh().ok and site.status().valid

    admin(client, vendor, f"licenses/{license['id']}/suspend")
    assert site.refresh().code == "SUSPENDED"
    assert_notice(site)
    admin(client, vendor, f"licenses/{license['id']}/reinstate")
    assert site.refresh().ok

    restarted = real_client(
        vendor,
        StdlibTransport(),
        domain="shop.com",
        server_url=live_server.url,
        store=JsonFileStore(store.path),
    )
    assert restarted.status().valid  # the state survives a restart
    assert restarted.deactivate().ok
    assert live_activations(client, vendor, license["id"]) == []
    assert not site.status().valid  # the same file, seen by the first client too


def test_live_revoke_shows_notice(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    license: dict[str, Any],
    live_server: LiveServer,
) -> None:
    site = real_client(
        vendor, StdlibTransport(), domain="shop.com", server_url=live_server.url
    )
    assert site.activate(license["key"]).ok and site.notice() is None
    admin(client, vendor, f"licenses/{license['id']}/revoke")
    assert site.refresh().code == "REVOKED"
    assert_notice(site)


def test_live_outage_keeps_valid_until_grace_ends(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    live_server: LiveServer,
) -> None:
    create_product(client, vendor, token_ttl=3600, grace_period=7200)
    key = create_license(client, vendor)["key"]
    clock = ManualClock()
    site = real_client(
        vendor,
        StdlibTransport(),
        domain="shop.com",
        server_url=live_server.url,
        clock=clock,
        timeout=2,
    )
    assert site.activate(key).ok
    live_server.stop()

    clock.advance(3600 + 7200 - 60)  # past exp, inside the grace period
    outcome = site.refresh()
    assert (outcome.ok, outcome.code) == (False, "NETWORK_ERROR")
    status = site.status()
    assert status.valid and status.in_grace
    assert site.notice() is None

    clock.advance(120)  # past exp + grace
    assert (site.status().state, site.status().code) == (State.UNKNOWN, "TOKEN_EXPIRED")
    assert_notice(site)
