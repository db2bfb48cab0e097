"""The dashboard in a real browser: Playwright driving Debian's Chromium.

A support person finds a licence by domain, deactivates one site and moves
another, and sees the events; a viewer sees no key and the server refuses their
POST; support cannot reach the keys; a POST without CSRF is refused; an idle
session ends. Every page is checked with axe-core (no serious or critical
violation) and screenshotted into ``tests/web/artifacts/``; every request the
browser makes goes to 127.0.0.1. Without Chromium or Playwright the test skips,
unless ``REQUIRE_BROWSER=1`` (CI), where it fails.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from license_server.extensions import db
from license_server.models.users import WebSession
from tests.client.conftest import LiveServer
from tests.conftest import VendorFixture, create_license, public_call
from tests.web.conftest import PASSWORD, add_staff

ASSETS = Path(__file__).parent / "assets"
ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = (ASSETS / "axe.min.js").read_text(encoding="utf-8")
BAD_IMPACTS = {"serious", "critical"}
# The pages read the same services on either backend, and the test-client suites
# cover PostgreSQL: the slow browser runs once, on SQLite.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason + "; REQUIRE_BROWSER=1 forbids skipping")
    pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium under Playwright (Debian's binary; nothing downloaded)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _skip_or_fail("headless Chromium not found (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=found, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


class Visit:
    """One browser context: checks hosts, runs axe and screenshots each page."""

    def __init__(self, browser: Any, base: str, name: str) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.base = base
        self.name = name
        self.hosts: set[str] = set()
        self.csp_errors: list[str] = []
        self.page.on("request", self._note_host)
        self.page.on("console", self._note_console)

    def _note_host(self, request: Any) -> None:
        self.hosts.add(urllib.parse.urlsplit(request.url).hostname or "")

    def _note_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.csp_errors.append(message.text)

    def go(self, path: str) -> Any:
        """Open a dashboard path."""
        return self.page.goto(self.base + path)

    def check(self, label: str) -> None:
        """Run axe on the page and keep a full-page screenshot of it."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(
            path=str(ARTIFACTS / f"{self.name}-{label}.png"), full_page=True
        )
        self.page.evaluate(AXE)
        result = self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        bad = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]
            if v["impact"] in BAD_IMPACTS
        ]
        assert bad == [], (label, bad)

    def sign_in(self, email: str) -> None:
        """Sign in through the form."""
        self.go("/dashboard/login")
        self.check("login")
        self.page.fill("#email", email)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")

    def csrf(self) -> str:
        """Read this session's CSRF token from the page."""
        token: str = self.page.locator("input[name=csrf_token]").first.input_value()
        return token

    def close(self) -> None:
        """Close the context; every request went to 127.0.0.1, no CSP error."""
        self.context.close()
        assert self.hosts == {"127.0.0.1"}, self.hosts
        assert self.csp_errors == []


@pytest.fixture
def shop(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: Any
) -> dict[str, Any]:
    """A licence with two sites, and an owner, a support and a viewer account."""
    license = create_license(
        client,
        vendor,
        customer_email="ann@example.com",
        customer_name="Ann Lee",
        max_domains=3,
    )
    for domain in ("old-site.com", "second-site.com"):
        status, body = public_call(
            client,
            "activate",
            license_key=license["key"],
            domain=domain,
            product="jannah",
        )
        assert status == 201, body
    for role in ("owner", "support", "viewer"):
        add_staff(app, vendor, f"{role}@example.com", role)
    return license


def test_support_finds_deactivates_and_moves(
    app: Flask, browser: Any, live_server: LiveServer, shop: dict[str, Any]
) -> None:
    visit = Visit(browser, live_server.url, "support")
    page = visit.page
    visit.sign_in("support@example.com")
    page.wait_for_url("**/dashboard/")
    visit.check("overview")
    page.click("text=Licences")
    page.fill("#q", "old-site.com")
    page.click("form[role=search] button")
    visit.check("licences-search")
    page.click(f"a[href$='/licenses/{shop['id']}']")
    visit.check("licence")
    page.click("button:has-text('Deactivate old-site.com')")
    visit.check("confirm-deactivate")
    page.click("button:has-text('Yes, deactivate')")
    assert page.locator("[role=status]").inner_text().startswith("old-site.com is")
    assert (
        page.locator("ol.timeline li")
        .first.inner_text()
        .startswith("activation.deactivated")
    )
    assert "by user:" in page.locator("ol.timeline li").first.inner_text()
    page.fill("[id^=move-]", "moved-site.com")
    page.click("button:has-text('Move')")
    assert "Moved to moved-site.com" in page.locator("[role=status]").inner_text()
    visit.check("licence-after-move")
    live = page.locator("td.mono").all_inner_texts()
    assert "moved-site.com" in live
    status, answer = public_call(
        app.test_client(),
        "validate",
        license_key=shop["key"],
        domain="moved-site.com",
        product="jannah",
    )
    assert answer["code"] == "VALID"
    visit.go("/dashboard/")
    rows = page.locator("details.data").first
    rows.locator("summary").click()
    today = datetime.now(UTC).date()
    cell = rows.locator(
        f"tr:has(th:text-is('{today.isoformat()}')) td"
    ).all_inner_texts()
    assert cell[:2] == ["3", "2"]  # 2 activations + the move; 1 deactivation + the move
    response = visit.go("/dashboard/api-keys")
    assert response.status == 403
    visit.check("support-forbidden")
    visit.close()


