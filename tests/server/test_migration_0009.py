"""A database at 0005_releases (main's head before this migration) with data
upgrades to head: license keys re-sealed bound to their row (an EDD-imported legacy
key too), stored answers sealed, every existing event given its keyed MAC."""

from __future__ import annotations

import json
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import create_engine, text

from license_server import keys, migrate
from license_server.extensions import db
from license_server.keyring import Keyring, decode_master_key
from license_server.services import events
from tests.conftest import TEST_MASTER_KEY, make_app
from tests.server.test_migrations import _empty_database


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_at_0005_with_data_upgrades_and_keeps_every_secret(
    backend: str, tmp_path: Path
) -> None:
    keyring = Keyring(decode_master_key(TEST_MASTER_KEY))
    vendor, product, license = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    row, legacy = uuid.uuid4(), uuid.uuid4()
    key = str(keys.generate_key("JAN"))
    old_seal = keyring._seal(keyring._license, key.encode(), b"license-key")
    legacy_key = "5f4dcc3b5aa765d61d8327deb882cf99"  # imported from EDD
    legacy_seal = keyring._seal(keyring._license, legacy_key.encode(), b"license-key")
    now = datetime.now(UTC).replace(tzinfo=None)
    answer = json.dumps({"key": key})
    with _empty_database(backend, tmp_path) as url:
        migrate.upgrade(url, "0005_releases")
        engine = create_engine(url)
        ids = {"v": vendor, "p": product, "l": license, "r": row, "e": legacy}
        if backend == "sqlite":
            ids = {name: value.hex for name, value in ids.items()}
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO vendors (id, slug, name, issuer, created_at)"
                    " VALUES (:v, 'acme', 'Acme', 'acme', :now)"
                ),
                {**ids, "now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO products (id, vendor_id, slug, name, key_prefix,"
                    " max_domains, max_dev_domains, token_ttl, grace_period,"
                    " expiry_policy, dev_patterns, created_at, updated_at)"
                    " VALUES (:p, :v, 'jannah', 'Jannah', 'JAN', 1, NULL, 60, 60,"
                    " 'allow', '[]', :now, :now)"
                ),
                {**ids, "now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO licenses (id, vendor_id, product_id, key_hash,"
                    " key_sealed, key_hint, status, created_at, updated_at)"
                    " VALUES (:l, :v, :p, :h, :s, 'ABCD', 'active', :now, :now)"
                ),
                {**ids, "h": b"x" * 32, "s": old_seal, "now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO licenses (id, vendor_id, product_id, key_hash,"
                    " key_sealed, key_hint, status, created_at, updated_at)"
                    " VALUES (:e, :v, :p, :h, :s, 'cf99', 'active', :now, :now)"
                ),
                {**ids, "h": b"y" * 32, "s": legacy_seal, "now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO edd_licenses (license_id, vendor_id, edd_id,"
                    " download_id, payment_id, unlimited, imported_at)"
                    " VALUES (:e, :v, 7, 11, 13, false, :now)"
                ),
                {**ids, "now": now},
            )
            fields = {
                "vendor_id": str(vendor),
                "seq": 1,
                "actor": "cli",
                "action": "vendor.created",
                "subject_type": "vendor",
                "subject_id": str(vendor),
                "data": {},
                "created_at": now.replace(tzinfo=UTC).isoformat(
                    timespec="microseconds"
                ),
            }
            digest = events.event_digest("", fields)
            connection.execute(
                text(
                    "INSERT INTO events (vendor_id, actor, action, subject_type,"
                    " subject_id, data, created_at, seq, prev_digest, digest)"
                    " VALUES (:v, 'cli', 'vendor.created', 'vendor', :sv, '{}',"
                    " :now, 1, '', :d)"
                ),
                {**ids, "sv": str(vendor), "now": now, "d": digest},
            )
            # a second event, of an area newer than the chain (webhooks)
            second = {
                **fields,
                "seq": 2,
                "actor": "system:worker",
                "action": "webhook_endpoint.disabled",
                "subject_type": "webhook_endpoint",
                "subject_id": str(row),
                "data": {"reason": "410"},
            }
            head = events.event_digest(digest, second)
            connection.execute(
                text(
                    "INSERT INTO events (vendor_id, actor, action, subject_type,"
                    " subject_id, data, created_at, seq, prev_digest, digest)"
                    " VALUES (:v, 'system:worker', 'webhook_endpoint.disabled',"
                    " 'webhook_endpoint', :sr, :data, :now, 2, :d, :h)"
                ),
                {
                    **ids,
                    "sr": str(row),
                    "data": json.dumps({"reason": "410"}),
                    "now": now,
                    "d": digest,
                    "h": head,
                },
            )
            connection.execute(
                text("UPDATE vendors SET event_seq = 2, event_head = :h"),
                {"h": head},
            )
            connection.execute(
                text(
                    "INSERT INTO idempotency_keys (id, vendor_id, key, fingerprint,"
                    " status_code, body, created_at, expires_at)"
                    " VALUES (:r, :v, 'k', 'f', 201, :b, :now, :later)"
                ),
                {**ids, "b": answer, "now": now, "later": now + timedelta(days=1)},
            )
        engine.dispose()
        migrate.upgrade(url, keyring=keyring)
        engine = create_engine(url)
        with engine.connect() as connection:
            sealed = dict(
                connection.execute(text("SELECT id, key_sealed FROM licenses")).all()
            )
            macs = list(
                connection.execute(
                    text("SELECT mac FROM events ORDER BY seq")
                ).scalars()
            )
            caps = connection.execute(
                text("SELECT max_dev_domains, max_deactivations FROM products")
            ).one()
            replay = connection.execute(
                text("SELECT body_sealed FROM idempotency_keys")
            ).scalar()
        engine.dispose()
        app = make_app(url, tmp_path / "instance")
        with app.app_context():
            assert events.verify_chain(keyring) == []
            # the chain is keyed now: a rebuilt digest chain no longer verifies
            stranger = Keyring(bytes(32))
            assert events.verify_chain(stranger) != []
            db.session.remove()
            db.engine.dispose()
    by_id = {uuid.UUID(str(found)): value for found, value in sealed.items()}
    assert len(macs) == 2 and all(len(mac) == 64 for mac in macs)
    opened = keyring.open_license_key(
        by_id[license], vendor_id=vendor, license_id=license
    )
    assert opened == key
    assert (
        keyring.open_license_key(by_id[legacy], vendor_id=vendor, license_id=legacy)
        == legacy_key
    )
    with pytest.raises(InvalidTag):  # bound: another row's ids do not open it
        keyring.open_license_key(by_id[legacy], vendor_id=vendor, license_id=license)
    assert tuple(caps) == (3, 3)
    opened = keyring.open_replay(replay, vendor_id=vendor, row_id=row)
    assert json.loads(zlib.decompress(opened)) == {"key": key}
    assert key.encode() not in replay
