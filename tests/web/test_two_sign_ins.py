"""The dashboard and the portal sign in independently in one browser.

They share one signed cookie. Signing in to (or out of) one area keeps the other's
session token and values, while everything else in the cookie is renewed, the CSRF
secret included: a form of the other area opened before is refused once, and a
reloaded one works. CSRF stays enforced on both areas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from license_server.extensions import db
from tests.conftest import VendorFixture, make_app
from tests.web.conftest import csrf_of, signed_in
from tests.web.conftest import sign_in as dashboard_sign_in
from tests.web.portal_support import PUBLIC_URL, Shop, build_shop, csrf, sign_in


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Any:
    application = make_app(database_url, tmp_path / "instance", PUBLIC_URL=PUBLIC_URL)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def shop(app: Flask, client: FlaskClient, vendor: VendorFixture) -> Shop:
    return build_shop(app, client, vendor)


def _in_dashboard(browser: FlaskClient) -> bool:
    answer = browser.get("/dashboard/")
    assert answer.status_code in (200, 302)
    return answer.status_code == 200


def _in_portal(browser: FlaskClient, slug: str) -> bool:
    answer = browser.get(f"/portal/{slug}/")
    assert answer.status_code in (200, 302)
    return answer.status_code == 200


def test_portal_sign_in_keeps_the_dashboard_signed_in(app: Flask, shop: Shop) -> None:
    staff = signed_in(app, shop.vendor, "owner")
    browser = staff.client
    old_token = staff.csrf()
    sign_in(app, browser, shop.slug, "ann@example.com")
    assert _in_portal(browser, shop.slug)
    assert _in_dashboard(browser)
    # the CSRF secret was renewed by the sign-in: an old form is refused once...
    refused = browser.post("/dashboard/logout", data={"csrf_token": old_token})
    assert refused.status_code == 400
    assert _in_dashboard(browser)
    # ...and no token at all is refused on both areas
    assert browser.post("/dashboard/logout").status_code == 400
    assert browser.post(f"/portal/{shop.slug}/sign-out").status_code == 400
    assert _in_dashboard(browser) and _in_portal(browser, shop.slug)
    # a reloaded form works; signing out of the dashboard keeps the portal
    assert staff.post("/dashboard/logout").status_code == 302
    assert not _in_dashboard(browser)
    assert _in_portal(browser, shop.slug)


def test_dashboard_sign_in_keeps_the_portal_signed_in(app: Flask, shop: Shop) -> None:
    browser = app.test_client()
    sign_in(app, browser, shop.slug, "ann@example.com")
    signed_in(app, shop.vendor, "support")  # the user; this browser signs in below
    answer = dashboard_sign_in(browser, f"support@{shop.slug}.example")
    assert answer.status_code == 302
    assert _in_dashboard(browser) and _in_portal(browser, shop.slug)
    # signing out of the portal keeps the dashboard
    page = f"/portal/{shop.slug}/"
    out = browser.post(
        f"/portal/{shop.slug}/sign-out", data={"csrf_token": csrf(browser, page)}
    )
    assert out.status_code == 302
    assert not _in_portal(browser, shop.slug)
    assert _in_dashboard(browser)
    assert csrf_of(browser, "/dashboard/account")  # its forms still render


def test_a_sign_in_keeps_only_the_other_areas_entries(app: Flask, shop: Shop) -> None:
    staff = signed_in(app, shop.vendor, "owner")
    browser = staff.client
    with browser.session_transaction() as cookie:
        staff_token = cookie["staff_session"]
        cookie["planted"] = "x"  # nobody's: dropped by any sign-in
        cookie["portal_via"] = "key"  # the portal's own, from before: dropped
    sign_in(app, browser, shop.slug, "ann@example.com")
    with browser.session_transaction() as cookie:
        assert cookie["staff_session"] == staff_token
        assert cookie["portal_via"] == "link"
        assert "planted" not in cookie
