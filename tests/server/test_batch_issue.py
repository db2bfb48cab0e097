"""A batch issue writes Core rows in multi-row INSERTs (issue 9): the same licenses,
events and chain as the same number of single issues."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from license_server import keys
from license_server.extensions import db
from license_server.models import Event, License, Vendor
from license_server.runtime import of as runtime_of
from license_server.services import events, licenses
from tests.conftest import VendorFixture, create_product, new_vendor

NOW = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
FIELDS = {"customer_email": "shop@example.com", "max_domains": 2, "meta": {"o": 7}}


def _chain(vendor_id: uuid.UUID) -> list[Event]:
    return list(
        db.session.scalars(
            select(Event).where(Event.vendor_id == vendor_id).order_by(Event.seq)
        )
    )


def _shape(rows: list[Event], ids: list[str]) -> list[tuple[Any, ...]]:
    """Each event with the license it is about replaced by its place in the issue."""
    return [
        (
            row.seq,
            row.actor,
            row.action,
            row.subject_type,
            ids.index(row.subject_id) if row.subject_id in ids else row.subject_id,
            {**row.data, "key_hint": "hint"},
            row.created_at,
        )
        for row in rows
    ]


def test_a_batch_writes_the_events_single_issues_would(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    keyring = runtime_of(app).keyring
    other = new_vendor(app, "Beta Themes")
    create_product(client, other)
    batch_vendor, single_vendor = vendor.new.vendor.id, other.new.vendor.id
    with app.app_context():
        batch = licenses.create_licenses(
            keyring=keyring,
            vendor_id=batch_vendor,
            actor="test",
            product="jannah",
            count=4,
            now=NOW,
            **FIELDS,
        )
        singles = [
            licenses.create_license(
                keyring=keyring,
                vendor_id=single_vendor,
                actor="test",
                product="jannah",
                now=NOW,
                **FIELDS,
            )
            for _ in range(4)
        ]
    with app.app_context():
        batch_ids = [str(license.id) for license, _ in batch]
        single_ids = [str(license.id) for license, _ in singles]
        batch_rows, single_rows = _chain(batch_vendor), _chain(single_vendor)
        first = len(batch_rows) - 4  # after the vendor's and the product's events
        assert len(single_rows) == len(batch_rows)
        # types, numbers, order, actors, times and data agree event by event
        assert _shape(batch_rows[first:], batch_ids) == _shape(
            single_rows[first:], single_ids
        )
        assert [row.action for row in batch_rows[first:]] == ["license.created"] * 4
        # ids follow the chain's order
        assert [row.id for row in batch_rows] == sorted(row.id for row in batch_rows)
        head, mac = batch_rows[first - 1].digest, batch_rows[first - 1].mac
        for row, (issued, key) in zip(batch_rows[first:], batch, strict=True):
            stored = db.session.get_one(License, issued.id)
            assert row.subject_id == str(stored.id)
            assert row.created_at == NOW
            assert row.data == {"product": "jannah", "key_hint": stored.key_hint}
            assert key.endswith(stored.key_hint)
            # the digest and MAC a single append of this event computes
            fields = events.chained_fields(row)
            assert (row.prev_digest, row.digest) == (
                head,
                events.event_digest(head, fields),
            )
            assert row.mac == events.event_mac(keyring, mac, fields)
            head, mac = row.digest, row.mac
        vendor_row = db.session.get_one(Vendor, batch_vendor)
        assert (vendor_row.event_seq, vendor_row.event_head) == (len(batch_rows), head)
        assert vendor_row.event_mac_head == mac
        assert events.verify_chain(keyring) == []
        # a batch's stored rows are what singles store, sealed key and all
        for (issued, key), (single, _) in zip(batch, singles, strict=True):
            stored = db.session.get_one(License, issued.id)
            assert licenses.reveal_key(keyring=keyring, license=stored) == key
            assert stored.key_hash == keyring.license_lookup(keys.parse_key(key).body)
            for name in ("max_domains", "customer_email", "meta", "status"):
                assert getattr(stored, name) == getattr(single, name)
            assert (stored.created_at, stored.updated_at) == (NOW, NOW)
        # a tampered batch event is caught
        db.session.execute(
            update(Event)
            .where(Event.id == batch_rows[first + 1].id)
            .values(data={"product": "jannah", "key_hint": "ZZZZ"})
        )
        db.session.commit()
        found = events.verify_chain(keyring, batch_vendor)
        assert [(item.seq, item.reason) for item in found] == [
            (batch_rows[first + 1].seq, "event content changed")
        ]


def test_a_batch_returns_persistent_licenses(
    app: Flask, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    """The returned objects are the session's: a change to one is stored."""
    keyring = runtime_of(app).keyring
    with app.app_context():
        issued = licenses.create_licenses(
            keyring=keyring,
            vendor_id=vendor.new.vendor.id,
            actor="test",
            product="jannah",
            count=3,
            now=NOW,
        )
        first = issued[0][0]
        assert db.session.get(License, first.id) is first  # no query, no copy
        assert first.product.slug == "jannah"
        first.notes = "changed after issue"
        db.session.commit()
    with app.app_context():
        assert db.session.get_one(License, first.id).notes == "changed after issue"
        count = len(list(db.session.scalars(select(License.id))))
        assert count == 3


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"product": "jannah", "key_hint": "AB12"},
        {"prev": "x", "seq": 9, "zz": {"prev": [1, '"seq":']}, "é": "ü\u2028"},
    ],
)
def test_the_split_payload_is_the_canonical_payload(data: dict[str, Any]) -> None:
    """An append serialises an event once; both halves rebuild ``_payload``."""
    fields = events._fields(
        uuid.uuid4(), 7, events.NewEvent("a", "b.c", "license", "id", data), NOW
    )
    left, right = events._payload_halves(fields)
    for prev in ("", "0" * 64, "f00d"):
        built = f"{left}{json.dumps(prev)}{right}".encode()
        assert built == events._payload(prev, fields)


