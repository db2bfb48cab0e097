"""Webhook pages through the test client: create, secret once, test, resend, roles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from license_server.extensions import db
from license_server.models import Event
from license_server.models.webhooks import WebhookDelivery, WebhookEndpoint
from license_server.webhooks.runner import Runner
from tests.conftest import VendorFixture, new_vendor
from tests.server.webhook_support import Receiver, Reply, webhook_app
from tests.web.conftest import Staff, signed_in


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app whose webhooks may go to loopback over http (tests only)."""
    application = webhook_app(database_url, tmp_path / "instance")
    yield application
    with application.app_context():
        db.engine.dispose()


def _endpoints(app: Flask) -> list[WebhookEndpoint]:
    with app.app_context():
        found = list(db.session.scalars(select(WebhookEndpoint)))
        for endpoint in found:
            db.session.expunge(endpoint)
        return found


def _create(owner: Staff, url: str, scheme: str = "v1a", **extra: Any) -> Any:
    form = {"url": url, "event_types": ["*"], "scheme": scheme, **extra}
    return owner.post("/dashboard/webhooks", form)


def test_v1_secret_is_shown_once_and_a_test_event_arrives(
    app: Flask, vendor: VendorFixture, owner: Staff
) -> None:
    with Receiver(Reply(200, body=b'{"received": true}')) as receiver:
        created = _create(owner, receiver.url, "v1", description="CRM")
        assert created.status_code == 200
        page = created.get_data(as_text=True)
        (endpoint,) = _endpoints(app)
        with app.app_context():
            secret = endpoint.secret_sealed
        assert secret and 'id="webhook-secret"' in page
        shown = page.split('id="webhook-secret">')[1].split("<")[0]
        assert shown.startswith("whsec_") and len(shown) > 40
        path = f"/dashboard/webhooks/{endpoint.id}"
        assert shown not in owner.client.get(path).get_data(as_text=True)
        assert shown not in owner.client.get("/dashboard/webhooks").get_data(
            as_text=True
        )
        assert owner.post(f"{path}/test").status_code == 302
        assert Runner(app).tick() == 1
        assert len(receiver.requests) == 1
        assert receiver.requests[0].event["type"] == "test.ping"
    detail = owner.client.get(path).get_data(as_text=True)
    assert "test.ping" in detail and "badge delivered" in detail
    assert "{&#34;received&#34;: true}" in detail or '{"received": true}' in detail
    with app.app_context():
        actions = dict(
            db.session.execute(
                select(Event.action, Event.actor).where(Event.action.like("webhook_%"))
            ).all()
        )
        user = signed_actor(app)
    assert actions["webhook_endpoint.created"] == user
    assert actions["webhook_endpoint.tested"] == user


def signed_actor(app: Flask) -> str:
    from license_server.models.users import StaffUser

    found = db.session.scalars(select(StaffUser).where(StaffUser.role == "owner"))
    return f"user:{found.one().id}"


def test_failed_delivery_is_resent_with_the_same_id(
    app: Flask, vendor: VendorFixture, owner: Staff
) -> None:
    with Receiver(Reply(500, body=b"boom")) as receiver:
        _create(owner, receiver.url)
        (endpoint,) = _endpoints(app)
        owner.post(f"/dashboard/webhooks/{endpoint.id}/test")
        Runner(app).tick()
        page = owner.client.get(f"/dashboard/webhooks/{endpoint.id}")
        text = page.get_data(as_text=True)
        assert "boom" in text and ">500<" in text
        with app.app_context():
            delivery = db.session.scalars(select(WebhookDelivery)).one()
            delivery_id = delivery.id
        receiver.default = Reply(204, body=b"")
        resent = owner.post(f"/dashboard/webhook-deliveries/{delivery_id}/resend")
        assert resent.status_code == 302
        assert resent.headers["Location"].endswith(f"/dashboard/webhooks/{endpoint.id}")
        Runner(app).tick()
        ids = receiver.ids()
    assert len(ids) == 2 and ids[0] == ids[1]
    with app.app_context():
        assert db.session.get(WebhookDelivery, delivery_id).state == "delivered"  # type: ignore[union-attr]


def test_edit_disable_and_delete(
    app: Flask, vendor: VendorFixture, owner: Staff
) -> None:
    _create(owner, "http://127.0.0.1:9/hooks")
    (endpoint,) = _endpoints(app)
    path = f"/dashboard/webhooks/{endpoint.id}"
    saved = owner.post(
        path,
        {
            "url": "http://127.0.0.1:9/other",
            "description": "mailer",
            "event_types": ["license.created", "activation.created"],
        },
    )
    assert saved.status_code == 302
    (changed,) = _endpoints(app)
    assert changed.url.endswith("/other") and changed.description == "mailer"
    assert changed.event_types == ["license.created", "activation.created"]
    none_chosen = owner.post(path, {"url": changed.url, "description": ""})
    assert none_chosen.status_code == 422
    assert owner.post(f"{path}/enabled", {"enabled": "no"}).status_code == 302
    assert _endpoints(app)[0].enabled is False
    assert "badge suspended" in owner.client.get(path).get_data(as_text=True)
    assert owner.post(f"{path}/enabled", {"enabled": "yes"}).status_code == 302
    assert _endpoints(app)[0].enabled is True
    asked = owner.post(f"{path}/delete")
    assert asked.status_code == 200 and "Yes, delete" in asked.get_data(as_text=True)
    assert len(_endpoints(app)) == 1
    assert owner.post(f"{path}/delete", {"confirm": "yes"}).status_code == 302
    assert _endpoints(app) == []


