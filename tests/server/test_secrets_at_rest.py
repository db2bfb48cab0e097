"""Secrets at rest, second pass (issue 17, items 1 and 3).

Stored idempotent answers are sealed, bound to their row, purged after a day and
capped in size; license keys are sealed bound to their row, so a ciphertext moved
into another vendor's row does not open there. The whole-run check that no secret
is in the database (Idempotency-Key on every secret-creating route) is in
``test_secrets_in_logs.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from license_server.extensions import db
from license_server.models import IdempotencyKey, License
from license_server.runtime import of as runtime_of
from license_server.services import idempotency
from tests.conftest import VendorFixture, create_license, create_product, new_vendor

A = "/v1/admin"


def _post(client: FlaskClient, vendor: VendorFixture, path: str, body: Any, key: str):  # type: ignore[no-untyped-def]
    headers = {**vendor.headers, "Idempotency-Key": key}
    return client.post(f"{A}/{path}", json=body, headers=headers)


def test_a_stored_answer_is_sealed_and_replays_the_new_key(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    first = _post(client, vendor, "licenses", {"product": "jannah"}, "order-1")
    key = first.get_json()["key"]
    with app.app_context():
        row = db.session.scalar(select(IdempotencyKey))
        assert row is not None and row.body_sealed is not None
        assert key.encode() not in row.body_sealed
        assert key[-10:].encode() not in row.body_sealed
    again = _post(client, vendor, "licenses", {"product": "jannah"}, "order-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["key"] == key


def test_a_sealed_answer_moved_to_another_row_does_not_open(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    _post(client, vendor, "licenses", {"product": "jannah"}, "one")
    _post(client, vendor, "api-keys", {"name": "x", "scope": "read"}, "two")
    with app.app_context():
        rows = {row.key: row for row in db.session.scalars(select(IdempotencyKey))}
        keyring = runtime_of(app).keyring
        moved = rows["two"].body_sealed
        assert moved is not None
        try:
            keyring.open_replay(
                moved, vendor_id=rows["one"].vendor_id, row_id=rows["one"].id
            )
        except Exception as exc:  # noqa: BLE001 - any refusal will do
            assert type(exc).__name__ == "InvalidTag"
        else:
            raise AssertionError("a sealed answer opened in another row")


def test_expired_answers_are_purged_by_the_next_claim_and_the_command(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    for name in ("a", "b", "c"):
        _post(client, vendor, "licenses", {"product": "jannah"}, name)
    now = datetime.now(UTC)
    with app.app_context():
        db.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key.in_(["a", "b"]))
            .values(expires_at=now - timedelta(seconds=1))
        )
        db.session.commit()
        assert idempotency.purge_expired(now=now) == 2
        db.session.execute(update(IdempotencyKey).values(expires_at=now))
        db.session.commit()
    _post(client, vendor, "licenses", {"product": "jannah"}, "d")  # sweeps "c"
    with app.app_context():
        keys = set(db.session.scalars(select(IdempotencyKey.key)))
    assert keys == {"d"}


def test_an_answer_over_the_cap_is_not_stored_and_its_replay_says_so(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(idempotency, "MAX_STORED_BYTES", 200)
    body = {"product": "jannah", "count": 20}
    first = _post(client, vendor, "licenses/batch", body, "big")
    assert first.status_code == 201 and len(first.get_json()["data"]) == 20
    with app.app_context():
        row = db.session.scalar(select(IdempotencyKey))
        assert row is not None and row.body_sealed is not None
        assert len(row.body_sealed) < 400
    replay = _post(client, vendor, "licenses/batch", body, "big")
    assert replay.status_code == 409
    assert replay.get_json()["code"] == "IDEMPOTENT_ANSWER_NOT_KEPT"
    with app.app_context():  # and the batch was not issued twice
        assert db.session.scalar(select(func.count()).select_from(License)) == 20


def test_a_key_moved_into_another_vendors_row_does_not_decrypt(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    mine = create_license(client, vendor)
    other = new_vendor(app, "Other Themes")
    create_product(client, other, slug="other-theme")
    theirs = create_license(client, other, product="other-theme")
    with app.app_context():
        stolen = db.session.get(License, _uuid(theirs["id"]))
        assert stolen is not None
        db.session.execute(
            update(License)
            .where(License.id == _uuid(mine["id"]))
            .values(key_sealed=stolen.key_sealed)
        )
        db.session.commit()
    answer = client.get(f"{A}/licenses/{mine['id']}", headers=vendor.headers)
    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["code"] == "KEY_NOT_READABLE"
    assert theirs["key"] not in answer.get_data(as_text=True)
    own = client.get(f"{A}/licenses/{theirs['id']}", headers=other.headers)
    assert own.get_json()["key"] == theirs["key"]


def _uuid(text: str) -> Any:
    import uuid

    return uuid.UUID(text)
