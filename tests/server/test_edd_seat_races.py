"""Seat limits hold under concurrent EDD activations: the same guard, raced alike.

The EDD endpoint takes seats through ``services.activations.activate`` (the row
lock plus the conditional insert). Its own pre-check (``no_activations_left`` when
the count is already at the limit) is not a guard: racing requests all pass it, and
only the service's atomic statement stops the extra ones. Removing that guard makes
these tests fail.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from license_server.extensions import db
from license_server.models import Activation
from tests.conftest import VendorFixture, create_license, create_product
from tests.server.test_seat_races import race


def edd_activate(client: FlaskClient, body: dict[str, Any]) -> tuple[int, str]:
    """POST an EDD activation (form-encoded, as themes do); return status and word."""
    answer = client.post("/", data={"edd_action": "activate_license", **body})
    data = answer.get_json()
    return answer.status_code, data.get("error") or data.get("license") or data["code"]


def _live(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(
            select(func.count())
            .select_from(Activation)
            .where(Activation.deactivated_at.is_(None))
        )
        db.session.remove()
    return int(count or 0)


def test_fifty_sites_race_for_five_seats_through_edd(
    app: Flask, client: FlaskClient, vendor: VendorFixture
) -> None:
    create_product(client, vendor, max_domains=5)
    key = create_license(client, vendor)["key"]
    bodies = [
        {"license": key, "item_name": "Jannah", "url": f"https://site{i}.com/"}
        for i in range(50)
    ]
    results = race(app, bodies, send=edd_activate)
    assert Counter(results) == Counter(
        {(200, "valid"): 5, (200, "no_activations_left"): 45}
    )
    assert _live(app) == 5


def test_twenty_activations_of_one_site_through_edd_leave_one(
    app: Flask, client: FlaskClient, vendor: VendorFixture
) -> None:
    create_product(client, vendor, max_domains=5)
    key = create_license(client, vendor)["key"]
    body = {"license": key, "item_name": "Jannah", "url": "https://www.same.com/blog/"}
    results = race(app, [body] * 20, send=edd_activate)
    assert Counter(results) == Counter({(200, "valid"): 20})
    assert _live(app) == 1
