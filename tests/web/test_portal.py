"""The customer portal through the test client, on SQLite and PostgreSQL.

Sign-in by one-time link (same answer for known and unknown addresses, single
use, expiring, bound to the asking browser, throttled), by key + e-mail; each
customer sees only their own licences at one vendor; a move is atomic, emits
``activation.moved`` and mails the customer; the limit refuses cycling; the
worker's jobs purge expired links.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from license_server import runtime
from license_server.extensions import db
from license_server.models import Activation, Event
from license_server.models.portal import PortalLink
from license_server.models.webhooks import WebhookMessage
from license_server.webhooks import jobs
from tests.conftest import VendorFixture, make_app, public_call
from tests.server.webhook_support import WEBHOOK_CONFIG, add_endpoint
from tests.web.portal_support import (
    PUBLIC_URL,
    Shop,
    ask_link,
    build_shop,
    link_path,
    mailed,
    post,
    sign_in,
)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app whose mailed links point at PUBLIC_URL."""
    application = make_app(
        database_url, tmp_path / "instance", PUBLIC_URL=PUBLIC_URL, **WEBHOOK_CONFIG
    )
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def shop(app: Flask, client: FlaskClient, vendor: VendorFixture) -> Shop:
    return build_shop(app, client, vendor)


def _page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def _site(app: Flask, license_id: str, domain: str) -> uuid.UUID:
    with app.app_context():
        found = db.session.scalar(
            select(Activation.id).where(
                Activation.license_id == uuid.UUID(license_id),
                Activation.domain == domain,
                Activation.deactivated_at.is_(None),
            )
        )
        assert found is not None
        return found


