"""``release.published`` / ``release.yanked`` webhooks carry the release itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server.extensions import db
from license_server.models.webhooks import WebhookMessage
from tests.conftest import VendorFixture, create_product, new_vendor
from tests.server.updates_support import ADMIN, publish
from tests.server.webhook_support import Receiver, add_endpoint, webhook_app

RELEASE_FIELDS = {
    "id",
    "product",
    "version",
    "channel",
    "published_at",
    "yanked_at",
    "yank_reason",
    "sha256",
    "size",
    "requires",
    "requires_php",
    "tested",
}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = webhook_app(database_url, tmp_path / "instance")
    yield application
    with application.app_context():
        db.engine.dispose()


def _bodies(app: Flask, event_type: str) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(
            select(WebhookMessage.body).where(WebhookMessage.event_type == event_type)
        ).all()
    return [json.loads(row) for row in rows]


def test_release_webhooks_describe_the_release_without_secrets(
    app: Flask, client: FlaskClient
) -> None:
    vendor: VendorFixture = new_vendor(app)
    product = create_product(client, vendor)
    with Receiver() as receiver:
        add_endpoint(client, vendor, receiver.url, event_types=["release.published"])
        yanks = ["release.yanked"]
        add_endpoint(client, vendor, receiver.url + "/y", event_types=yanks)
        release = publish(
            client,
            vendor,
            product["id"],
            "1.3.0",
            changelog="* Faster",
            requires="6.0",
            requires_php="7.4",
            tested="6.6",
        )
        yanked = client.post(
            f"{ADMIN}/releases/{release['id']}/yank",
            json={"reason": "broke menus"},
            headers=vendor.headers,
        )
        assert yanked.status_code == 200, yanked.get_json()

    (published,) = _bodies(app, "release.published")
    data = published["data"]
    assert (data["object"], data["id"]) == ("release", release["id"])
    sent = data["release"]
    assert set(sent) == RELEASE_FIELDS
    assert sent["product"] == "jannah"
    assert (sent["version"], sent["channel"]) == ("1.3.0", "stable")
    assert (sent["requires"], sent["requires_php"], sent["tested"]) == (
        "6.0",
        "7.4",
        "6.6",
    )
    assert sent["sha256"] == release["sha256"] and sent["size"] == release["size"]
    assert sent["published_at"] is not None and sent["yanked_at"] is None
    assert data["changes"] == {"version": "1.3.0", "channel": "stable"}

    (withdrawn,) = _bodies(app, "release.yanked")
    gone = withdrawn["data"]["release"]
    assert gone["yanked_at"] is not None and gone["yank_reason"] == "broke menus"
    assert gone["published_at"] == sent["published_at"]  # the announced date stays
    assert withdrawn["data"]["changes"]["reason"] == "broke menus"
    for body in (published, withdrawn):
        text = json.dumps(body)
        # no package signature, storage key or download URL in a webhook
        assert release["signature"] not in text
        assert "/v1/downloads/" not in text and "sha256/" not in text
