"""The customer portal in a real browser, with a real SMTP server on loopback.

A site owner asks for a link, the worker mails it (aiosmtpd takes it), she follows
it, sees her licences and not another customer's, shows her key, moves a domain
(the old seat is free, the new domain validates, the event, the webhook row and
the mail exist), downloads the theme, and a second move is refused by the limit;
a used link is refused. A link mailed while the SMTP server is down arrives once
it is back. Every page passes axe-core (no serious or critical violation), is
screenshotted into ``tests/web/artifacts/portal-*.png``, and loads nothing from
anywhere but 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server.extensions import db
from license_server.models import Event
from license_server.models.webhooks import WebhookMessage
from license_server.webhooks.runner import Runner
from tests.client.conftest import LiveServer, serve
from tests.conftest import VendorFixture, make_app, public_call
from tests.mail_support import Inbox, SmtpServer, smtp_server  # noqa: F401
from tests.server.updates_support import publish
from tests.server.webhook_support import WEBHOOK_CONFIG, Clock, add_endpoint
from tests.web.portal_support import Shop, build_shop
from tests.web.test_browser import Visit, browser  # noqa: F401

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
LINK = re.compile(r"http://127\.0\.0\.1:\d+/portal/\S+/link/\S+")


@pytest.fixture
def app(database_url: str, tmp_path: Path, smtp: SmtpServer) -> Iterator[Flask]:
    """An app that mails through the loopback SMTP server."""
    application = make_app(
        database_url, tmp_path / "instance", **WEBHOOK_CONFIG, **smtp.config()
    )
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The app on a real port; its mailed links point there."""
    running = serve(app)
    app.config["PUBLIC_URL"] = running.url
    yield running
    running.stop()


@pytest.fixture
def shop(app: Flask, client: FlaskClient, vendor: VendorFixture) -> Shop:
    found = build_shop(app, client, vendor)
    publish(client, vendor, found.product_id, "2.1.0")
    add_endpoint(client, vendor, "http://127.0.0.1:9/hook")
    return found


class Worker:
    """The webhook and mail worker, ticked by hand with a clock ahead of real time."""

    def __init__(self, app: Flask) -> None:
        self.clock = Clock()
        self.runner = Runner(app, clock=self.clock)

    def tick(self, ahead: float = 1) -> None:
        """Run one round as if ``ahead`` seconds from now."""
        self.clock.now = datetime.now(UTC) + timedelta(seconds=ahead)
        self.runner.tick()


def _link(message: Any) -> str:
    found = LINK.search(Inbox.text(message))
    assert found, Inbox.text(message)
    return found.group(0)


def _ask(visit: Visit, slug: str, email: str) -> None:
    visit.go(f"/portal/{slug}/sign-in")
    visit.check("sign-in")
    visit.page.fill("#email", email)
    visit.page.click("button:has-text('Send me a sign-in link')")
    assert "a sign-in link is on its way" in visit.page.inner_text("[role=status]")


