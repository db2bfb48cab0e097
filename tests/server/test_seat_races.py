"""Seat limits hold under concurrent activations, on SQLite and PostgreSQL.

Each thread has its own test client, app context, session and database
connection, so the requests really overlap in the database. Removing the guard
(the license row lock plus the conditional insert in
``services.activations._insert_if_seat_free``) makes these tests fail.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from license_server.extensions import db
from license_server.models import Activation
from tests.conftest import VendorFixture, create_license, create_product


def activate_v1(client: FlaskClient, body: dict[str, Any]) -> tuple[int, str]:
    """POST one body to /v1/activate; return the status and the answer's code."""
    response = client.post("/v1/activate", json=body)
    return response.status_code, response.get_json()["code"]


def race(
    app: Flask,
    bodies: list[dict[str, Any]],
    send: Callable[[FlaskClient, dict[str, Any]], tuple[int, str]] = activate_v1,
) -> list[tuple[int, str]]:
    """Send every body at once (``send``, /v1/activate by default), one thread each."""
    barrier = threading.Barrier(len(bodies))

    def call(body: dict[str, Any]) -> tuple[int, str]:
        client = app.test_client()
        barrier.wait()
        return send(client, body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(call, bodies))


def _live_activations(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(
            select(func.count())
            .select_from(Activation)
            .where(Activation.deactivated_at.is_(None))
        )
    return int(count or 0)


def test_fifty_domains_race_for_five_seats(
    app: Flask, client: FlaskClient, vendor: VendorFixture
) -> None:
    create_product(client, vendor, max_domains=5)
    key = create_license(client, vendor)["key"]
    bodies = [
        {"license_key": key, "domain": f"site{i}.com", "product": "jannah"}
        for i in range(50)
    ]
    results = race(app, bodies)
    assert Counter(results) == Counter(
        {(201, "VALID"): 5, (409, "ACTIVATION_LIMIT_REACHED"): 45}
    )
    assert _live_activations(app) == 5


def test_twenty_activations_of_one_domain_leave_one(
    app: Flask, client: FlaskClient, vendor: VendorFixture
) -> None:
    create_product(client, vendor, max_domains=5)
    key = create_license(client, vendor)["key"]
    body = {"license_key": key, "domain": "same.com", "product": "jannah"}
    results = race(app, [body] * 20)
    statuses = Counter(status for status, _ in results)
    assert statuses[201] == 1
    assert statuses[200] == 19
    assert {code for _, code in results} == {"VALID"}
    assert _live_activations(app) == 1
