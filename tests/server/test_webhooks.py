"""Webhooks end to end in one process: real receivers on loopback, injected clock."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from standardwebhooks.webhooks import WebhookVerificationError

from license_server import runtime
from license_server.extensions import db
from license_server.models import Event, IdempotencyKey, License
from license_server.models.webhooks import WebhookAttempt, WebhookDelivery
from license_server.services import licenses
from license_server.webhooks import metrics
from license_server.webhooks.runner import Runner, settings_from_config
from tests.conftest import VendorFixture, create_license, create_product, new_vendor
from tests.server.webhook_support import (
    Clock,
    Receiver,
    Reply,
    add_endpoint,
    no_jitter,
    receiver_example,
    webhook_app,
)

ADMIN = "/v1/admin"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = webhook_app(database_url, tmp_path / "instance")
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    # a little ahead of the wall clock, so rows the test creates now are due
    return Clock(datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30))


def _runner(app: Flask, clock: Clock, **settings: Any) -> Runner:
    base = dataclasses.replace(settings_from_config(app.config), jitter=no_jitter)
    return Runner(app, settings=dataclasses.replace(base, **settings), clock=clock)


def _deliveries(app: Flask) -> list[WebhookDelivery]:
    with app.app_context():
        return list(db.session.scalars(select(WebhookDelivery)))


def _attempt_times(app: Flask) -> list[datetime]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(WebhookAttempt.attempted_at).order_by(
                    WebhookAttempt.attempted_at
                )
            )
        )


def test_receiver_verifies_v1a_and_v1_with_the_documented_snippet(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
) -> None:
    example = receiver_example()
    add_endpoint(client, vendor, receiver.url + "/a", event_types=["license.created"])
    v1 = add_endpoint(client, vendor, receiver.url + "/b", scheme="v1")
    assert v1["secret"].startswith("whsec_")
    shown = client.get(f"{ADMIN}/webhooks/endpoints/{v1['id']}", headers=vendor.headers)
    assert "secret" not in shown.get_json()  # shown once, on create
    jwks = client.get(f"/v1/vendors/{vendor.slug}/jwks.json").get_json()
    keys = example.webhook_keys(jwks)
    assert len(keys) == 1 and len(jwks["keys"]) == 2  # token key + webhook key
    license = create_license(client, vendor)
    clock.now = datetime.now(UTC)  # the snippet checks the timestamp against now
    assert _runner(app, clock).tick() == 2
    by_path = {r.path: r for r in receiver.requests}
    v1a_event = example.verify_v1a(
        by_path["/hooks/a"].body, by_path["/hooks/a"].headers, keys
    )
    v1_event = example.verify_v1(
        by_path["/hooks/b"].body, by_path["/hooks/b"].headers, v1["secret"]
    )
    for got in (v1a_event, v1_event):
        assert got["type"] == "license.created"
        assert got["vendor"]["slug"] == vendor.slug
        assert got["data"]["license"]["id"] == license["id"]
        assert got["event"]["seq"] > 0 and got["id"].startswith("msg_")
    assert license["key"] not in by_path["/hooks/a"].body.decode()
    # a tampered body, or the other scheme's secret, does not verify
    with pytest.raises(WebhookVerificationError):
        example.verify_v1a(
            by_path["/hooks/a"].body + b" ", by_path["/hooks/a"].headers, keys
        )
    with pytest.raises(WebhookVerificationError):
        example.verify_v1(
            by_path["/hooks/a"].body, by_path["/hooks/a"].headers, v1["secret"]
        )


def test_rotations_sign_with_old_and_new_during_the_overlap(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
) -> None:
    example = receiver_example()
    add_endpoint(client, vendor, receiver.url + "/a")
    v1 = add_endpoint(client, vendor, receiver.url + "/b", scheme="v1")
    old_keys = example.webhook_keys(
        client.get(f"/v1/vendors/{vendor.slug}/jwks.json").get_json()
    )
    rotated = client.post(f"{ADMIN}/webhooks/keys/rotate", headers=vendor.headers)
    assert rotated.status_code == 201
    secret = client.post(
        f"{ADMIN}/webhooks/endpoints/{v1['id']}/rotate-secret", headers=vendor.headers
    ).get_json()["secret"]
    all_keys = example.webhook_keys(
        client.get(f"/v1/vendors/{vendor.slug}/jwks.json").get_json()
    )
    assert len(all_keys) == 2
    create_license(client, vendor)
    _runner(app, Clock(datetime.now(UTC))).tick()
    by_path = {r.path: r for r in receiver.requests}
    a, b = by_path["/hooks/a"], by_path["/hooks/b"]
    assert len(a.headers["webhook-signature"].split()) == 2
    assert len(b.headers["webhook-signature"].split()) == 2
    example.verify_v1a(a.body, a.headers, old_keys)  # a receiver not yet updated
    example.verify_v1a(
        a.body, a.headers, [k for k in all_keys if k not in old_keys][:1] or all_keys
    )
    example.verify_v1(b.body, b.headers, v1["secret"])
    example.verify_v1(b.body, b.headers, secret)
    # after the overlap only the new key and secret sign
    receiver.requests.clear()
    later = Clock(datetime.now(UTC) + timedelta(hours=25))
    create_license(client, vendor)
    _runner(app, later).tick()
    for got in receiver.requests:
        assert len(got.headers["webhook-signature"].split()) == 1


def test_retries_follow_the_schedule_until_the_receiver_is_back(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
) -> None:
    receiver.replies.extend([Reply(500), Reply(502), Reply(500)])
    add_endpoint(client, vendor, receiver.url)
    create_license(client, vendor)
    runner = _runner(app, clock)
    start = clock.now
    retried, delivered = metrics.RETRIED._value.get(), metrics.DELIVERED._value.get()
    made_by = datetime.now(UTC)  # the message was written before this
    runner.tick()
    # its age on the runner's clock (some 29 s ahead), not the wall clock's ~0 s
    # (a fixed 29 failed when setup took over a second on a loaded machine)
    assert metrics.OUTBOX_AGE._value.get() >= (start - made_by).total_seconds() > 20
    for wait in (4, 1, 299, 1, 1799, 1):  # only the scheduled moments send
        clock.advance(wait)
        runner.tick()
    assert metrics.RETRIED._value.get() == retried + 3
    assert metrics.DELIVERED._value.get() == delivered + 1
    assert metrics.OUTBOX_AGE._value.get() == 0
    times = [(t - start).total_seconds() for t in _attempt_times(app)]
    assert times == [0, 5, 305, 2105]
    assert [d.state for d in _deliveries(app)] == ["delivered"]
    assert len(receiver.requests) == 4 and len(set(receiver.ids())) == 1


def test_a_receiver_down_for_good_fails_after_the_last_retry(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
) -> None:
    receiver.default = Reply(500)
    add_endpoint(client, vendor, receiver.url)
    create_license(client, vendor)
    runner = _runner(app, clock)
    failed_before = metrics.FAILED._value.get()
    start = clock.now
    for _ in range(12):
        runner.tick()
        clock.advance(86400)
    gaps = [(t - start).total_seconds() for t in _attempt_times(app)]
    assert len(gaps) == 10  # the first try and nine retries, then failed
    assert _deliveries(app)[0].state == "failed"
    assert metrics.FAILED._value.get() == failed_before + 1


def test_jitter_stays_within_ten_percent(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
) -> None:
    receiver.default = Reply(500)
    add_endpoint(client, vendor, receiver.url)
    for _ in range(5):
        create_license(client, vendor)
    runner = Runner(app, clock=clock)  # the real random jitter
    runner.tick()
    for delivery in _deliveries(app):
        delay = (delivery.next_attempt_at - clock.now).total_seconds()
        assert 4.5 <= delay <= 5.5


@pytest.mark.parametrize(
    ("status", "retry_after", "delay"),
    [(429, "120", 120), (503, "1000", 1000), (500, "120", 5)],
)
def test_retry_after_is_respected_on_429_and_503(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
    status: int,
    retry_after: str,
    delay: int,
) -> None:
    receiver.replies.append(Reply(status, {"Retry-After": retry_after}))
    add_endpoint(client, vendor, receiver.url)
    create_license(client, vendor)
    _runner(app, clock).tick()
    (delivery,) = _deliveries(app)
    assert delivery.next_attempt_at - clock.now == timedelta(seconds=delay)


def test_410_disables_the_endpoint_and_redirects_are_failures(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
) -> None:
    gone = add_endpoint(client, vendor, receiver.url + "/gone")
    moved = add_endpoint(client, vendor, receiver.url + "/moved")
    receiver.by_path = {
        "/hooks/gone": Reply(410),
        "/hooks/moved": Reply(302, {"Location": receiver.url}),
    }
    create_license(client, vendor)
    _runner(app, clock).tick()
    states = {str(d.endpoint_id): d for d in _deliveries(app)}
    assert states[gone["id"]].state == "failed"
    assert (
        states[moved["id"]].state == "pending"
        and states[moved["id"]].last_status == 302
    )
    assert [r.path for r in receiver.requests].count("/hooks") == 0  # never followed
    endpoint = client.get(
        f"{ADMIN}/webhooks/endpoints/{gone['id']}", headers=vendor.headers
    )
    assert endpoint.get_json()["enabled"] is False
    assert "410" in endpoint.get_json()["disabled_reason"]
    create_license(client, vendor)
    with app.app_context():
        count = db.session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == states[gone["id"]].endpoint_id)
        )
    assert count == 1  # a disabled endpoint gets nothing new


def test_answers_are_kept_to_2_kb_and_slow_receivers_time_out(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
) -> None:
    receiver.replies.extend([Reply(500, body=b"x" * 5000), Reply(200, delay=6.0)])
    endpoint = add_endpoint(client, vendor, receiver.url)
    create_license(client, vendor)
    # 2 s: a loaded machine answers the first (fast) reply well within it
    runner = _runner(app, clock, timeout=2.0)
    runner.tick()
    clock.advance(5)
    runner.tick()
    listed = client.get(
        f"{ADMIN}/webhooks/endpoints/{endpoint['id']}/deliveries",
        headers=vendor.headers,
    ).get_json()["data"]
    first, second = listed[0]["attempts"]
    assert first["status_code"] == 500 and len(first["response_body"]) == 2048
    assert second["status_code"] is None and "2 s" in second["error"]
    assert second["duration_ms"] < 5000


def test_each_license_s_events_arrive_in_order_through_a_failure(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
) -> None:
    add_endpoint(client, vendor, receiver.url)
    first = create_license(client, vendor)
    receiver.replies.append(Reply(500))  # the first license's created fails once
    url = f"{ADMIN}/licenses/{first['id']}"
    client.patch(url, json={"notes": "one"}, headers=vendor.headers)
    client.post(f"{url}/suspend", headers=vendor.headers)
    other = create_license(client, vendor)
    runner = _runner(app, clock)
    runner.tick()
    seen = [(r.event["type"], r.event["data"]["id"]) for r in receiver.requests]
    assert seen == [("license.created", first["id"]), ("license.created", other["id"])]
    clock.advance(5)
    runner.tick()
    mine = [
        r.event["type"]
        for r in receiver.requests
        if r.event["data"]["id"] == first["id"]
    ]
    assert mine == [
        "license.created",
        "license.created",
        "license.updated",
        "license.suspended",
    ]


def test_deliveries_are_listed_and_resent_with_the_same_webhook_id(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
) -> None:
    endpoint = add_endpoint(client, vendor, receiver.url)
    ping = client.post(
        f"{ADMIN}/webhooks/endpoints/{endpoint['id']}/test", headers=vendor.headers
    )
    assert ping.status_code == 202 and ping.get_json()["event_type"] == "test.ping"
    runner = _runner(app, clock)
    runner.tick()
    delivery = client.get(
        f"{ADMIN}/webhooks/deliveries/{ping.get_json()['id']}", headers=vendor.headers
    ).get_json()
    assert delivery["state"] == "delivered" and len(delivery["attempts"]) == 1
    resent = client.post(
        f"{ADMIN}/webhooks/deliveries/{delivery['id']}/resend", headers=vendor.headers
    )
    assert resent.get_json()["state"] == "pending"
    runner.tick()
    assert receiver.ids() == [delivery["webhook_id"]] * 2
    assert receiver.requests[0].event["type"] == "test.ping"


def test_the_change_and_its_outbox_row_commit_or_roll_back_together(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
) -> None:
    add_endpoint(client, vendor, receiver.url)
    license = create_license(client, vendor)

    def fail(_session: Any) -> None:
        raise RuntimeError("injected failure after the event append")

    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(WebhookDelivery))
        event.listen(db.session(), "before_commit", fail)
        with pytest.raises(RuntimeError):
            licenses.update_license(
                keyring=runtime.of(app).keyring,
                vendor_id=vendor.new.vendor.id,
                license_id=uuid.UUID(license["id"]),
                changes={"notes": "never"},
                actor="test",
                now=datetime.now(UTC),
            )
        db.session.rollback()
        event.remove(db.session(), "before_commit", fail)
        assert db.session.get(License, uuid.UUID(license["id"])).notes is None
        assert (
            db.session.scalar(select(func.count()).select_from(WebhookDelivery))
            == before
        )
        assert not db.session.scalars(
            select(Event).where(Event.action == "license.updated")
        ).all()
        licenses.update_license(
            keyring=runtime.of(app).keyring,
            vendor_id=vendor.new.vendor.id,
            license_id=uuid.UUID(license["id"]),
            changes={"notes": "kept"},
            actor="test",
            now=datetime.now(UTC),
        )
        assert (
            db.session.scalar(select(func.count()).select_from(WebhookDelivery))
            == before + 1
        )


def test_expiry_events_are_emitted_once_and_stale_rows_purged(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
) -> None:
    add_endpoint(
        client,
        vendor,
        receiver.url,
        event_types=["license.expired", "license.expiring_soon"],
    )
    soon = (clock.now + timedelta(days=3)).isoformat()
    past = (clock.now + timedelta(hours=1)).isoformat()
    later = create_license(client, vendor, expires_at=soon)
    first = create_license(client, vendor, expires_at=past)
    with app.app_context():
        db.session.add(
            IdempotencyKey(
                vendor_id=vendor.new.vendor.id,
                key="old",
                fingerprint="x",
                created_at=clock.now - timedelta(days=2),
                expires_at=clock.now - timedelta(days=1),
            )
        )
        db.session.commit()
    runner = _runner(app, clock)
    runner.tick()  # both expire within 7 days: two expiring_soon
    clock.advance(7200)  # the first has expired; jobs run every 60 s
    runner.tick()
    clock.advance(7200)
    runner.tick()  # nothing new: each notice once
    got = sorted((r.event["type"], r.event["data"]["id"]) for r in receiver.requests)
    assert got == sorted(
        [
            ("license.expiring_soon", later["id"]),
            ("license.expiring_soon", first["id"]),
            ("license.expired", first["id"]),
        ]
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_other_vendors_endpoints_get_nothing(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
) -> None:
    other = new_vendor(app, "Other")
    add_endpoint(client, other, receiver.url)
    create_license(client, vendor)
    create_product(client, other, slug="other-theme", name="Other")
    _runner(app, clock).tick()
    assert receiver.requests == []


def test_a_public_activation_queues_its_webhook(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    receiver: Receiver,
) -> None:
    """The activation's one statement numbers its event and sees the endpoint."""
    from license_server.models.webhooks import WebhookMessage
    from license_server.services.events import verify_chain

    license = create_license(client, vendor)
    body = {"license_key": license["key"], "domain": "shop.example.com"}
    body["product"] = "jannah"
    # no endpoint yet: the event is chained, no webhook is queued
    assert client.post("/v1/activate", json=body).status_code == 201
    add_endpoint(client, vendor, receiver.url)
    second = {**body, "domain": "second-shop.example.com"}
    other = create_license(client, vendor)
    second["license_key"] = other["key"]
    answer = client.post("/v1/activate", json=second)
    assert answer.status_code == 201, answer.get_json()
    with app.app_context():
        kinds = db.session.scalars(
            select(WebhookMessage.event_type).where(
                WebhookMessage.vendor_id == vendor.new.vendor.id
            )
        ).all()
        assert kinds.count("activation.created") == 1
        created = db.session.scalars(
            select(Event).where(Event.action == "activation.created")
        ).all()
        assert len(created) == 2
        assert verify_chain(runtime.of(app).keyring) == []
