"""Matrices generated from the URL map, so a new admin route cannot escape them.

- Tenant isolation: vendor A's key on vendor B's objects answers 404 on every admin
  route with an object id, and changes nothing of B's (tables compared).
- Scope: a read-scoped key gets 403 on every write route.
- OpenAPI: the document validates and lists every route of the URL map.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from license_server.extensions import db
from license_server.models import SigningKey
from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    new_vendor,
    public_call,
)
from tests.server.updates_support import publish

ADMIN = "/v1/admin"
READS = {"GET", "HEAD", "OPTIONS"}
HOOK_URL = "https://127.0.0.1:9/hook"  # allow-listed below; nothing is sent
# A valid body per write endpoint, so that a refusal is about scope or ownership,
# never about the body. A new write route must be added here or the tests fail.
from license_server.api.admin import READ_POSTS  # noqa: E402

BODIES: dict[str, dict[str, Any] | None] = {
    "admin.create_product": {"slug": "intruder-theme", "name": "Intruder"},
    "admin.update_product": {"name": "Renamed"},
    "admin.archive_product": None,
    "admin.restore_product": None,
    "admin.create_license": {"product": "victim-theme"},
    "admin.create_licenses": {"product": "victim-theme", "count": 2},
    "admin.update_license": {"notes": "changed"},
    "admin.suspend_license": None,
    "admin.reinstate_license": None,
    "admin.revoke_license": None,
    "admin.renew_license": {"days": 30},
    "admin.regenerate_key": None,
    "admin.deactivate_activation": None,
    "admin.create_api_key": {"name": "extra", "scope": "read"},
    "admin.revoke_api_key": None,
    "admin.rotate_signing_key": None,
    "admin.create_signing_key": None,
    "admin.activate_signing_key": None,
    "admin.retire_signing_key": None,
    "admin.set_edd_items": {"item_ids": [7], "item_names": ["Intruder"]},
    "webhooks.create_endpoint": {"url": HOOK_URL, "event_types": ["*"]},
    "webhooks.update_endpoint": {"description": "changed"},
    "webhooks.delete_endpoint": None,
    "webhooks.test_endpoint": None,
    "webhooks.rotate_endpoint_secret": None,
    "webhooks.resend_delivery": None,
    "webhooks.rotate_webhook_key": None,
    "releases.create_release": {"version": "9.9.9"},
    "releases.update_release": {"changelog": "changed"},
    "releases.upload_package": None,
    "releases.publish_release": None,
    "releases.unpublish_release": None,
    "releases.yank_release": {"reason": "intruder"},
    "releases.delete_release": None,
    "releases.put_update_settings": {"rollout_percent": 5},
    "releases.put_update_rules": {"max_version": "1.0"},
    "releases.rotate_release_key": None,
    "releases.retire_release_key": None,
    "channels.create_connection": {"kind": "generic", "name": "Intruder"},
    "channels.update_connection": {"name": "changed"},
    "channels.delete_connection": None,
    "channels.create_mapping": {"external_id": "x", "product": "victim-theme"},
    "channels.update_mapping": {"duration_days": 30},
    "channels.delete_mapping": None,
    "channels.put_envato": {"token": "intruder-token"},
    "channels.delete_envato": None,
    "channels.put_envato_product": {"item_id": 1},
    "channels.delete_envato_product": None,
}


def _admin_rules(app: Flask) -> list[tuple[str, str, str]]:
    rules = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(ADMIN):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            rules.append((method, rule.rule, rule.endpoint))
    return rules


def _victim(app: Flask, client: FlaskClient) -> tuple[VendorFixture, dict[str, str]]:
    app.config["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"
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
    url = f"{ADMIN}/licenses/{license['id']}/activations"
    activation = client.get(url, headers=victim.headers).get_json()["data"][0]
    client.post(f"{ADMIN}/signing-keys/rotate", headers=victim.headers)
    release = publish(client, victim, product["id"], "1.0.0", slug="victim-theme")
    client.post(f"{ADMIN}/release-keys/rotate", headers=victim.headers)
    release_keys = client.get(f"{ADMIN}/release-keys", headers=victim.headers)
    (old_release_key,) = [
        k for k in release_keys.get_json()["data"] if k["status"] == "verifying"
    ]
    keys = client.get(f"{ADMIN}/api-keys", headers=victim.headers).get_json()["data"]
    with app.app_context():
        verifying = db.session.scalars(
            select(SigningKey).where(
                SigningKey.vendor_id == victim.new.vendor.id,
                SigningKey.status == "verifying",
            )
        ).one()
    endpoint = client.post(
        f"{ADMIN}/webhooks/endpoints",
        json={"url": HOOK_URL, "event_types": ["*"], "scheme": "v1"},
        headers=victim.headers,
    ).get_json()
    delivery = client.post(
        f"{ADMIN}/webhooks/endpoints/{endpoint['id']}/test", headers=victim.headers
    ).get_json()
    store = client.post(
        f"{ADMIN}/channels/connections",
        json={"kind": "woocommerce", "name": "Victim shop"},
        headers=victim.headers,
    ).get_json()
    mapping = client.post(
        f"{ADMIN}/channels/connections/{store['id']}/mappings",
        json={"external_id": "77", "product": "victim-theme"},
        headers=victim.headers,
    ).get_json()
    client.put(
        f"{ADMIN}/channels/envato",
        json={"token": "victim-token"},
        headers=victim.headers,
    )
    client.put(
        f"{ADMIN}/channels/envato/products/{product['id']}",
        json={"item_id": 7},
        headers=victim.headers,
    )
    ids = {
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery["id"],
        "product_id": product["id"],
        "license_id": license["id"],
        "activation_id": activation["id"],
        "api_key_id": keys[0]["id"],
        "signing_key_id": str(verifying.id),
        "release_id": release["id"],
        "release_key_id": old_release_key["id"],
        "connection_id": store["id"],
        "mapping_id": mapping["id"],
    }
    return victim, ids


def _path(rule: str, ids: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "key_id":
            name = "signing_key_id" if "signing-keys" in rule else "api_key_id"
            name = "release_key_id" if "release-keys" in rule else name
        return ids[name]

    return re.sub(r"<(?:\w+:)?(\w+)>", fill, rule)


def _snapshot(app: Flask) -> dict[str, list[Any]]:
    """Every row of every table, minus the intruder's own bookkeeping."""
    tables: dict[str, list[Any]] = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c.name for c in table.columns if c.name != "last_used_at"]
            query = f"SELECT {', '.join(columns)} FROM {table.name}"  # noqa: S608
            rows = db.session.execute(text(query)).all()
            tables[table.name] = sorted(map(repr, rows))
    return tables


