"""The dashboard's move is the portal's move service: one event, webhook, mail.

Support staff move a site from the licence page: one transaction, the new domain
takes the seat the old one frees (a one-seat licence proves it), one
``activation.moved`` event (actor the staff member) that queues the webhook, the
customer's ``domain_moved`` mail; and it does not count against the licence's
deactivation limit, which stays the customer's.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server.extensions import db
from license_server.models import Activation, Event
from license_server.models.webhooks import WebhookMessage
from tests.conftest import VendorFixture, make_app, public_call
from tests.server.webhook_support import WEBHOOK_CONFIG, add_endpoint
from tests.web.conftest import signed_in
from tests.web.portal_support import PUBLIC_URL, Shop, build_shop, mailed


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Any:
    application = make_app(
        database_url, tmp_path / "instance", PUBLIC_URL=PUBLIC_URL, **WEBHOOK_CONFIG
    )
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def shop(app: Flask, client: FlaskClient, vendor: VendorFixture) -> Shop:
    return build_shop(app, client, vendor)


def _site(app: Flask, domain: str) -> uuid.UUID:
    with app.app_context():
        found = db.session.scalar(
            select(Activation.id).where(
                Activation.domain == domain, Activation.deactivated_at.is_(None)
            )
        )
        db.session.remove()
    assert found is not None, domain
    return found


def _code(client: FlaskClient, key: str, domain: str) -> str:
    status, body = public_call(
        client, "validate", license_key=key, domain=domain, product="jannah"
    )
    return str(body["code"])


def test_a_staff_move_is_one_event_with_its_webhook_and_mail(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    add_endpoint(client, shop.vendor, "http://127.0.0.1:9/hook")
    support = signed_in(app, shop.vendor, "support")
    old = _site(app, "bob-site.com")  # Bob's licence has one seat, and it is taken
    moved = support.post(
        f"/dashboard/activations/{old}/move", {"domain": "Bob-New.com"}
    )
    assert moved.status_code == 302, moved.get_data(as_text=True)[:400]
    assert _code(client, shop.bob["key"], "bob-new.com") == "VALID"
    assert _code(client, shop.bob["key"], "bob-site.com") == "DOMAIN_NOT_ACTIVATED"
    with app.app_context():
        ended = db.session.get_one(Activation, old)
        assert ended.deactivated_at is not None and not ended.deactivated_by_owner
        events = list(
            db.session.scalars(
                select(Event)
                .where(Event.action.like("activation.%"))
                .order_by(Event.id.desc())
            )
        )
        latest = events[0]
        assert latest.action == "activation.moved"
        assert latest.data["from_domain"] == "bob-site.com"
        assert latest.data["domain"] == "bob-new.com"
        assert latest.data["from_activation_id"] == str(old)
        assert latest.actor.startswith("user:")
        # the move is that one event: no deactivation or activation of its own
        bobs = [
            e.action
            for e in events
            if {e.data.get("domain"), e.data.get("from_domain")}
            & {"bob-site.com", "bob-new.com"}
        ]
        assert bobs == ["activation.moved", "activation.created"]  # + the first
        types = list(db.session.scalars(select(WebhookMessage.event_type)))
        assert types.count("activation.moved") == 1
        assert "activation.deactivated" not in types
        db.session.remove()
    (note,) = mailed(app, "domain_moved")
    assert (note["to"], note["old_domain"], note["new_domain"]) == (
        "bob@example.com",
        "bob-site.com",
        "bob-new.com",
    )
    assert note["portal_url"] == f"{PUBLIC_URL}/portal/{shop.slug}/"
    page = support.client.get(f"/dashboard/licenses/{shop.bob['id']}")
    assert "activation.moved" in page.get_data(as_text=True)


def test_staff_moves_do_not_spend_the_customers_limit(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    capped = client.patch(
        f"/v1/admin/products/{shop.product_id}", json={"max_deactivations": 1},
        headers=shop.vendor.headers,
    )  # fmt: skip
    assert capped.status_code == 200, capped.get_json()
    support = signed_in(app, shop.vendor, "support")
    domain = "bob-site.com"
    for number in range(3):  # past the product's limit of 1
        target = f"bob-{number}.com"
        answer = support.post(
            f"/dashboard/activations/{_site(app, domain)}/move", {"domain": target}
        )
        assert answer.status_code == 302, (number, answer.status_code)
        domain = target
    status, body = public_call(
        client, "deactivate", license_key=shop.bob["key"], domain=domain
    )
    assert status == 200, body  # the customer's one deactivation is still theirs


def test_a_refused_staff_move_changes_nothing(
    app: Flask, client: FlaskClient, shop: Shop
) -> None:
    support = signed_in(app, shop.vendor, "support")
    old = _site(app, "old-site.com")
    taken = support.post(
        f"/dashboard/activations/{old}/move", {"domain": "second-site.com"}
    )
    assert taken.status_code == 409
    other = _site(app, "ann-other.com")  # another vendor's activation
    assert (
        support.post(
            f"/dashboard/activations/{other}/move", {"domain": "x-site.com"}
        ).status_code
        == 404
    )
    assert _site(app, "old-site.com") == old
    assert _site(app, "ann-other.com") == other
    assert mailed(app, "domain_moved") == []
