"""Admin API: the whole surface a vendor's scripts use (issue 3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from license_server.extensions import db
from license_server.models import Event, License
from license_server.runtime import of as runtime_of
from license_server.services import events as event_log
from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    public_call,
)

A = "/v1/admin"


def _get(client: FlaskClient, vendor: VendorFixture, url: str) -> Any:
    response = client.get(url, headers=vendor.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _post(
    client: FlaskClient, vendor: VendorFixture, url: str, body: Any = None, **kw: Any
) -> Any:
    return client.post(url, json=body, headers={**vendor.headers, **kw})


def _activate(
    client: FlaskClient, key: str, domain: str, product: str = "jannah"
) -> Any:
    return public_call(
        client, "activate", license_key=key, domain=domain, product=product
    )


# --- products ---------------------------------------------------------------


def test_product_update_and_archive(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    url = f"{A}/products/{product['id']}"
    response = client.patch(
        url,
        json={
            "max_domains": 3,
            "expiry_policy": "restrict",
            "dev_patterns": ["*.Kinsta.cloud"],
        },
        headers=vendor.headers,
    )
    assert response.status_code == 200
    changed = response.get_json()
    assert (changed["max_domains"], changed["expiry_policy"]) == (3, "restrict")
    assert changed["dev_patterns"] == ["*.kinsta.cloud"]
    assert (
        client.patch(url, json={"slug": "new"}, headers=vendor.headers).status_code
        == 422
    )
    key = create_license(client, vendor)["key"]
    assert _post(client, vendor, f"{url}/archive").get_json()["archived"] is True
    refused = _post(client, vendor, f"{A}/licenses", {"product": "jannah"})
    assert (refused.status_code, refused.get_json()["code"]) == (
        409,
        "PRODUCT_ARCHIVED",
    )
    assert _activate(client, key, "still-works.com")[0] == 201
    assert _post(client, vendor, f"{url}/restore").get_json()["archived"] is False
    assert (
        _post(client, vendor, f"{A}/licenses", {"product": "jannah"}).status_code == 201
    )


# --- licenses ---------------------------------------------------------------


def test_batch_issue_of_1000_licenses(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    response = _post(
        client,
        vendor,
        f"{A}/licenses/batch",
        {"product": "jannah", "count": 1000, "customer_email": "shop@example.com"},
    )
    assert response.status_code == 201
    issued = response.get_json()["data"]
    assert len(issued) == 1000
    assert len({item["key"] for item in issued}) == 1000
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(License)) == 1000
        created = db.session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.action == "license.created")
        )
        assert created == 1000
    too_many = _post(
        client, vendor, f"{A}/licenses/batch", {"product": "jannah", "count": 1001}
    )
    assert too_many.status_code == 422


def test_batch_answer_is_the_schema_dump_of_every_license(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    """The batch answer copies one dumped license: each entry must equal its dump."""
    from license_server.schemas.admin import LicenseOut
    from license_server.services.common import Revealed

    fields = {"customer_email": "shop@example.com", "customer_name": "Shop"}
    fields |= {"max_domains": 3, "expires_at": "2030-01-01T00:00:00Z"}
    fields |= {"notes": "n", "metadata": {"order": 7}}
    response = _post(
        client,
        vendor,
        f"{A}/licenses/batch",
        {"product": "jannah", "count": 5, **fields},
    )
    assert response.status_code == 201
    issued = response.get_json()["data"]
    with app.app_context():
        for item in issued:
            license = db.session.get(License, uuid.UUID(item["id"]))
            assert license is not None
            dumped = LicenseOut().dump(Revealed(license, item["key"]))
            assert item == runtime_json(app, dumped)
    assert len({item["id"] for item in issued}) == 5


def runtime_json(app: Flask, value: Any) -> Any:
    """``value`` as the app's JSON encoder answers it, decoded again."""
    import json

    return json.loads(app.json.dumps(value))