def test_owner_signs_in_by_mail_moves_a_site_and_downloads(
    app: Flask,
    browser: Any,  # noqa: F811
    live_server: LiveServer,
    shop: Shop,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    once = app.test_client().patch(  # one move a day
        f"/v1/admin/products/{shop.product_id}", json={"max_deactivations": 1},
        headers=shop.vendor.headers,
    )  # fmt: skip
    assert once.status_code == 200, once.get_json()
    worker = Worker(app)
    visit = Visit(browser, live_server.url, "portal")
    page = visit.page
    _ask(visit, shop.slug, "ann@example.com")
    visit.check("link-sent")
    worker.tick()
    (message,) = smtp.inbox.wait_for(1)
    assert message["To"] == "ann@example.com"
    link = _link(message)
    page.goto(link)
    visit.check("link")
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"**/portal/{shop.slug}/")
    visit.check("licences")
    listed = page.inner_text("main")
    assert f"…{shop.ann['key_hint']}" in listed and "2 of 3" in listed
    assert f"…{shop.bob['key_hint']}" not in listed  # another customer's
    assert f"…{shop.ann_other['key_hint']}" not in listed  # another vendor's
    page.click(f"a[href$='/licences/{shop.ann['id']}']")
    visit.check("licence")
    page.click("button:has-text('Show the key')")
    visit.check("key")
    assert shop.ann["key"] in page.inner_text("p.secret")
    page.go_back()
    site = _site_id(page, "old-site.com")
    page.fill(f"#move-{site}", "new-site.com")
    page.click(f"form:has(#move-{site}) button")
    assert "Moved from old-site.com to new-site.com" in page.inner_text("[role=status]")
    visit.check("after-move")
    client = app.test_client()
    _, old = public_call(
        client, "validate", license_key=shop.ann["key"], domain="old-site.com",
        product="jannah",
    )  # fmt: skip
    _, new = public_call(
        client, "validate", license_key=shop.ann["key"], domain="new-site.com",
        product="jannah",
    )  # fmt: skip
    assert (old["code"], new["code"]) == ("DOMAIN_NOT_ACTIVATED", "VALID")
    with app.app_context():
        assert db.session.scalars(
            select(Event).where(Event.action == "activation.moved")
        ).one()
        assert "activation.moved" in set(
            db.session.scalars(select(WebhookMessage.event_type))
        )
    worker.tick()
    moved = smtp.inbox.wait_for(2)[1]
    assert moved["Subject"] == "Jannah moved from old-site.com to new-site.com"
    with page.expect_download() as download:
        page.click("a:has-text('Download for new-site.com')")
    assert download.value.url.startswith(f"{live_server.url}/v1/downloads/")
    assert download.value.path().read_bytes()[:2] == b"PK"
    # the limit: a second move within the day is refused, the site stays
    site = _site_id(page, "second-site.com")
    page.fill(f"#move-{site}", "third-site.com")
    page.click(f"form:has(#move-{site}) button")
    assert "too often" in page.inner_text("[role=alert]")
    assert re.search(r"Try again in (\d+ h )?\d+ min", page.inner_text("main"))
    visit.check("move-refused")
    page.goto(link)  # a used link
    assert "not valid" in page.inner_text("[role=alert]")
    visit.check("link-used")
    visit.go(f"/portal/{shop.slug}/no-such-page")
    visit.check("not-found")
    visit.close()


def _site_id(page: Any, domain: str) -> str:
    label = page.locator(f"label:text-is('Move {domain} to')")
    found: str = label.get_attribute("for").removeprefix("move-")
    return found


def test_a_link_mailed_during_an_outage_arrives_once_smtp_is_back(
    app: Flask,
    browser: Any,  # noqa: F811
    live_server: LiveServer,
    shop: Shop,
    smtp: SmtpServer,
) -> None:
    worker = Worker(app)
    smtp.stop()
    visit = Visit(browser, live_server.url, "portal-outage")
    _ask(visit, shop.slug, "bob@example.com")
    worker.tick()
    assert smtp.inbox.messages == []
    smtp.start()
    worker.tick(ahead=12)
    (message,) = smtp.inbox.wait_for(1)
    visit.page.goto(_link(message))
    visit.page.click("button:has-text('Sign in')")
    visit.page.wait_for_url(f"**/portal/{shop.slug}/")
    listed = visit.page.inner_text("main")
    assert f"…{shop.bob['key_hint']}" in listed
    assert f"…{shop.ann['key_hint']}" not in listed
    # the key sign-in form, and its refusal
    other = Visit(browser, live_server.url, "portal-key")
    other.go(f"/portal/{shop.slug}/sign-in")
    other.page.click("summary:has-text('Or sign in with a licence key')")
    other.page.fill("#license_key", shop.ann["key"])
    other.page.fill("#key_email", "bob@example.com")
    other.page.click("button:has-text('Sign in with the key')")
    assert "do not match" in other.page.inner_text("[role=alert]")
    other.check("key-refused")
    other.close()
    visit.close()