def test_the_answer_never_says_whether_an_address_is_known(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    known = ask_link(client, shop.slug, "ann@example.com")
    unknown = ask_link(app.test_client(), shop.slug, "nobody-here@example.com")
    assert known.status_code == unknown.status_code == 200
    strip = str.replace
    assert strip(known.get_data(as_text=True), "ann@example.com", "X") == strip(
        unknown.get_data(as_text=True), "nobody-here@example.com", "X"
    )
    assert [m["to"] for m in mailed(app)] == ["ann@example.com"]


def test_a_link_signs_in_once_and_lists_only_this_customers_licences(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    sign_in(app, client, shop.slug, "ANN@example.com ")
    page = _page(client, f"/portal/{shop.slug}/")
    assert f"…{shop.ann['key_hint']}" in page
    assert f"…{shop.ann_spare['key_hint']}" in page
    assert f"…{shop.bob['key_hint']}" not in page  # another customer
    assert f"…{shop.ann_other['key_hint']}" not in page  # another vendor
    assert "2 of 3" in page
    detail = _page(client, f"/portal/{shop.slug}/licences/{shop.ann['id']}")
    assert "old-site.com" in detail and "second-site.com" in detail
    assert "bob-site.com" not in detail
    # the same link again, in a fresh browser or this one: refused
    path = link_path(app)
    assert (
        post(client, path, f"/portal/{shop.slug}/licences/{shop.ann['id']}").status_code
        == 404
    )
    # a session of Acme's portal is no session at the Other Shop's
    response = client.get(f"/portal/{shop.other.slug}/")
    assert response.status_code == 302 and "/sign-in" in response.location


def test_expired_links_and_links_from_another_browser_are_refused(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    ask_link(client, shop.slug, "ann@example.com")
    path = link_path(app)
    stranger = app.test_client()
    assert stranger.get(path).status_code == 403  # not the browser that asked
    clock = runtime.of(app)
    real = clock.clock
    clock.clock = lambda: real() + timedelta(minutes=16)
    try:
        assert client.get(path).status_code == 404
        with app.app_context():  # the worker's jobs purge it
            jobs.run(
                keyring=runtime.of(app).keyring, now=clock.now(), expiring_soon_days=0
            )
            assert db.session.scalar(select(func.count()).select_from(PortalLink)) == 0
    finally:
        clock.clock = real
    assert client.get(path).status_code == 404


def test_a_link_for_one_vendor_does_not_open_another_vendors_portal(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    ask_link(client, shop.slug, "ann@example.com")
    path = link_path(app).replace(
        f"/portal/{shop.slug}/", f"/portal/{shop.other.slug}/"
    )
    assert client.get(path).status_code == 404


def test_link_requests_are_throttled_per_address_known_or_not(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    for _ in range(5):
        assert ask_link(client, shop.slug, "nobody-here@example.com").status_code == 200
    assert ask_link(client, shop.slug, "nobody-here@example.com").status_code == 429
    assert ask_link(client, shop.slug, "ann@example.com").status_code == 200


def test_key_and_email_sign_in_shows_licences_but_not_keys(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    page = f"/portal/{shop.slug}/sign-in"
    wrong = post(
        client,
        f"/portal/{shop.slug}/sign-in/key",
        page,
        license_key=shop.bob["key"],
        email="ann@example.com",
    )
    assert wrong.status_code == 401
    good = post(
        client,
        f"/portal/{shop.slug}/sign-in/key",
        page,
        license_key=shop.ann["key"].lower(),
        email="ann@example.com",
    )
    assert good.status_code == 302
    detail = f"/portal/{shop.slug}/licences/{shop.ann['id']}"
    refused = post(client, f"{detail}/key", detail)
    assert refused.status_code == 403 and shop.ann["key"] not in refused.get_data(
        as_text=True
    )
    linked = app.test_client()
    sign_in(app, linked, shop.slug, "ann@example.com")
    shown = post(linked, f"{detail}/key", detail)
    assert shown.status_code == 200 and shop.ann["key"] in shown.get_data(as_text=True)


def test_move_is_one_step_with_event_webhook_and_mail(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    add_endpoint(client, shop.vendor, "http://127.0.0.1:9/hook")
    sign_in(app, client, shop.slug, "ann@example.com")
    old = _site(app, shop.ann["id"], "old-site.com")
    detail = f"/portal/{shop.slug}/licences/{shop.ann['id']}"
    moved = post(client, f"{detail}/sites/{old}/move", detail, domain="new-site.com")
    assert moved.status_code == 302
    assert "Moved from old-site.com to new-site.com" in _page(client, detail)
    _, gone = public_call(
        client, "validate", license_key=shop.ann["key"], domain="old-site.com",
        product="jannah",
    )  # fmt: skip
    _, new = public_call(
        client, "validate", license_key=shop.ann["key"], domain="new-site.com",
        product="jannah",
    )  # fmt: skip
    assert (gone["code"], new["code"]) == ("DOMAIN_NOT_ACTIVATED", "VALID")
    with app.app_context():
        event = db.session.scalars(
            select(Event).where(Event.action == "activation.moved")
        ).one()
        assert event.data["from_domain"] == "old-site.com"
        assert event.data["domain"] == "new-site.com"
        assert event.actor.startswith("customer:")
        types = list(db.session.scalars(select(WebhookMessage.event_type)))
        assert "activation.moved" in types
    (note,) = mailed(app, "domain_moved")
    assert (note["to"], note["old_domain"], note["new_domain"]) == (
        "Ann@Example.com",
        "old-site.com",
        "new-site.com",
    )
    assert note["portal_url"] == f"{PUBLIC_URL}/portal/{shop.slug}/"


def test_a_refused_move_changes_nothing(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    capped = client.patch(
        f"/v1/admin/products/{shop.product_id}", json={"max_dev_domains": 0},
        headers=shop.vendor.headers,
    )  # fmt: skip
    assert capped.status_code == 200, capped.get_json()
    sign_in(app, client, shop.slug, "ann@example.com")
    old = _site(app, shop.ann["id"], "old-site.com")
    detail = f"/portal/{shop.slug}/licences/{shop.ann['id']}"
    taken = post(client, f"{detail}/sites/{old}/move", detail, domain="second-site.com")
    assert taken.status_code == 409  # already active there
    no_seat = post(client, f"{detail}/sites/{old}/move", detail, domain="shop.test")
    assert no_seat.status_code == 409  # a development host, none allowed
    assert "seat" in no_seat.get_data(as_text=True)
    bad = post(client, f"{detail}/sites/{old}/move", detail, domain="not a domain")
    assert bad.status_code == 400
    assert _site(app, shop.ann["id"], "old-site.com") == old
    assert mailed(app, "domain_moved") == []


def test_the_limit_refuses_cycling_a_licence(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    sign_in(app, client, shop.slug, "ann@example.com")
    detail = f"/portal/{shop.slug}/licences/{shop.ann['id']}"
    domain = "old-site.com"
    answers = []
    for number in range(4):
        site = _site(app, shop.ann["id"], domain)
        target = f"site-{number}.com"
        answer = post(client, f"{detail}/sites/{site}/move", detail, domain=target)
        answers.append(answer.status_code)
        if answer.status_code == 302:
            domain = target
    assert answers == [302, 302, 302, 429]  # the product's default: 3 a day
    assert "try again later" in answer.get_data(as_text=True)
    assert _site(app, shop.ann["id"], domain)  # the refused move kept its seat
    # the public endpoint shares the count: it is spent
    status, body = public_call(
        client, "deactivate", license_key=shop.ann["key"], domain="second-site.com"
    )
    assert (status, body["code"]) == (429, "DEACTIVATION_LIMIT_REACHED")


def test_public_deactivations_spend_the_moves_limit(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    limited = client.patch(
        f"/v1/admin/products/{shop.product_id}", json={"max_deactivations": 1},
        headers=shop.vendor.headers,
    )  # fmt: skip
    assert limited.status_code == 200, limited.get_json()
    status, _ = public_call(
        client, "deactivate", license_key=shop.ann["key"], domain="second-site.com"
    )
    assert status == 200
    sign_in(app, client, shop.slug, "ann@example.com")
    old = _site(app, shop.ann["id"], "old-site.com")
    detail = f"/portal/{shop.slug}/licences/{shop.ann['id']}"
    moved = post(client, f"{detail}/sites/{old}/move", detail, domain="new-site.com")
    assert moved.status_code == 429
    ended = post(client, f"{detail}/sites/{old}/deactivate", detail)
    assert ended.status_code == 429
    assert _site(app, shop.ann["id"], "old-site.com") == old


PORTAL_PATHS = [
    ("get", "/portal/{slug}/licences/{license}"),
    ("post", "/portal/{slug}/licences/{license}/key"),
    ("post", "/portal/{slug}/licences/{license}/sites/{site}/deactivate"),
    ("post", "/portal/{slug}/licences/{license}/sites/{site}/move"),
    ("get", "/portal/{slug}/licences/{license}/sites/{site}/download"),
]


def test_url_map_is_covered_by_the_matrix(app: Flask) -> None:
    rules = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("portal.")
    }
    public = {
        "/portal/<vendor_slug>/sign-in",
        "/portal/<vendor_slug>/sign-in/key",
        "/portal/<vendor_slug>/link/<token>",
        "/portal/<vendor_slug>/sign-out",
        "/portal/<vendor_slug>/",
    }
    covered = {
        path.replace("{slug}", "<vendor_slug>")
        .replace("{license}", "<uuid:license_id>")
        .replace("{site}", "<uuid:site_id>")
        for _, path in PORTAL_PATHS
    }
    assert rules == public | covered


@pytest.mark.parametrize(("method", "path"), PORTAL_PATHS)
def test_isolation_matrix(
    app: Flask, client: FlaskClient, shop: Shop, method: str, path: str
) -> None:
    """Ann's session reaches none of Bob's or the other vendor's objects."""
    sign_in(app, client, shop.slug, "ann@example.com")
    bob_site = _site(app, shop.bob["id"], "bob-site.com")
    other_site = _site(app, shop.ann_other["id"], "ann-other.com")
    own_site = _site(app, shop.ann["id"], "old-site.com")
    cases = [
        (shop.slug, shop.bob["id"], bob_site),  # another customer's
        (shop.slug, shop.ann_other["id"], other_site),  # another vendor's
        (shop.slug, shop.ann["id"], bob_site),  # own licence, foreign site
        (shop.slug, shop.ann_spare["id"], own_site),  # own site, other licence
        (shop.other.slug, shop.ann_other["id"], other_site),  # not signed in there
    ]
    form_page = f"/portal/{shop.slug}/licences/{shop.ann['id']}"
    own = {shop.ann["id"], shop.ann_spare["id"]}
    for slug, license_id, site in cases:
        if "{site}" not in path and license_id in own and slug == shop.slug:
            continue  # her own licence: no foreign object in this URL
        url = path.format(slug=slug, license=license_id, site=site)
        if method == "get":
            response = client.get(url)
        else:
            response = post(client, url, form_page, domain="x-site.com")
        if slug == shop.other.slug:
            assert response.status_code == 302, url
            assert "/sign-in" in response.location
        else:
            assert response.status_code == 404, (url, response.status_code)
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Event)
                .where(
                    Event.actor.like("customer:%"),
                    Event.action.like("activation.%"),
                )
            )
            == 0
        )
    anonymous = app.test_client()
    url = path.format(slug=shop.slug, license=shop.ann["id"], site=own_site)
    response = anonymous.get(url) if method == "get" else anonymous.post(url)
    assert response.status_code in (302, 400)  # sign-in first (POST: CSRF first)


def test_unknown_vendor_and_post_without_csrf(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    assert client.get("/portal/no-such-shop/sign-in").status_code == 404
    assert client.get("/portal/").status_code == 404
    assert "text/html" in client.get("/portal/no-such-shop/").content_type
    response = client.post(
        f"/portal/{shop.slug}/sign-in", data={"email": "ann@example.com"}
    )
    assert response.status_code == 400
    assert mailed(app) == []


def test_download_goes_to_the_entitled_package_url(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    from tests.server.updates_support import fetch, publish

    sign_in(app, client, shop.slug, "ann@example.com")
    site = _site(app, shop.ann["id"], "old-site.com")
    url = f"/portal/{shop.slug}/licences/{shop.ann['id']}/sites/{site}/download"
    none_yet = client.get(url)
    assert none_yet.status_code == 409
    assert "No release has been published yet." in none_yet.get_data(as_text=True)
    publish(client, shop.vendor, shop.product_id, "1.2.0")
    answer = client.get(url)
    assert answer.status_code == 303
    package = answer.location.removeprefix(PUBLIC_URL)
    assert package.startswith("/v1/downloads/")
    got = fetch(client, package)
    assert got.status_code == 200 and got.content_type == "application/zip"
    suspend = client.post(
        f"/v1/admin/licenses/{shop.ann['id']}/suspend", headers=shop.vendor.headers
    )
    assert suspend.status_code == 200
    suspended = client.get(url)
    assert suspended.status_code == 409
    assert "suspended" in suspended.get_data(as_text=True)
    assert fetch(client, package).status_code == 403  # the URL itself re-checks
