"""The versions a site reports in its update checks, per activation, on both pages.

An update check (``POST /v1/updates/check``, the PUC metadata, EDD's
``get_version``) queues the site's theme/WordPress/PHP versions in the runtime's
batched buffer; after the flush the portal's and the dashboard's site tables show
them (escaped), "not reported yet" before. A domain without a live activation
records nothing, and the check itself sends no statement more than without versions.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server import runtime
from license_server.extensions import db
from license_server.models import Activation
from license_server.runtime.siteversions import Reported, SiteVersionBuffer
from tests.conftest import VendorFixture, make_app
from tests.server.hardening_support import sql_statements
from tests.web.conftest import signed_in
from tests.web.portal_support import PUBLIC_URL, Shop, build_shop, sign_in


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Any:
    application = make_app(database_url, tmp_path / "instance", PUBLIC_URL=PUBLIC_URL)
    # written only when a test flushes, not by a slow test's after-request hook
    runtime.of(application).site_versions.interval = 3600
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def shop(app: Flask, client: FlaskClient, vendor: VendorFixture) -> Shop:
    return build_shop(app, client, vendor)


def _check(client: FlaskClient, key: str, domain: str, **fields: Any) -> Any:
    body = {"license_key": key, "domain": domain, "product": "jannah", **fields}
    response = client.post("/v1/updates/check", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _versions(app: Flask, domain: str) -> tuple[Any, ...]:
    with app.app_context():
        row = db.session.execute(
            select(
                Activation.theme_version, Activation.wp_version, Activation.php_version
            ).where(Activation.domain == domain, Activation.deactivated_at.is_(None))
        ).one()
        db.session.remove()
    return tuple(row)


def _flush(app: Flask) -> None:
    with app.app_context():
        runtime.of(app).flush_all()


def test_reported_versions_show_on_the_portal_and_the_dashboard(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    key = shop.ann["key"]
    portal = app.test_client()
    sign_in(app, portal, shop.slug, "ann@example.com")
    detail = f"/portal/{shop.slug}/licences/{shop.ann['id']}"
    before = portal.get(detail).get_data(as_text=True)
    assert before.count("not reported yet") == 2  # old-site.com, second-site.com
    _check(
        client, key, "old-site.com",
        version="7.1.0", wp_version="6.5.2", php_version="8.2.10",
    )  # fmt: skip
    assert _versions(app, "old-site.com") == (None, None, None)  # queued, not written
    _flush(app)
    assert _versions(app, "old-site.com") == ("7.1.0", "6.5.2", "8.2.10")
    page = portal.get(detail).get_data(as_text=True)
    assert "Theme 7.1.0" in page and "WordPress 6.5.2" in page and "PHP 8.2.10" in page
    assert page.count("not reported yet") == 1  # second-site.com has not checked
    staff = signed_in(app, shop.vendor, "viewer")
    dashboard = staff.client.get(f"/dashboard/licenses/{shop.ann['id']}")
    text = dashboard.get_data(as_text=True)
    assert "Theme 7.1.0" in text and "WordPress 6.5.2" in text and "PHP 8.2.10" in text
    assert "not reported yet" in text
    # a later check without WordPress/PHP keeps them; the theme version moves on
    _check(client, key, "old-site.com", version="7.2.0")
    _flush(app)
    assert _versions(app, "old-site.com") == ("7.2.0", "6.5.2", "8.2.10")


def test_the_admin_api_answers_the_reported_versions(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    names = ("theme_version", "wp_version", "php_version", "versions_reported_at")
    listed = f"/v1/admin/licenses/{shop.ann['id']}/activations"
    headers = shop.vendor.headers
    before = client.get(listed, headers=headers).get_json()["data"]
    assert [{n: site[n] for n in names} for site in before] == [
        dict.fromkeys(names)
    ] * 2
    _check(
        client, shop.ann["key"], "old-site.com",
        version="7.1.0", wp_version="6.5.2", php_version="8.2.10",
    )  # fmt: skip
    _flush(app)
    sites = {
        s["domain"]: s for s in client.get(listed, headers=headers).get_json()["data"]
    }
    old = sites["old-site.com"]
    assert (old["theme_version"], old["wp_version"], old["php_version"]) == (
        "7.1.0",
        "6.5.2",
        "8.2.10",
    )
    assert old["versions_reported_at"].endswith("+00:00")
    assert sites["second-site.com"]["theme_version"] is None
    one = client.get(f"/v1/admin/activations/{old['id']}", headers=headers).get_json()
    assert one["wp_version"] == "6.5.2"
    # documented: the reference lists the same fields
    spec = client.get("/openapi.json").get_json()
    props = spec["components"]["schemas"]["ActivationOut"]["properties"]
    assert set(names) <= set(props)


def test_the_versions_are_escaped(app: Flask, client: FlaskClient, shop: Shop) -> None:
    hostile = "<script>x</script>"
    _check(
        client, shop.ann["key"], "old-site.com",
        version="1<b>", wp_version=hostile, php_version="8\"'&",
    )  # fmt: skip
    _flush(app)
    portal = app.test_client()
    sign_in(app, portal, shop.slug, "ann@example.com")
    staff = signed_in(app, shop.vendor, "viewer")
    for page in (
        portal.get(f"/portal/{shop.slug}/licences/{shop.ann['id']}"),
        staff.client.get(f"/dashboard/licenses/{shop.ann['id']}"),
    ):
        text = page.get_data(as_text=True)
        assert hostile not in text and "1<b>" not in text
        assert "WordPress &lt;script&gt;x&lt;/script&gt;" in text
        assert "Theme 1&lt;b&gt;" in text and "PHP 8&#34;&#39;&amp;" in text


def test_nothing_is_recorded_for_a_domain_without_an_activation(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    answer = _check(
        client, shop.ann["key"], "never-activated.com",
        version="7.1.0", wp_version="6.5", php_version="8.2",
    )  # fmt: skip
    assert answer["code"] == "DOMAIN_NOT_ACTIVATED"
    # another vendor's product: the key is Ann's at Other Shop, on its own site
    other = client.post(
        "/v1/updates/check",
        json={
            "license_key": shop.ann_other["key"], "domain": "ann-other.com",
            "product": "jannah", "version": "9.9.9",
        },
    )  # fmt: skip
    assert other.status_code in (200, 404)
    assert len(runtime.of(app).site_versions) == 0
    _flush(app)
    with app.app_context():
        reported = db.session.scalars(
            select(Activation.domain).where(Activation.theme_version.is_not(None))
        ).all()
    assert reported == []


def test_an_update_check_sends_no_statement_more_for_the_versions(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    key = shop.ann["key"]
    _check(client, key, "old-site.com", version="1.0.0")  # warm the caches
    _flush(app)
    with sql_statements(app) as bare:
        _check(client, key, "second-site.com", version="1.0.0")
    with sql_statements(app) as reported:
        _check(
            client, key, "old-site.com",
            version="7.1.0", wp_version="6.5", php_version="8.2",
        )  # fmt: skip
    assert len(reported) == len(bare), (bare, reported)
    assert not [s for s in reported if "theme_version" in s]
    assert len(runtime.of(app).site_versions) == 2  # both queued for the flush
    with sql_statements(app) as flushed:
        _flush(app)
    writes = [s for s in flushed if "theme_version" in s]
    assert len(writes) == 1 and writes[0].lstrip().upper().startswith("UPDATE")


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.unit
def test_the_buffer_skips_a_report_written_lately_and_cuts_long_values() -> None:
    clock = _Clock()
    buffer = SiteVersionBuffer(interval=10, rewrite_after=3600, clock=clock)
    site = uuid.uuid4()
    same = Reported.of("7.1.0", "6.5", "8.2")
    buffer.add(site, same, datetime.now(UTC))
    assert len(buffer) == 1 and not buffer.due()
    clock.now += 10
    assert buffer.due()
    buffer._remember(buffer._pending)  # as a successful flush does
    buffer._pending.clear()
    buffer.add(site, same, datetime.now(UTC))
    assert len(buffer) == 0  # unchanged and written within the hour: no write
    buffer.add(site, Reported.of("7.2.0", "6.5", "8.2"), datetime.now(UTC))
    assert len(buffer) == 1  # an upgrade is written
    buffer._pending.clear()
    clock.now += 3600
    buffer.add(site, same, datetime.now(UTC))
    assert len(buffer) == 1  # an hour on, the same versions are written again
    long = Reported.of("9" * 100, "6" * 50, "  ")
    assert (len(long.theme or ""), len(long.wp or ""), long.php) == (64, 32, None)
    assert Reported.of(None, "", " ").empty