def test_the_built_halves_are_the_split_payload() -> None:
    """``_Canonical`` writes the halves ``_payload_halves`` cuts, event for event."""
    vendor_id = uuid.uuid4()
    canonical = events._Canonical(vendor_id, NOW)
    cases = [
        events.NewEvent("test", "license.created", "license", str(uuid.uuid4()), {}),
        events.NewEvent("api:x", "a.b", "activation", "id", {"z": 1, "a": [None, 2]}),
        events.NewEvent("é\u2028", 'q"uote', "li\\cense", "ü", {"prev": {"seq": 9}}),
        events.NewEvent("test", "license.created", "license", "same", {"k": "v"}),
    ]
    for seq, event in enumerate(cases * 2, start=1):  # repeated: cached strings
        built = canonical.halves(seq, event)
        assert built == events._payload_halves(
            events._fields(vendor_id, seq, event, NOW)
        )
    with pytest.raises(TypeError):
        canonical.halves(True, cases[0])  # type: ignore[arg-type]


def test_generated_keys_are_well_formed_distinct_and_checked() -> None:
    made = keys.generate_keys("jan", 500)
    assert len({key.body for key in made}) == 500
    for key in made:
        assert key.prefix == "JAN"
        assert keys.parse_key(str(key)) == key
        assert key.body[-1] == _luhn32(key.body[:-1])
    # every position takes every symbol across a batch: no slice is reused
    for place in range(keys.PAYLOAD_LENGTH):
        assert len({key.body[place] for key in made}) == len(keys.ALPHABET)
    with pytest.raises(keys.InvalidKeyPrefix):
        keys.generate_keys("x", 3)