def test_batch_is_one_transaction(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(**kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(event_log, "append", fail)
    response = _post(
        client, vendor, f"{A}/licenses/batch", {"product": "jannah", "count": 50}
    )
    assert response.status_code == 500
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(License)) == 0


def test_update_renew_and_regenerate(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    lic = create_license(client, vendor, expires_at="2030-01-01T00:00:00Z")
    url = f"{A}/licenses/{lic['id']}"
    response = client.patch(
        url,
        json={
            "max_domains": 2,
            "notes": "VIP",
            "metadata": {"order": 1234, "vip": True},
            "customer_name": "Ann",
        },
        headers=vendor.headers,
    )
    body = response.get_json()
    assert response.status_code == 200, body
    assert (body["max_domains"], body["notes"], body["metadata"]) == (
        2,
        "VIP",
        {"order": 1234, "vip": True},
    )
    bad = client.patch(
        url, json={"metadata": {"x": {"nested": 1}}}, headers=vendor.headers
    )
    assert bad.status_code == 422
    renewed = _post(client, vendor, f"{url}/renew", {"days": 365}).get_json()
    assert renewed["expires_at"] == "2031-01-01T00:00:00+00:00"
    assert _activate(client, lic["key"], "site.com")[0] == 201
    rekeyed = _post(client, vendor, f"{url}/regenerate-key").get_json()
    assert rekeyed["key"] != lic["key"]
    old = public_call(
        client, "validate", license_key=lic["key"], domain="site.com", product="jannah"
    )[1]
    new = public_call(
        client,
        "validate",
        license_key=rekeyed["key"],
        domain="site.com",
        product="jannah",
    )[1]
    assert (old["code"], new["code"]) == ("NOT_FOUND", "VALID")
    history = _get(client, vendor, f"{A}/events?subject_id={lic['id']}")["data"]
    updated = next(e for e in history if e["action"] == "license.updated")
    assert updated["data"]["before"]["notes"] is None
    assert updated["data"]["after"]["notes"] == "VIP"
    assert "max_domains" in updated["data"]["after"]
    assert lic["key"] not in str(history) and rekeyed["key"] not in str(history)


def test_filters_combine(client: FlaskClient, vendor: VendorFixture) -> None:
    create_product(client, vendor)
    create_product(client, vendor, slug="other", name="Other", key_prefix="")
    soon = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    late = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    a = create_license(client, vendor, customer_email="a@x.com", expires_at=soon)
    b = create_license(client, vendor, customer_email="a@x.com", expires_at=late)
    c = create_license(client, vendor, product="other", customer_email="a@x.com")
    create_license(client, vendor, customer_email="b@x.com", expires_at=soon)
    _activate(client, b["key"], "shop.com")
    _post(client, vendor, f"{A}/licenses/{c['id']}/suspend")

    def ids(query: str) -> set[str]:
        return {
            item["id"] for item in _get(client, vendor, f"{A}/licenses?{query}")["data"]
        }

    limit = (datetime.now(UTC) + timedelta(days=30)).isoformat().replace("+", "%2B")
    assert ids("customer_email=a@x.com") == {a["id"], b["id"], c["id"]}
    assert ids("customer_email=a@x.com&product=jannah") == {a["id"], b["id"]}
    assert ids(f"customer_email=a@x.com&expires_before={limit}") == {a["id"]}
    assert ids(f"product=jannah&expires_after={limit}") == {b["id"]}
    assert ids("status=suspended") == {c["id"]}
    assert ids("domain=https://www.shop.com/") == {b["id"]}
    assert ids(f"key={a['key'].lower()}") == {a["id"]}
    bad = client.get(f"{A}/licenses?key=nonsense", headers=vendor.headers)
    assert (bad.status_code, bad.get_json()["code"]) == (400, "INVALID_KEY_FORMAT")


def test_pagination_is_stable_under_inserts(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    _post(client, vendor, f"{A}/licenses/batch", {"product": "jannah", "count": 25})
    seen: list[str] = []
    url = f"{A}/licenses?limit=10"
    page = _get(client, vendor, url)
    seen += [item["id"] for item in page["data"]]
    # new licenses arrive between pages: they sort first and never shift later pages
    _post(client, vendor, f"{A}/licenses/batch", {"product": "jannah", "count": 7})
    while page["next"]:
        page = _get(client, vendor, f"{url}&cursor={page['next']}")
        seen += [item["id"] for item in page["data"]]
    assert len(seen) == 25 == len(set(seen))
    broken = client.get(f"{url}&cursor=garbage!", headers=vendor.headers)
    assert (broken.status_code, broken.get_json()["code"]) == (422, "INVALID_CURSOR")


# --- activations, API keys, signing keys --------------------------------------------


def test_activations_across_the_vendor(
    client: FlaskClient, vendor: VendorFixture
) -> None:
    create_product(client, vendor, max_domains=3)
    key = create_license(client, vendor)["key"]
    for domain in ("one.com", "two.com", "localhost"):
        _activate(client, key, domain)
    public_call(client, "deactivate", license_key=key, domain="two.com")

    def domains(query: str) -> list[str]:
        data = _get(client, vendor, f"{A}/activations?{query}")["data"]
        return sorted(item["domain"] for item in data)

    assert domains("") == ["localhost", "one.com", "two.com"]
    assert domains("active=true") == ["localhost", "one.com"]
    assert domains("active=false") == ["two.com"]
    assert domains("development=true") == ["localhost"]
    assert domains("domain=ONE.com&active=true") == ["one.com"]


def test_api_keys_lifecycle(client: FlaskClient, vendor: VendorFixture) -> None:
    created = _post(
        client, vendor, f"{A}/api-keys", {"name": "store", "scope": "write"}
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["key"].startswith("lsk_") and body["key"].startswith(body["prefix"])
    listed = _get(client, vendor, f"{A}/api-keys")["data"]
    assert {item["name"] for item in listed} == {"initial", "store"}
    assert all("key" not in item for item in listed)
    store = {"Authorization": f"Bearer {body['key']}"}
    assert client.get(f"{A}/products", headers=store).status_code == 200
    assert _post(client, vendor, f"{A}/api-keys/{body['id']}/revoke").status_code == 200
    assert client.get(f"{A}/products", headers=store).status_code == 401


def test_signing_key_rotation_and_retirement(
    client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    jwks_url = f"/v1/vendors/{vendor.slug}/jwks.json"
    first = client.get(jwks_url).get_json()["keys"][0]["kid"]
    new = _post(client, vendor, f"{A}/signing-keys/rotate").get_json()
    assert new["status"] == "active" and new["kid"] != first
    assert {k["kid"] for k in client.get(jwks_url).get_json()["keys"]} == {
        first,
        new["kid"],
    }
    _activate(client, license["key"], "site.com")
    token = public_call(
        client,
        "validate",
        license_key=license["key"],
        domain="site.com",
        product="jannah",
    )[1]["token"]
    assert jwt.get_unverified_header(token)["kid"] == new["kid"]
    keys = _get(client, vendor, f"{A}/signing-keys")["data"]
    old = next(k for k in keys if k["kid"] == first)
    assert old["status"] == "verifying"
    busy = _post(client, vendor, f"{A}/signing-keys/{new['id']}/retire")
    assert (busy.status_code, busy.get_json()["code"]) == (409, "SIGNING_KEY_ACTIVE")
    assert (
        _post(client, vendor, f"{A}/signing-keys/{old['id']}/retire").status_code == 200
    )
    assert [k["kid"] for k in client.get(jwks_url).get_json()["keys"]] == [new["kid"]]
    again = _post(client, vendor, f"{A}/signing-keys/{old['id']}/activate")
    assert (again.status_code, again.get_json()["code"]) == (409, "SIGNING_KEY_RETIRED")


def test_prepared_key_is_published_before_it_signs(
    client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    jwks_url = f"/v1/vendors/{vendor.slug}/jwks.json"
    current = client.get(jwks_url).get_json()["keys"][0]["kid"]
    _activate(client, license["key"], "site.com")
    prepared = _post(client, vendor, f"{A}/signing-keys").get_json()
    assert prepared["status"] == "verifying"
    assert prepared["jwk"]["kid"] == prepared["kid"]
    published = {k["kid"] for k in client.get(jwks_url).get_json()["keys"]}
    assert prepared["kid"] in published

    def signer() -> str:
        _, body = public_call(
            client,
            "validate",
            license_key=license["key"],
            domain="site.com",
            product="jannah",
        )
        kid: str = jwt.get_unverified_header(body["token"])["kid"]
        return kid

    assert signer() == current
    url = f"{A}/signing-keys/{prepared['id']}/activate"
    assert _post(client, vendor, url).status_code == 200
    assert signer() == prepared["kid"]


# --- idempotency --------------------------------------------------------------


def test_idempotency_key_semantics(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    body = {"product": "jannah", "customer_email": "a@x.com"}
    first = _post(
        client, vendor, f"{A}/licenses", body, **{"Idempotency-Key": "order-1"}
    )
    again = _post(
        client, vendor, f"{A}/licenses", body, **{"Idempotency-Key": "order-1"}
    )
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = _post(
        client,
        vendor,
        f"{A}/licenses",
        {"product": "jannah"},
        **{"Idempotency-Key": "order-1"},
    )
    assert (other.status_code, other.get_json()["code"]) == (
        422,
        "IDEMPOTENCY_KEY_REUSED",
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(License)) == 1
    fresh = _post(
        client, vendor, f"{A}/licenses", body, **{"Idempotency-Key": "order-2"}
    )
    assert fresh.get_json()["id"] != first.get_json()["id"]


def test_idempotency_in_flight_and_expiry(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    from license_server.models import IdempotencyKey
    from license_server.services import idempotency

    now = datetime.now(UTC)
    with app.app_context():
        claim = idempotency.claim(
            keyring=runtime_of(app).keyring,
            vendor_id=vendor.new.vendor.id,
            key="busy",
            print_=idempotency.fingerprint(
                "POST", f"{A}/licenses", b'{"product": "jannah"}'
            ),
            now=now,
        )
        assert not isinstance(claim, idempotency.Stored)
    busy = client.post(
        f"{A}/licenses",
        data='{"product": "jannah"}',
        content_type="application/json",
        headers={**vendor.headers, "Idempotency-Key": "busy"},
    )
    assert (busy.status_code, busy.get_json()["code"]) == (409, "IDEMPOTENCY_IN_FLIGHT")
    with app.app_context():
        db.session.execute(
            update(IdempotencyKey).values(
                created_at=now - timedelta(hours=25),
                expires_at=now - timedelta(hours=1),
            )
        )
        db.session.commit()
    later = client.post(
        f"{A}/licenses",
        data='{"product": "jannah"}',
        content_type="application/json",
        headers={**vendor.headers, "Idempotency-Key": "busy"},
    )
    assert later.status_code == 201


# --- events and stats -----------------------------------------------------------


def test_event_chain_verifies_and_tampering_is_reported(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    license: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from license_server.cli import main

    _activate(client, license["key"], "site.com")
    _post(client, vendor, f"{A}/licenses/{license['id']}/suspend")
    events = _get(client, vendor, f"{A}/events")["data"]
    assert [e["seq"] for e in events] == sorted(
        (e["seq"] for e in events), reverse=True
    )
    assert events[-1]["prev_digest"] == ""
    assert all(
        e["prev_digest"] == prev["digest"]
        for e, prev in zip(events, events[1:], strict=False)
    )
    assert any(e["actor"].startswith("public:") for e in events)
    for name, value in app.config.items():
        if name in {"DATABASE_URL", "MASTER_KEY", "INSTANCE_PATH"}:
            monkeypatch.setenv(f"LICENSE_SERVER_{name}", str(value))
    runner = CliRunner()
    assert runner.invoke(main, ["events", "verify"]).exit_code == 0
    target = events[1]
    with app.app_context():
        db.session.execute(
            update(Event).where(Event.id == target["id"]).values(actor="api_key:forged")
        )
        db.session.commit()
    result = runner.invoke(main, ["events", "verify"])
    assert result.exit_code == 1
    assert f"event #{target['seq']}" in result.output
    assert "content changed" in result.output


def test_stats_per_product(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    keys = [create_license(client, vendor)["key"] for _ in range(3)]
    _activate(client, keys[0], "one.com")
    _activate(client, keys[1], "localhost")
    for _ in range(4):
        public_call(
            client, "validate", license_key=keys[0], domain="one.com", product="jannah"
        )
    lic_id = _get(client, vendor, f"{A}/licenses?key={keys[2]}")["data"][0]["id"]
    _post(client, vendor, f"{A}/licenses/{lic_id}/revoke")
    stats = _get(client, vendor, f"{A}/stats")
    assert stats["licenses_by_status"] == {"active": 2, "revoked": 1}
    assert stats["active_domains"] == 1
    jannah = stats["products"][0]
    assert len(jannah["daily"]) == 30
    today = jannah["daily"][-1]
    assert today["date"] == datetime.now(UTC).date().isoformat()
    assert (today["activations"], today["validations"]) == (2, 4)
