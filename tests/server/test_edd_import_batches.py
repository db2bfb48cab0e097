"""The EDD import reads and writes its licences in batches, with the per-row rules."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from license_server.compat import edd_import
from license_server.compat.edd_source import Download, LicenseRow, Store
from license_server.extensions import db
from license_server.models import Activation, EddLicense, License
from license_server.runtime import of as runtime_of
from tests.conftest import VendorFixture, new_vendor

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
JANNAH = Download(id=10, title="Jannah", slug="jannah", limit=2)


def _key(number: int) -> str:
    return hashlib.md5(str(number).encode()).hexdigest()  # noqa: S324 - EDD's keys


def _row(edd_id: int, key: str, status: str = "active", **extra: Any) -> LicenseRow:
    return LicenseRow(
        id=edd_id,
        key=key,
        status=status,
        download_id=JANNAH.id,
        product_name=JANNAH.title,
        price_id=None,
        payment_id=100 + edd_id,
        created=datetime(2025, 3, 1, 10, 0),
        expiration=None,
        customer_email=f"c{edd_id}@example.org",
        customer_name=None,
        limit=None,
        sites=[f"site{edd_id}.example.com/", f"site{edd_id}.example.com/blog/"],
        **extra,
    )


def _import(app: Flask, vendor: VendorFixture, store: Store) -> dict[str, Any]:
    with app.app_context():
        summary = edd_import.import_store(
            keyring=runtime_of(app).keyring,
            vendor_id=vendor.new.vendor.id,
            store=store,
            now=NOW,
        )
        db.session.remove()
    return summary.as_dict()


@contextmanager
def _statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_batches_keep_the_rules_of_one_row_at_a_time(
    app: Flask, vendor: VendorFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = new_vendor(app, "Other Themes")
    assert (
        _import(app, other, Store([JANNAH], [_row(1, _key(99))]))["licenses_created"]
        == 1
    )
    monkeypatch.setattr(edd_import, "BATCH", 4)
    rows = [_row(n, _key(n)) for n in range(1, 11)]
    rows += [
        _row(11, _key(2)),  # row 2's key, a batch later: skipped
        _row(3, _key(12)),  # row 3's EDD id, a batch later: found
        _row(13, _key(99)),  # the other vendor's key: skipped
        _row(14, _key(14), status="private"),  # skipped
    ]
    store = Store([JANNAH], rows)
    with _statements(app) as seen:
        first = _import(app, vendor, store)
    assert first["products_created"] == 1
    assert (first["licenses_created"], first["licenses_found"]) == (10, 1)
    assert first["licenses_skipped"] == 3
    assert (first["activations_created"], first["sites_merged"]) == (10, 10)
    # four batches, three with new licences: one INSERT per table for each
    for table in ("licenses", "edd_licenses", "activations"):
        inserts = [s for s in seen if s.startswith(f"INSERT INTO {table} ")]
        assert len(inserts) == 3, (table, inserts)

    with app.app_context():
        vendor_id = vendor.new.vendor.id
        mine = db.session.scalars(
            select(EddLicense).where(EddLicense.vendor_id == vendor_id)
        ).all()
        assert sorted(link.edd_id for link in mine) == list(range(1, 11))
        assert {link.payment_id for link in mine} == {100 + n for n in range(1, 11)}
        licenses = db.session.scalars(
            select(License).where(License.vendor_id == vendor_id)
        ).all()
        assert {lic.key_hint for lic in licenses} == {
            _key(n)[-4:] for n in range(1, 11)
        }
        assert all(lic.meta == {} and lic.notes is None for lic in licenses)
        live = db.session.scalar(
            select(func.count())
            .select_from(Activation)
            .where(
                Activation.vendor_id == vendor_id,
                Activation.deactivated_at.is_(None),
                Activation.deactivated_by_owner.is_(False),
            )
        )
        assert live == 10
        db.session.remove()

    with _statements(app) as seen:
        again = _import(app, vendor, store)
    assert (again["licenses_created"], again["licenses_found"]) == (0, 11)
    assert (again["licenses_skipped"], again["activations_created"]) == (3, 0)
    assert not [s for s in seen if s.startswith("INSERT")]