def _luhn32(payload: str) -> str:
    """Luhn mod N over the alphabet, written out as the algorithm states it."""
    total = 0
    for place, symbol in enumerate(reversed(payload)):
        addend = keys.ALPHABET.index(symbol) * (2 if place % 2 == 0 else 1)
        total += addend // 32 + addend % 32
    return keys.ALPHABET[(32 - total % 32) % 32]


def test_check_symbol_is_luhn_mod_32() -> None:
    import random

    rng = random.Random(9)
    for _ in range(2000):
        payload = "".join(rng.choice(keys.ALPHABET) for _ in range(24))
        assert keys.check_symbol(payload) == _luhn32(payload)


def test_kept_hmac_states_give_hmac_sha256() -> None:
    import hashlib
    import hmac

    from license_server.keyring import _HmacSha256

    for size in (0, 1, 32, 63, 64, 65, 200):
        key = bytes(range(size % 256)) * (size // 256 + 1)
        key = key[:size]
        mac = _HmacSha256(key)
        for message in (b"", b"abc", b"x" * 1000):
            assert (
                mac.digest(message) == hmac.new(key, message, hashlib.sha256).digest()
            )


def test_the_batch_answer_is_the_providers_json_byte_for_byte(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    """The templated answer is what the JSON provider writes for the whole list."""
    from license_server.schemas.admin import LicenseOut
    from license_server.services.common import Revealed

    body = {
        "product": "jannah",
        "count": 4,
        "customer_name": 'Ünïcode "quoted" <b> &amp;',
        "metadata": {"z": 1, "a": "é", "m": None},
    }
    for debug in (False, True):  # compact, then indented (the schema's own path)
        app.debug = debug
        response = client.post(
            "/v1/admin/licenses/batch", json=body, headers=vendor.headers
        )
        assert response.status_code == 201, response.get_json()
        assert response.mimetype == "application/json"
        issued = response.get_json()["data"]
        with app.test_request_context():
            dumped = [
                LicenseOut().dump(
                    Revealed(
                        db.session.get_one(License, uuid.UUID(item["id"])), item["key"]
                    )
                )
                for item in issued
            ]
            expected = app.json.response({"data": dumped}).get_data()
        assert response.get_data() == expected


def test_a_batch_queues_one_webhook_per_license(
    database_url: str, tmp_path: Any
) -> None:
    """The outbox rows of a batch (one statement per table) match its events."""
    from license_server.models.webhooks import WebhookDelivery, WebhookMessage
    from tests.server.webhook_support import add_endpoint, webhook_app

    app = webhook_app(database_url, tmp_path / "instance")
    try:
        client = app.test_client()
        vendor = new_vendor(app)
        create_product(client, vendor)
        endpoint = add_endpoint(client, vendor, "http://127.0.0.1:9/hook")
        response = client.post(
            "/v1/admin/licenses/batch",
            json={"product": "jannah", "count": 3},
            headers=vendor.headers,
        )
        assert response.status_code == 201, response.get_json()
        ids = [item["id"] for item in response.get_json()["data"]]
        with app.app_context():
            created = {
                row.subject_id: row.seq
                for row in _chain(vendor.new.vendor.id)
                if row.action == "license.created"
            }
            messages = list(
                db.session.scalars(
                    select(WebhookMessage)
                    .where(WebhookMessage.event_type == "license.created")
                    .order_by(WebhookMessage.event_seq)
                )
            )
            bodies = [json.loads(message.body) for message in messages]
            assert [body["data"]["license"]["id"] for body in bodies] == ids
            assert [m.event_seq for m in messages] == [created[i] for i in ids]
            deliveries = {
                d.message_id: d for d in db.session.scalars(select(WebhookDelivery))
            }
            for message, license_id in zip(messages, ids, strict=True):
                delivery = deliveries[message.id]
                assert delivery.ordering_key == license_id
                assert delivery.seq == message.event_seq
                assert str(delivery.endpoint_id) == endpoint["id"]
                assert (delivery.state, delivery.tries) == ("pending", 0)
    finally:
        with app.app_context():
            db.engine.dispose()
