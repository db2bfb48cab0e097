"""Releases, webhooks, the EDD mapping and the update numbers in a real browser.

An owner maps EDD items, uploads a release, previews its notes, publishes and
yanks it, and deletes one never published; adds a v1 webhook endpoint, sees its
secret once, sends a test event to a receiver on 127.0.0.1, sees the delivery and
rotates the secret; the overview shows validations by
result code and the update shares. Support and viewers are refused, in the page
and by the server; a POST without CSRF is refused. Every page is checked with
axe-core and screenshotted into ``tests/web/artifacts/``; every request goes to
127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from license_server.extensions import db
from license_server.webhooks.runner import Runner
from tests.client.conftest import LiveServer
from tests.conftest import VendorFixture, create_license, public_call
from tests.server.updates_support import activate, check, fetch, publish, theme_zip
from tests.server.webhook_support import Receiver, Reply, webhook_app
from tests.web.browser_support import Visit, browser
from tests.web.conftest import add_staff

__all__ = ["browser"]  # the fixture, imported for pytest to find
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app whose webhooks may go to loopback over http (tests only)."""
    application = webhook_app(database_url, tmp_path / "instance")
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def team(app: Flask, vendor: VendorFixture, product: Any) -> dict[str, Any]:
    """An owner, a support and a viewer account of the vendor."""
    for role in ("owner", "support", "viewer"):
        add_staff(app, vendor, f"{role}@example.com", role)
    return product  # type: ignore[no-any-return]


def _signed_in(browser: Any, server: LiveServer, role: str) -> Visit:
    visit = Visit(browser, server.url, f"updates-{role}")
    visit.sign_in(f"{role}@example.com")
    visit.page.wait_for_url("**/dashboard/")
    return visit


def _status(visit: Visit) -> str:
    text: str = visit.page.locator("[role=status]").first.inner_text()
    return text


def test_owner_maps_edd_uploads_publishes_and_yanks(
    browser: Any, live_server: LiveServer, team: dict[str, Any], tmp_path: Path
) -> None:
    visit = _signed_in(browser, live_server, "owner")
    page = visit.page
    page.click("nav >> text=Products")
    page.click("a:has-text('Jannah')")
    visit.check("product")
    page.fill("#item_ids", "1234, 88")
    page.fill("#item_names", "Jannah Theme\nJannah (old name)")
    page.click("button:has-text('Save the EDD mapping')")
    assert _status(visit) == "EDD mapping saved."
    assert page.locator("dd.mono").first.inner_text() == "88, 1234"
    visit.check("product-edd-saved")
    page.fill("#item_ids", "twelve")
    page.click("button:has-text('Save the EDD mapping')")
    assert "is not a number" in page.locator("#item_ids-error").inner_text()
    visit.check("product-edd-error")
    page.click("a:has-text('Releases of Jannah')")
    assert "No releases yet" in page.content()
    visit.check("releases-empty")
    package = tmp_path / "jannah-2.0.0.zip"
    package.write_bytes(theme_zip("jannah", "2.0.0"))
    page.fill("#version", "2.0.0")
    page.set_input_files("#package", str(package))
    page.fill("#requires_php", "7.4")
    page.fill("#changelog", "## 2.0.0\n\n* New **header** builder")
    page.click("button:has-text('Upload as an unpublished release')")
    assert "uploaded and signed" in _status(visit)
    assert page.locator("h1 .badge").inner_text() == "unpublished"
    assert page.locator(".changelog strong").inner_text() == "header"
    visit.check("release-uploaded")
    page.click("summary:has-text('Edit the notes')")
    page.fill("#changelog", "* Fixed the *footer*")
    page.click("button:has-text('Preview')")
    assert page.locator(".changelog em").inner_text() == "footer"
    assert "preview, not saved" in page.locator("#notes-heading").inner_text()
    visit.check("release-preview")
    page.click("button:has-text('Save')")
    assert _status(visit) == "Release notes saved."
    page.click("button:has-text('Publish')")
    assert "is published" in _status(visit)
    assert page.locator("h1 .badge").inner_text() == "published"
    visit.check("release-published")
    page.click("button:has-text('Yank…')")
    visit.check("yank-confirm")
    page.fill("#reason", "Breaks the footer on PHP 7.4")
    page.click("button:has-text('Yes, yank 2.0.0')")
    assert "yanked for good" in _status(visit)
    assert page.locator("h1 .badge").inner_text() == "yanked"
    visit.check("release-yanked")
    page.click("a:has-text('Releases of Jannah')")
    row = page.locator("tbody tr").first.inner_text()
    assert "2.0.0" in row and "yanked" in row and " bytes" in row
    visit.check("releases")
    page.click("nav >> text=Events")
    assert "release.yanked" in page.locator("tbody tr").first.inner_text()
    assert "user:" in page.locator("tbody tr").first.inner_text()
    visit.close()


def test_owner_deletes_a_release_never_published(
    browser: Any, live_server: LiveServer, team: dict[str, Any], tmp_path: Path
) -> None:
    visit = _signed_in(browser, live_server, "owner")
    page = visit.page
    page.click("nav >> text=Products")
    page.click("a:has-text('Jannah')")
    page.click("a:has-text('Releases of Jannah')")
    package = tmp_path / "jannah-3.0.0.zip"
    package.write_bytes(theme_zip("jannah", "3.0.0"))
    page.fill("#version", "3.0.0")
    page.set_input_files("#package", str(package))
    page.click("button:has-text('Upload as an unpublished release')")
    assert page.locator("h1 .badge").inner_text() == "unpublished"
    page.click("button:has-text('Delete…')")
    assert "never published" in page.content()
    visit.check("release-delete-confirm")
    page.click("button:has-text('Yes, delete')")
    assert _status(visit) == "Release 3.0.0 deleted."
    assert "No releases yet" in page.content()
    visit.check("releases-after-delete")
    visit.close()