def test_viewer_sees_no_key_and_server_refuses(
    browser: Any, live_server: LiveServer, shop: dict[str, Any]
) -> None:
    visit = Visit(browser, live_server.url, "viewer")
    visit.sign_in("viewer@example.com")
    visit.page.wait_for_url("**/dashboard/")
    visit.go(f"/dashboard/licenses/{shop['id']}")
    visit.check("licence")
    text = visit.page.content()
    assert shop["key"] not in text
    assert visit.page.locator("button:has-text('Show the key')").count() == 0
    assert visit.page.locator("button:has-text('Deactivate')").count() == 0
    token = visit.csrf()
    answer = visit.context.request.post(
        f"{live_server.url}/dashboard/licenses/{shop['id']}/key",
        form={"csrf_token": token},
    )
    assert answer.status == 403 and shop["key"] not in answer.text()
    visit.close()


def test_csrf_missing_and_session_expiry(
    app: Flask, browser: Any, live_server: LiveServer, shop: dict[str, Any]
) -> None:
    visit = Visit(browser, live_server.url, "owner")
    visit.sign_in("owner@example.com")
    visit.page.wait_for_url("**/dashboard/")
    url = f"{live_server.url}/dashboard/licenses/{shop['id']}/status/suspend"
    refused = visit.context.request.post(url, form={"days": "1"})
    assert refused.status == 400 and "reload the page" in refused.text()
    with app.app_context():
        db.session.execute(
            update(WebSession).values(
                last_seen_at=datetime.now(UTC) - timedelta(hours=2)
            )
        )
        db.session.commit()
    visit.go("/dashboard/licenses")
    assert "/dashboard/login" in visit.page.url
    visit.close()


OWNER_PAGES = [
    ("overview", "/dashboard/"),
    ("licences", "/dashboard/licenses"),
    ("licence-new", "/dashboard/licenses/new"),
    ("products", "/dashboard/products"),
    ("product-new", "/dashboard/products/new"),
    ("api-keys", "/dashboard/api-keys"),
    ("signing-keys", "/dashboard/signing-keys"),
    ("users", "/dashboard/users"),
    ("events", "/dashboard/events"),
    ("sales", "/dashboard/sales"),
    ("account", "/dashboard/account"),
    ("totp", "/dashboard/account/totp"),
]


def test_every_owner_page_is_accessible(
    client: FlaskClient,
    vendor: VendorFixture,
    browser: Any,
    live_server: LiveServer,
    shop: dict[str, Any],
) -> None:
    visit = Visit(browser, live_server.url, "owner")
    visit.sign_in("owner@example.com")
    visit.page.wait_for_url("**/dashboard/")
    products = client.get("/v1/admin/products", headers=vendor.headers).get_json()
    pages = [
        *OWNER_PAGES,
        ("licence", f"/dashboard/licenses/{shop['id']}"),
        ("product", f"/dashboard/products/{products['data'][0]['id']}"),
    ]
    for label, path in pages:
        response = visit.go(path)
        assert response.status == 200, path
        visit.check(label)
    visit.go("/dashboard/events")
    visit.page.click("button:has-text('Verify the event chain')")
    assert "verifies" in visit.page.locator("[role=status]").inner_text()
    visit.check("events-verified")
    visit.page.click("text=API keys")
    visit.page.fill("#name", "shop")
    visit.page.click("button:has-text('Create key')")
    assert visit.page.locator("#api-key").inner_text().strip()
    visit.check("api-key-shown")
    visit.go(f"/dashboard/licenses/{shop['id']}")
    visit.page.click("button:has-text('Show the key')")
    assert visit.page.locator("#license-key").inner_text() == shop["key"]
    visit.check("key-shown")
    visit.go("/dashboard/users")
    visit.page.fill("#email", "newcomer@example.com")
    visit.page.click("button:has-text('Create invitation link')")
    link = visit.page.locator("#link").inner_text().strip()
    visit.check("invitation-shown")
    assert visit.go("/dashboard/no-such-page").status == 404
    visit.check("not-found")
    visit.close()
    guest = Visit(browser, live_server.url, "guest")
    guest.go(urllib.parse.urlsplit(link).path)
    guest.check("invitation")
    guest.page.fill("#name", "New Person")
    guest.page.fill("#password", PASSWORD)
    guest.page.fill("#password_again", PASSWORD)
    guest.page.click("button:has-text('Set password')")
    assert "Your password is set" in guest.page.locator("[role=status]").inner_text()
    guest.sign_in("newcomer@example.com")
    guest.page.wait_for_url("**/dashboard/")
    guest.close()
