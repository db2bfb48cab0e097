"""Matrices generated from the dashboard's URL map, so a new page cannot escape them.

- Tenant isolation: an owner of vendor A on vendor B's objects gets 404 on every
  dashboard route with an object id, GET and POST, and nothing of B's changes.
- Sign-in: a stranger is sent to sign in on every non-public page.
- Roles: a viewer gets 403 on every write, except their own account's.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from license_server.extensions import db
from license_server.models import SigningKey
from license_server.models.users import StaffUser
from license_server.web.dashboard.access import PUBLIC
from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    new_vendor,
    public_call,
)
from tests.web.conftest import Staff, signed_in

PREFIX = "/dashboard"
# path parameters that name no object: the value to use
FIXED = {"change": "suspend", "step": "activate", "table": "daily"}
# writes a viewer may make: about their own account only
OWN_ACCOUNT = {
    "dashboard.logout",
    "dashboard.logout_everywhere",
    "dashboard.second_factor",
    "dashboard.enrol_totp",
    "dashboard.disable_totp",
    "dashboard.events_verify",
}
# bookkeeping an intruder's own requests may touch
OWN_TABLES = {"web_sessions", "web_throttles"}


def _rules(app: Flask) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, rule.endpoint))
    return found


def _victim(app: Flask, client: FlaskClient) -> tuple[VendorFixture, dict[str, str]]:
    victim = new_vendor(app, "Victim")
    product = create_product(client, victim, slug="victim-theme", name="Victim")
    license = create_license(client, victim, product="victim-theme")
    public_call(
        client,
        "activate",
        license_key=license["key"],
        domain="victim.com",
        product="victim-theme",
    )
    url = f"/v1/admin/licenses/{license['id']}/activations"
    activation = client.get(url, headers=victim.headers).get_json()["data"][0]
    client.post("/v1/admin/signing-keys/rotate", headers=victim.headers)
    keys = client.get("/v1/admin/api-keys", headers=victim.headers).get_json()["data"]
    signed_in(app, victim, "support", "victim-support@example.com")
    with app.app_context():
        verifying = db.session.scalars(
            select(SigningKey).where(
                SigningKey.vendor_id == victim.new.vendor.id,
                SigningKey.status == "verifying",
            )
        ).one()
        user = db.session.scalars(
            select(StaffUser).where(StaffUser.vendor_id == victim.new.vendor.id)
        ).one()
    return victim, {
        "product_id": product["id"],
        "license_id": license["id"],
        "activation_id": activation["id"],
        "api_key_id": keys[0]["id"],
        "signing_key_id": str(verifying.id),
        "user_id": str(user.id),
        "token": secrets.token_urlsafe(32),
        "key": license["key"],
    }


def _path(rule: str, ids: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in FIXED:
            return FIXED[name]
        if name == "key_id":
            name = "signing_key_id" if "signing-keys" in rule else "api_key_id"
        return ids[name]

    return re.sub(r"<(?:\w+:)?(\w+)>", fill, rule)


BOOKKEEPING_COLUMNS = {"last_used_at"}


def _snapshot(app: Flask) -> dict[str, list[Any]]:
    tables: dict[str, list[Any]] = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            if table.name in OWN_TABLES:
                continue
            # bookkeeping written by a buffer on its own schedule (an API key's
            # last use) is no change an intruder made
            columns = ", ".join(
                column.name
                for column in table.columns
                if column.name not in BOOKKEEPING_COLUMNS
            )
            query = f"SELECT {columns} FROM {table.name}"  # noqa: S608
            tables[table.name] = sorted(map(repr, db.session.execute(text(query))))
    return tables


def _form(intruder: Staff) -> dict[str, str]:
    return {
        "csrf_token": intruder.csrf(),
        "confirm": "yes",
        "domain": "intruder.com",
        "days": "30",
        "role": "viewer",
        "name": "Renamed",
        "password": "x" * 16,
        "password_again": "x" * 16,
    }


def test_owner_of_a_cannot_reach_vendor_b_objects(
    app: Flask, client: FlaskClient, vendor: VendorFixture, owner: Staff
) -> None:
    _, ids = _victim(app, client)
    checked = 0
    for method, rule, endpoint in _rules(app):
        if "<" not in rule or "<table>" in rule:
            continue
        before = _snapshot(app)
        path = _path(rule, ids)
        if method == "GET":
            response = owner.client.get(path)
        else:
            response = owner.client.post(path, data=_form(owner))
        body = response.get_data(as_text=True)
        assert (endpoint, method, response.status_code) == (endpoint, method, 404)
        assert ids["key"] not in body and "victim.com" not in body, endpoint
        assert _snapshot(app) == before, (endpoint, method)
        checked += 1
    assert checked >= 18


def test_strangers_are_sent_to_sign_in(app: Flask, vendor: VendorFixture) -> None:
    stranger = app.test_client()
    ids = {
        name: "00000000-0000-4000-8000-000000000000"
        for name in (
            "product_id",
            "license_id",
            "activation_id",
            "api_key_id",
            "signing_key_id",
            "user_id",
        )
    }
    ids["token"] = "x"
    for method, rule, endpoint in _rules(app):
        if method != "GET" or endpoint in PUBLIC:
            continue
        response = stranger.get(_path(rule, ids))
        assert response.status_code == 302, endpoint
        assert "/dashboard/login" in response.headers["Location"]


def test_viewer_gets_403_on_every_write(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    viewer = signed_in(app, vendor, "viewer")
    public_call(
        client,
        "activate",
        license_key=license["key"],
        domain="mine.com",
        product="jannah",
    )
    url = f"/v1/admin/licenses/{license['id']}/activations"
    activation = client.get(url, headers=vendor.headers).get_json()["data"][0]
    with app.app_context():
        me = db.session.scalars(select(StaffUser)).one()
        key = db.session.scalars(select(SigningKey)).first()
    ids = {
        "product_id": license["product"] if "product" in license else "",
        "license_id": license["id"],
        "activation_id": activation["id"],
        "api_key_id": license["id"],
        "signing_key_id": str(key.id) if key else "",
        "user_id": str(me.id),
        "token": "x",
    }
    products = client.get("/v1/admin/products", headers=vendor.headers).get_json()
    ids["product_id"] = products["data"][0]["id"]
    before = _snapshot(app)
    writes = 0
    for method, rule, endpoint in _rules(app):
        if method != "POST" or endpoint in OWN_ACCOUNT | PUBLIC:
            continue
        response = viewer.client.post(_path(rule, ids), data=_form(viewer))
        assert (endpoint, response.status_code) == (endpoint, 403)
        writes += 1
    assert writes >= 15
    assert _snapshot(app) == before
