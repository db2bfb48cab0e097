"""Store webhooks issue licences once, refuse bad signatures, act on refunds.

For each store: a signed purchase issues exactly one licence (and queues its key
for the buyer), a replay issues none, a bad signature or an old timestamp is refused
with a JSON 400 and logged, and a refund revokes or lapses as the mapping says.
The race test sends one event from many threads at once: removing the receipt
(``inbound._claim``, the unique ``(connection, dedupe_key)``) makes it fail with one
licence per thread.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server.extensions import db
from license_server.models import License
from license_server.models.portal import MailMessage
from license_server.webhooks.runner import Runner
from tests.conftest import VendorFixture, create_product, public_call
from tests.server.channel_support import (
    ADMIN,
    connect,
    generic_order,
    lemon,
    lemon_order,
    license_count,
    logged,
    map_product,
    send_event,
    stripe_checkout,
    stripe_refund,
    woo_order,
)
from tests.server.test_seat_races import race

# store kind -> (mapped store id, purchase body, refund body)
PURCHASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "stripe": ("price_jannah", stripe_checkout(), stripe_refund()),
    "woocommerce": ("77", woo_order("completed"), woo_order("refunded")),
    "lemonsqueezy": (
        "301",
        lemon_order(),
        lemon("order_refunded", "orders", "9001", status="refunded"),
    ),
    "generic": (
        "jannah-yearly",
        generic_order(),
        {"type": "order.refunded", "data": {"order_id": "A-1"}},
    ),
}


def _licenses(app: Flask) -> list[License]:
    with app.app_context():
        return list(db.session.scalars(select(License).order_by(License.created_at)))


@pytest.fixture
def shop(client: FlaskClient, vendor: VendorFixture) -> None:
    create_product(client, vendor)


@pytest.mark.parametrize("kind", sorted(PURCHASES))
def test_a_signed_purchase_issues_one_licence_and_a_replay_none(
    app: Flask, client: FlaskClient, vendor: VendorFixture, shop: None, kind: str
) -> None:
    external, purchase, _ = PURCHASES[kind]
    connection = connect(client, vendor, kind)
    assert connection["secret"] and connection["inbound_url"].endswith("/events")
    map_product(client, vendor, connection, external, max_domains=3, duration_days=365)
    status, answer = send_event(client, connection, purchase, msg_id="msg_same")
    assert (status, answer["outcome"]) == (200, "issued"), answer
    (issued,) = _licenses(app)
    assert answer["license_ids"] == [str(issued.id)]
    assert issued.customer_email == "buyer@example.com"
    assert issued.max_domains == 3 and issued.expires_at is not None
    assert issued.meta["channel"] == kind
    with app.app_context():  # the key's mail is queued with the licence
        (mail,) = db.session.scalars(select(MailMessage)).all()
        assert (mail.to_addr, mail.template) == (
            "buyer@example.com",
            "license_delivered",
        )
    # the same event again (the store's redelivery): nothing more
    status, again = send_event(client, connection, purchase, msg_id="msg_same")
    assert (status, again["outcome"]) == (200, "duplicate")
    assert license_count(app) == 1
    # the licence's creation is in the vendor's chain
    events = client.get(
        f"/v1/admin/events?subject_id={issued.id}", headers=vendor.headers
    ).get_json()["data"]
    assert [event["action"] for event in events] == ["license.created"]
    log = client.get(f"{ADMIN}/events", headers=vendor.headers).get_json()["data"]
    assert [entry["outcome"] for entry in log] == ["duplicate", "issued"]


@pytest.mark.parametrize("kind", sorted(PURCHASES))
@pytest.mark.parametrize("policy", ["revoke", "lapse"])
def test_a_refund_acts_as_the_mapping_says(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    shop: None,
    kind: str,
    policy: str,
) -> None:
    external, purchase, refund = PURCHASES[kind]
    connection = connect(client, vendor, kind)
    map_product(client, vendor, connection, external, refund_policy=policy)
    assert send_event(client, connection, purchase)[1]["outcome"] == "issued"
    before = datetime.now(UTC)
    status, answer = send_event(client, connection, refund)
    expected = "revoked" if policy == "revoke" else "lapsed"
    assert (status, answer["outcome"]) == (200, expected), answer
    (license,) = _licenses(app)
    if policy == "revoke":
        assert license.status == "revoked"
    else:
        assert license.status == "active"
        assert license.expires_at is not None
        assert before - timedelta(seconds=5) <= license.expires_at <= datetime.now(UTC)
    assert send_event(client, connection, refund)[1]["outcome"] in {
        "duplicate",
        "unchanged",
    }


@pytest.mark.parametrize("kind", sorted(PURCHASES))
def test_a_bad_signature_is_refused_and_logged(
    app: Flask, client: FlaskClient, vendor: VendorFixture, shop: None, kind: str
) -> None:
    external, purchase, _ = PURCHASES[kind]
    connection = connect(client, vendor, kind)
    map_product(client, vendor, connection, external)
    status, answer = send_event(
        client, connection, purchase, secret="whsec_bm90LXRoZS1zZWNyZXQ="
    )
    assert (status, answer["code"]) == (400, "INVALID_SIGNATURE")
    status, answer = send_event(client, connection, purchase, headers={})
    assert (status, answer["code"]) == (400, "INVALID_SIGNATURE")
    assert license_count(app) == 0
    log = logged(app)
    assert [outcome for outcome, _ in log] == ["refused", "refused"]
    # the log holds why, never the body (no buyer e-mail) or the secret
    assert all("INVALID_SIGNATURE" in (reason or "") for _, reason in log)
    assert not any("buyer@" in (reason or "") for _, reason in log)


@pytest.mark.parametrize("kind", ["stripe", "generic"])
def test_an_old_timestamp_is_refused_and_logged(
    app: Flask, client: FlaskClient, vendor: VendorFixture, shop: None, kind: str
) -> None:
    external, purchase, _ = PURCHASES[kind]
    connection = connect(client, vendor, kind)
    map_product(client, vendor, connection, external)
    old = int(time.time()) - 301
    status, answer = send_event(client, connection, purchase, at=old)
    assert (status, answer["code"]) == (400, "SIGNATURE_EXPIRED")
    assert license_count(app) == 0
    assert logged(app)[0][0] == "refused"
    # within the tolerance it is fine
    status, answer = send_event(client, connection, purchase, at=old + 10)
    assert answer["outcome"] == "issued"


def test_an_unmapped_product_issues_nothing_until_mapped(
    app: Flask, client: FlaskClient, vendor: VendorFixture, shop: None
) -> None:
    connection = connect(client, vendor, "stripe")
    status, answer = send_event(client, connection, stripe_checkout("price_other"))
    assert (status, answer["outcome"]) == (200, "unmapped")
    assert license_count(app) == 0
    map_product(client, vendor, connection, "price_other")
    # the store's resend after the vendor added the mapping issues it
    assert send_event(client, connection, stripe_checkout("price_other"))[1][
        "outcome"
    ] == ("issued")


def test_stripe_subscription_checkout_and_first_invoice_issue_once_then_renew(
    app: Flask, client: FlaskClient, vendor: VendorFixture, shop: None
) -> None:
    connection = connect(client, vendor, "stripe")
    map_product(client, vendor, connection, "price_year", duration_days=365)
    invoice = {
        "id": "evt_inv1",
        "type": "invoice.paid",
        "data": {
            "object": {
                "id": "in_1",
                "subscription": "sub_1",
                "billing_reason": "subscription_create",
                "customer_email": "buyer@example.com",
                "lines": {"data": [{"price": {"id": "price_year"}, "quantity": 1}]},
            }
        },
    }
    checkout = stripe_checkout("price_year", event_id="evt_cs", session="cs_sub")
    checkout["data"]["object"].update(mode="subscription", subscription="sub_1")
    # the first invoice may arrive before the checkout: one licence either way
    assert send_event(client, connection, invoice)[1]["outcome"] == "issued"
    assert send_event(client, connection, checkout)[1]["outcome"] == "duplicate"
    (license,) = _licenses(app)
    first_expiry = license.expires_at
    assert first_expiry is not None
    renewal = {
        "id": "evt_inv2",
        "type": "invoice.paid",
        "data": {
            "object": {
                **invoice["data"]["object"],
                "id": "in_2",
                "billing_reason": "subscription_cycle",
            }
        },
    }
    assert send_event(client, connection, renewal)[1]["outcome"] == "renewed"
    assert send_event(client, connection, renewal)[1]["outcome"] == "duplicate"
    (license,) = _licenses(app)
    assert license.expires_at is not None
    assert license.expires_at - first_expiry == timedelta(days=365)
    absurd = {
        "id": "evt_odd",
        "type": "customer.subscription.deleted",
        "data": {"object": {"id": "sub_other", "ended_at": 10**20}},
    }
    assert send_event(client, connection, absurd)[1]["outcome"] == "unmapped"
    ended = {
        "id": "evt_del",
        "type": "customer.subscription.deleted",
        "data": {"object": {"id": "sub_1", "ended_at": int(time.time())}},
    }
    assert send_event(client, connection, ended)[1]["outcome"] == "revoked"
    assert _licenses(app)[0].status == "revoked"


def test_lemonsqueezy_subscription_renews_through_its_link(
    app: Flask, client: FlaskClient, vendor: VendorFixture, shop: None
) -> None:
    connection = connect(client, vendor, "lemonsqueezy")
    map_product(
        client, vendor, connection, "301", duration_days=30, refund_policy="lapse"
    )
    assert send_event(client, connection, lemon_order())[1]["outcome"] == "issued"
    created = lemon("subscription_created", "subscriptions", "55", order_id=9001)
    assert send_event(client, connection, created)[1]["outcome"] == "unchanged"
    paid = lemon(
        "subscription_payment_success",
        "subscription-invoices",
        "700",
        subscription_id=55,
        billing_reason="renewal",
    )
    assert send_event(client, connection, paid)[1]["outcome"] == "renewed"
    expired = lemon(
        "subscription_expired",
        "subscriptions",
        "55",
        order_id=9001,
        ends_at="2026-12-01T00:00:00Z",
        updated_at="2026-12-02T00:00:00Z",
    )
    assert send_event(client, connection, expired)[1]["outcome"] == "lapsed"
    (license,) = _licenses(app)
    assert license.expires_at == datetime(2026, 12, 1, tzinfo=UTC)


def test_woocommerce_ping_and_other_states_are_logged_not_acted_on(
    app: Flask, client: FlaskClient, vendor: VendorFixture, shop: None
) -> None:
    connection = connect(client, vendor, "woocommerce")
    map_product(client, vendor, connection, "77")
    ping = client.post(
        connection["inbound_url"],
        data="webhook_id=12",
        content_type="application/x-www-form-urlencoded",
    )
    assert ping.status_code == 200 and ping.get_json()["outcome"] == "ignored"
    assert send_event(client, connection, woo_order("processing"))[1]["outcome"] == (
        "ignored"
    )
    assert license_count(app) == 0
    assert [outcome for outcome, _ in logged(app)] == ["ignored", "ignored"]


def test_unknown_or_disabled_connection_is_404_json(
    client: FlaskClient, vendor: VendorFixture, shop: None
) -> None:
    connection = connect(client, vendor, "generic")
    client.patch(
        f"{ADMIN}/connections/{connection['id']}",
        json={"enabled": False},
        headers=vendor.headers,
    )
    status, answer = send_event(client, connection, generic_order())
    assert (status, answer["code"]) == (404, "NOT_FOUND")


def test_a_signed_but_malformed_body_is_a_400_and_logged(
    app: Flask, client: FlaskClient, vendor: VendorFixture, shop: None
) -> None:
    connection = connect(client, vendor, "generic")
    status, answer = send_event(client, connection, {"type": "order.paid", "data": {}})
    assert (status, answer["code"]) == (400, "MALFORMED_EVENT")
    assert logged(app)[0][0] == "failed"


def test_a_redelivery_racing_itself_issues_one_licence(
    app: Flask, client: FlaskClient, vendor: VendorFixture, shop: None
) -> None:
    connection = connect(client, vendor, "stripe")
    map_product(client, vendor, connection, "price_jannah")

    def send(http: FlaskClient, body: dict[str, Any]) -> tuple[int, str]:
        status, answer = send_event(http, connection, body)
        return status, answer.get("outcome") or answer.get("code")

    results = race(app, [stripe_checkout()] * 8, send)
    assert Counter(results) == Counter({(200, "issued"): 1, (200, "duplicate"): 7})
    assert license_count(app) == 1


class Inbox:
    """A mail sender that keeps what it is given (the worker's ``mail_sender``)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.from_addr = "licenses@acme.example"

    def send(self, message: EmailMessage) -> str:
        self.messages.append(message)
        return "kept"


def test_the_buyer_receives_a_working_key_by_mail(
    app: Flask, client: FlaskClient, vendor: VendorFixture, shop: None
) -> None:
    connection = connect(client, vendor, "woocommerce")
    map_product(client, vendor, connection, "77")
    assert send_event(client, connection, woo_order("completed"))[1]["outcome"] == (
        "issued"
    )
    inbox = Inbox()
    Runner(app, mail_sender=inbox).tick()
    (message,) = inbox.messages
    assert message["To"] == "buyer@example.com"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    key = next(word for word in text.split() if word.startswith("JAN-"))
    status, answer = public_call(
        client, "activate", license_key=key, domain="buyer-site.com", product="jannah"
    )
    assert (status, answer["code"]) == (201, "VALID")
