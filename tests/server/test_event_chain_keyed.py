"""The event chain is keyed (issue 17, item 4): a database writer who deletes an
event and rebuilds every plain digest does not get a chain that verifies."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update

from license_server.extensions import db
from license_server.models import Event, Vendor
from license_server.runtime import of as runtime_of
from license_server.services import events
from tests.conftest import VendorFixture, public_call


def _rebuild_plain_chain(vendor_id: Any) -> None:
    """What an attacker with database access can do: renumber and re-digest."""
    rows = list(
        db.session.scalars(
            select(Event).where(Event.vendor_id == vendor_id).order_by(Event.seq)
        )
    )
    head = ""
    for number, row in enumerate(rows, start=1):
        fields = events._fields(
            vendor_id,
            number,
            events.NewEvent(
                row.actor, row.action, row.subject_type, row.subject_id, row.data
            ),
            row.created_at,
        )
        digest = events.event_digest(head, fields)
        row.seq, row.prev_digest, row.digest = number, head, digest
        head = digest
    db.session.execute(
        update(Vendor)
        .where(Vendor.id == vendor_id)
        .values(event_seq=len(rows), event_head=head)
    )
    db.session.commit()


def test_a_deleted_event_with_a_rebuilt_chain_does_not_verify(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    keyring = runtime_of(app).keyring
    public_call(
        client, "activate", license_key=license["key"], domain="a.com", product="jannah"
    )
    with app.app_context():
        vendor_id = vendor.new.vendor.id
        assert events.verify_chain(keyring, vendor_id) == []
        victim = db.session.scalar(
            select(Event).where(
                Event.vendor_id == vendor_id, Event.action == "activation.created"
            )
        )
        assert victim is not None
        db.session.execute(delete(Event).where(Event.id == victim.id))
        db.session.commit()
        _rebuild_plain_chain(vendor_id)
        # the plain digests agree again: exactly what an unkeyed chain would accept
        found = events.verify_chain(keyring, vendor_id)
        assert len(found) == 1
        assert "keyed" in found[0].reason


def test_the_plain_digest_is_kept_for_export(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    listed = client.get("/v1/admin/events", headers=vendor.headers).get_json()["data"]
    assert all(len(row["digest"]) == 64 for row in listed)
    assert "mac" not in listed[0]  # the keyed MAC is the server's own check


def test_single_event_appends_keep_the_chain_whole(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    """An activation's one event and the chain head go in one statement on
    PostgreSQL; the chain, its keyed head and every other vendor field stay right;
    a vendor without webhook endpoints costs no endpoint query."""
    from tests.conftest import create_license
    from tests.server.hardening_support import sql_statements

    key = create_license(client, vendor)["key"]
    with app.app_context():
        before = db.session.get(Vendor, vendor.new.vendor.id)
        assert before is not None
        created, name = before.created_at, before.name
        db.session.remove()
    with sql_statements(app) as statements:
        for n in range(3):
            body = {"license_key": key, "domain": f"s{n}.example", "product": "jannah"}
            assert public_call(client, "activate", **body)[0] == 201
    appends = [s for s in statements if "INSERT INTO events" in s]
    assert len(appends) == 3
    # no webhook endpoint: the chain's vendor update said so, the outbox asks nothing
    assert not [s for s in statements if s.startswith("SELECT webhook_endpoints")]
    heads = [s for s in statements if s.startswith("UPDATE vendors SET event_head")]
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        assert all(("WITH head AS" in s) == postgres for s in appends)
        assert len(heads) == (0 if postgres else 3)
        keyring = runtime_of(app).keyring
        assert events.verify_chain(keyring, vendor.new.vendor.id) == []
        after = db.session.get(Vendor, vendor.new.vendor.id)
        assert after is not None
        assert (after.created_at, after.name) == (created, name)
        last = db.session.scalars(
            select(Event).where(Event.vendor_id == after.id).order_by(Event.seq.desc())
        ).first()
        assert last is not None and last.action == "activation.created"
        assert (after.event_seq, after.event_head) == (last.seq, last.digest)