def _call(client: FlaskClient, method: str, path: str, endpoint: str, headers: Any):  # type: ignore[no-untyped-def]
    body = BODIES.get(endpoint)
    if method in READS:
        return client.open(path, method=method, headers=headers)
    if endpoint in READ_POSTS:  # a search: the filters in the body, read scope
        return client.open(path, method=method, headers=headers, json={})
    assert endpoint in BODIES, f"add a valid body for {endpoint} to BODIES"
    return client.open(path, method=method, headers=headers, json=body or {})


def test_vendor_a_cannot_reach_vendor_b_objects(
    app: Flask, client: FlaskClient, vendor: VendorFixture
) -> None:
    victim, ids = _victim(app, client)
    secret_ids = set(ids.values())
    checked = 0
    for method, rule, endpoint in _admin_rules(app):
        intruder_rows = {k: v for k, v in _snapshot(app).items()}
        response = _call(client, method, _path(rule, ids), endpoint, vendor.headers)
        body = response.get_data(as_text=True)
        if "<" in rule or endpoint in {"admin.create_license", "admin.create_licenses"}:
            assert (endpoint, response.status_code) == (endpoint, 404), body
            assert response.get_json()["code"] in {"NOT_FOUND", "PRODUCT_NOT_FOUND"}
            after = _snapshot(app)
            changed = {
                name
                for name in after
                if after[name] != intruder_rows[name] and name != "events"
            }
            assert changed <= {"idempotency_keys"}, (endpoint, changed)
            checked += 1
        else:
            assert response.status_code < 500, body
            assert not any(secret in body for secret in secret_ids), endpoint
    assert checked >= 15
    # nothing of the victim's changed: its license still works on its domain
    key = client.get(
        f"{ADMIN}/licenses/{ids['license_id']}", headers=victim.headers
    ).get_json()["key"]
    status, answer = public_call(
        client,
        "validate",
        license_key=key,
        domain="victim.com",
        product="victim-theme",
    )
    assert answer["code"] == "VALID"


def test_read_scoped_key_gets_403_on_every_write_route(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    response = client.post(
        f"{ADMIN}/api-keys",
        json={"name": "reader", "scope": "read"},
        headers=vendor.headers,
    )
    reader = {"Authorization": f"Bearer {response.get_json()['key']}"}
    ids = {
        "product_id": license["id"],
        "license_id": license["id"],
        "activation_id": license["id"],
        "api_key_id": license["id"],
        "signing_key_id": license["id"],
        "endpoint_id": license["id"],
        "delivery_id": license["id"],
        "release_id": license["id"],
        "release_key_id": license["id"],
        "connection_id": license["id"],
        "mapping_id": license["id"],
    }
    before = _snapshot(app)
    writes = 0
    for method, rule, endpoint in _admin_rules(app):
        response = _call(client, method, _path(rule, ids), endpoint, reader)
        if method in READS or endpoint in READ_POSTS:
            assert response.status_code in {200, 404}, (endpoint, response.status_code)
        else:
            assert (endpoint, response.status_code) == (endpoint, 403)
            assert response.get_json()["code"] == "FORBIDDEN"
            writes += 1
    assert writes == len(BODIES)
    after = _snapshot(app)
    assert {k for k in after if after[k] != before[k]} <= {"api_keys"}


def test_openapi_document_is_valid_and_lists_every_route(
    app: Flask, client: FlaskClient
) -> None:
    # imported here: the validator (jsonschema and its formats) takes over a second
    # to import, in every worker that collects this file
    from openapi_spec_validator import validate

    spec = client.get("/openapi.json").get_json()
    validate(spec)
    documented = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("docs."):
            continue
        if rule.rule.startswith("/openapi"):
            continue
        if rule.rule.startswith(("/dashboard", "/portal", "/web/")):  # HTML pages
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, (method, path)
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if path.startswith(ADMIN):
                assert "401" in operation["responses"], (method, path)
            assert operation.get("summary"), (method, path)
