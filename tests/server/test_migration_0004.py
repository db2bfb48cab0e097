"""A database at 0002 with data upgrades to head: keys re-sealed, answers sealed."""

from __future__ import annotations

import json
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from license_server import keys, migrate
from license_server.extensions import db
from license_server.keyring import Keyring, decode_master_key
from license_server.services import events
from tests.conftest import TEST_MASTER_KEY, make_app
from tests.server.test_migrations import _empty_database


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_at_0002_with_data_upgrades_and_keeps_every_secret(
    backend: str, tmp_path: Path
) -> None:
    keyring = Keyring(decode_master_key(TEST_MASTER_KEY))
    vendor, product, license = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    row = uuid.uuid4()
    key = str(keys.generate_key("JAN"))
    old_seal = keyring._seal(keyring._license, key.encode(), b"license-key")
    now = datetime.now(UTC).replace(tzinfo=None)
    answer = json.dumps({"key": key})
    with _empty_database(backend, tmp_path) as url:
        migrate.upgrade(url, "0002")
        engine = create_engine(url)
        ids = {"v": vendor, "p": product, "l": license, "r": row}
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
            connection.execute(
                text("UPDATE vendors SET event_seq = 1, event_head = :d"),
                {"d": digest},
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
            sealed = connection.execute(
                text("SELECT key_sealed FROM licenses")
            ).scalar()
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
            db.session.remove()
            db.engine.dispose()
    assert keyring.open_license_key(sealed, vendor_id=vendor, license_id=license) == key
    assert tuple(caps) == (3, 3)
    opened = keyring.open_replay(replay, vendor_id=vendor, row_id=row)
    assert json.loads(zlib.decompress(opened)) == {"key": key}
    assert key.encode() not in replay