def test_private_targets_are_refused_by_default(
    database_url: str, tmp_path: Path
) -> None:
    from tests.conftest import make_app

    strict = make_app(database_url, tmp_path / "strict")
    vendor = new_vendor(strict)
    owner = signed_in(strict, vendor, "owner")
    refused = _create(owner, "https://127.0.0.1/hooks")
    assert refused.status_code == 422
    assert "loopback" in refused.get_data(as_text=True)
    assert _endpoints(strict) == []
    with strict.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("role", ["support", "viewer"])
def test_only_owners_reach_webhooks(
    app: Flask, vendor: VendorFixture, owner: Staff, role: str
) -> None:
    _create(owner, "http://127.0.0.1:9/hooks")
    (endpoint,) = _endpoints(app)
    staff = signed_in(app, vendor, role)
    assert staff.client.get("/dashboard/webhooks").status_code == 403
    assert staff.client.get(f"/dashboard/webhooks/{endpoint.id}").status_code == 403
    assert "Webhooks" not in staff.client.get("/dashboard/").get_data(as_text=True)
    for path, form in (
        ("/dashboard/webhooks", {"url": "http://127.0.0.1:9/x", "event_types": "*"}),
        (f"/dashboard/webhooks/{endpoint.id}/test", {}),
        (f"/dashboard/webhooks/{endpoint.id}/delete", {"confirm": "yes"}),
        (f"/dashboard/webhooks/{endpoint.id}/enabled", {"enabled": "no"}),
    ):
        assert staff.post(path, form).status_code == 403, path
    assert [e.id for e in _endpoints(app)] == [endpoint.id]
    assert _endpoints(app)[0].enabled is True
    with app.app_context():
        assert db.session.scalars(select(WebhookDelivery)).all() == []


def test_create_without_csrf_is_refused(app: Flask, owner: Staff) -> None:
    response = owner.client.post(
        "/dashboard/webhooks",
        data={"url": "http://127.0.0.1:9/x", "event_types": "*"},
    )
    assert response.status_code == 400
    assert _endpoints(app) == []


def _verifies(secret: str, received: Any) -> bool:
    """Whether one of the delivery's v1 signatures is made with ``secret``."""
    import base64
    import hashlib
    import hmac

    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = (
        f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.".encode()
        + received.body
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = received.headers["webhook-signature"].split()
    return f"v1,{expected}" in given


def test_owner_rotates_a_v1_secret_after_confirming(
    app: Flask, vendor: VendorFixture, owner: Staff
) -> None:
    with Receiver(Reply(204, body=b"")) as receiver:
        created = _create(owner, receiver.url, "v1").get_data(as_text=True)
        old = created.split('id="webhook-secret">')[1].split("<")[0]
        (endpoint,) = _endpoints(app)
        path = f"/dashboard/webhooks/{endpoint.id}"
        page = owner.client.get(path).get_data(as_text=True)
        assert f'action="{path}/rotate-secret"' in page
        asked = owner.post(f"{path}/rotate-secret")
        assert asked.status_code == 200
        assert "Yes, rotate the secret" in asked.get_data(as_text=True)
        assert _endpoints(app)[0].secret_sealed == endpoint.secret_sealed
        no_csrf = owner.client.post(f"{path}/rotate-secret", data={"confirm": "yes"})
        assert no_csrf.status_code == 400
        assert _endpoints(app)[0].secret_sealed == endpoint.secret_sealed
        rotated = owner.post(f"{path}/rotate-secret", {"confirm": "yes"})
        assert rotated.status_code == 200
        shown = rotated.get_data(as_text=True)
        new = shown.split('id="webhook-secret">')[1].split("<")[0]
        assert new.startswith("whsec_") and new != old
        assert "The old secret also signs every delivery until" in shown
        assert new not in owner.client.get(path).get_data(as_text=True)
        # deliveries carry both signatures during the overlap
        owner.post(f"{path}/test")
        assert Runner(app).tick() == 1
        (received,) = receiver.requests
    assert _verifies(new, received) and _verifies(old, received)
    with app.app_context():
        actor = db.session.scalar(
            select(Event.actor).where(Event.action == "webhook_endpoint.secret_rotated")
        )
        assert actor == signed_actor(app)


def test_a_v1a_endpoint_has_no_secret_to_rotate_and_only_owners_rotate(
    app: Flask, vendor: VendorFixture, owner: Staff
) -> None:
    _create(owner, "http://127.0.0.1:9/hooks", "v1a")
    (endpoint,) = _endpoints(app)
    path = f"/dashboard/webhooks/{endpoint.id}"
    assert "rotate-secret" not in owner.client.get(path).get_data(as_text=True)
    refused = owner.post(f"{path}/rotate-secret", {"confirm": "yes"})
    assert refused.status_code == 302
    assert "Only an endpoint signed with v1" in owner.client.get(path).get_data(
        as_text=True
    )
    _create(owner, "http://127.0.0.1:9/other", "v1")
    (v1,) = [e for e in _endpoints(app) if e.scheme == "v1"]
    support = signed_in(app, vendor, "support")
    assert (
        support.post(
            f"/dashboard/webhooks/{v1.id}/rotate-secret", {"confirm": "yes"}
        ).status_code
        == 403
    )
    assert [e.secret_sealed for e in _endpoints(app) if e.id == v1.id] == [
        v1.secret_sealed
    ]