def test_owner_adds_a_webhook_sees_the_secret_once_and_the_delivery(
    app: Flask, browser: Any, live_server: LiveServer, team: dict[str, Any]
) -> None:
    visit = _signed_in(browser, live_server, "owner")
    page = visit.page
    page.click("nav >> text=Webhooks")
    assert "No endpoints yet" in page.content()
    visit.check("webhooks-empty")
    with Receiver(Reply(200, body=b"thanks, got it")) as receiver:
        page.fill("#url", receiver.url)
        page.fill("#description", "CRM sync")
        page.check("input[name=scheme][value=v1]")
        page.click("button:has-text('Add endpoint')")
        secret = page.locator("#webhook-secret").inner_text().strip()
        assert secret.startswith("whsec_")
        visit.check("webhook-secret")
        page.click("a:has-text('Go to the endpoint')")
        assert secret not in page.content()
        assert "No deliveries yet" in page.content()
        visit.check("webhook")
        page.click("button:has-text('Send a test event')")
        assert "Test event queued" in _status(visit)
        assert Runner(app).tick() == 1
        assert receiver.requests[0].event["type"] == "test.ping"
    page.reload()
    delivery = page.locator("section.delivery").first
    assert "test.ping" in delivery.locator("h3").inner_text()
    assert delivery.locator("h3 .badge").inner_text() == "delivered"
    assert "thanks, got it" in delivery.locator("tbody").inner_text()
    assert secret not in page.content()
    visit.check("webhook-delivered")
    page.click("button:has-text('Rotate the secret…')")
    assert "signed with both the new and the old secret" in page.content()
    visit.check("webhook-rotate-confirm")
    page.click("button:has-text('Yes, rotate the secret')")
    rotated = page.locator("#webhook-secret").inner_text().strip()
    assert rotated.startswith("whsec_") and rotated != secret
    assert "The old secret also signs every delivery until" in page.content()
    visit.check("webhook-secret-rotated")
    page.click("a:has-text('Go to the endpoint')")
    assert rotated not in page.content()
    page.click("button:has-text('Disable')")
    assert "Endpoint disabled" in _status(visit)
    page.click("button:has-text('Delete…')")
    visit.check("webhook-delete-confirm")
    page.click("button:has-text('Yes, delete')")
    assert _status(visit) == "Endpoint deleted."
    visit.close()


def test_support_and_viewer_are_refused_and_csrf_is_required(
    client: FlaskClient,
    vendor: VendorFixture,
    browser: Any,
    live_server: LiveServer,
    team: dict[str, Any],
) -> None:
    release = publish(client, vendor, team["id"], "1.5.0", publish=False)
    path = f"/dashboard/releases/{release['id']}"
    viewer = _signed_in(browser, live_server, "viewer")
    viewer.go(path)
    assert viewer.page.locator("button:has-text('Publish')").count() == 0
    viewer.check("release")
    answer = viewer.context.request.post(
        f"{live_server.url}{path}/publish", form={"csrf_token": viewer.csrf()}
    )
    assert answer.status == 403
    viewer.close()
    support = _signed_in(browser, live_server, "support")
    assert support.page.locator("nav >> text=Webhooks").count() == 0
    assert support.go("/dashboard/webhooks").status == 403
    answer = support.context.request.post(
        f"{live_server.url}{path}/publish", form={"csrf_token": support.csrf()}
    )
    assert answer.status == 403
    support.close()
    owner = _signed_in(browser, live_server, "owner")
    refused = owner.context.request.post(f"{live_server.url}{path}/publish", form={})
    assert refused.status == 400 and "reload the page" in refused.text()
    listed = client.get(
        f"/v1/admin/releases/{release['id']}", headers=vendor.headers
    ).get_json()
    assert listed["published_at"] is None
    owner.close()


def test_overview_shows_codes_downloads_and_shares(
    client: FlaskClient,
    vendor: VendorFixture,
    browser: Any,
    live_server: LiveServer,
    team: dict[str, Any],
) -> None:
    license = create_license(client, vendor)
    activate(client, license["key"])
    publish(client, vendor, team["id"], "1.1.0")
    for domain in ("example.com", "example.com", "unknown-site.com"):
        public_call(
            client,
            "validate",
            license_key=license["key"],
            domain=domain,
            product="jannah",
        )
    for wp, php in (("6.5.2", "8.2.1"), ("6.4.1", "8.1.0"), ("6.5.0", "8.2.9")):
        answer = check(client, license["key"], wp_version=wp, php_version=php)
    fetch(client, answer["package"])
    visit = _signed_in(browser, live_server, "viewer")
    page = visit.page
    visit.check("overview")
    legend = page.locator("#validations-heading ~ ul.legend, figure ul.legend").all()
    assert any("DOMAIN_NOT_ACTIVATED" in item.inner_text() for item in legend)
    details = page.locator("details.data:has-text('by result code')")
    details.locator("summary").click()
    header = details.locator("thead").inner_text()
    assert "VALID" in header and "DOMAIN_NOT_ACTIVATED" in header
    shares = page.locator("details.data:has-text('PHP versions')")
    shares.locator("summary").click()
    assert "66.7 %" in shares.inner_text() and "8.2" in shares.inner_text()
    downloads = page.locator("details.data:has-text('downloads per release')")
    downloads.locator("summary").click()
    visit.check("overview-open")
    assert "1.1.0" in downloads.inner_text()
    visit.close()
