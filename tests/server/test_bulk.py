"""services.bulk: COPY on PostgreSQL stores what a Core executemany stores (issue 9)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from flask import Flask
from sqlalchemy import Table, event, insert, select, text

from license_server.extensions import db
from license_server.models import Event, License, Product
from license_server.services import bulk
from tests.conftest import VendorFixture

NOW = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
LICENSES = cast("Table", License.__table__)
COLUMNS = tuple(column.name for column in LICENSES.columns)


def _row(vendor_id: uuid.UUID, product_id: uuid.UUID, **values: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "vendor_id": vendor_id,
        "product_id": product_id,
        "key_hash": uuid.uuid4().bytes * 2,
        "key_sealed": b"\x00sealed\xff" * 5,
        "key_hint": "AB12",
        "status": "active",
        "max_domains": None,
        "expires_at": None,
        "updates_until": None,
        "customer_email": None,
        "customer_name": None,
        "notes": None,
        "metadata": {},
        "created_at": NOW,
        "updated_at": NOW,
        **values,
    }


def _stored(ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    """The rows as the database holds them, JSON as its stored text."""
    rows = db.session.execute(
        select(*LICENSES.columns).where(LICENSES.c.id.in_(ids))
    ).all()
    by_id = {row.id: row for row in rows}
    found = []
    for id_ in ids:
        row = by_id[id_]
        postgres = db.engine.dialect.name == "postgresql"
        raw = db.session.execute(
            text(
                "SELECT CAST(metadata AS TEXT) FROM licenses WHERE id = :id"
                if postgres
                else "SELECT metadata FROM licenses WHERE id = :id"
            ),
            {"id": id_ if postgres else id_.hex},
        ).scalar_one()
        assert isinstance(raw, str)
        found.append((*[v for k, v in row._mapping.items() if k != "id"], str(raw)))
    return found


@pytest.mark.parametrize("copies", [1, 5])
def test_bulk_rows_are_the_rows_an_executemany_stores(
    app: Flask, vendor: VendorFixture, product: dict[str, Any], copies: int
) -> None:
    """4 rows: one INSERT; 20 (more than bulk.SMALL): a COPY on PostgreSQL."""
    shared_meta = {"order": 7, "é": ["ü", None]}
    other = timezone(timedelta(hours=-5))
    variants = [
        {},
        {"metadata": shared_meta, "customer_name": 'Ünï \u2028 "q"\\'},
        {"metadata": shared_meta, "expires_at": NOW.astimezone(other)},
        {"max_domains": 3, "notes": "line\nbreak\ttab", "metadata": {"b": 1, "a": 2}},
    ]
    with app.app_context():
        product_id = db.session.scalars(select(Product.id)).one()
        vendor_id = vendor.new.vendor.id
        # the same values twice: once through bulk, once through a Core insert
        given = [_row(vendor_id, product_id, **v) for v in variants * copies]
        twins = [
            {**row, "id": uuid.uuid4(), "key_hash": uuid.uuid4().bytes * 2}
            for row in given
        ]
        connection = db.session.connection()
        seen: list[str] = []

        def watch(*args: Any) -> None:
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", watch)
        try:
            count = bulk.insert_rows(
                connection,
                LICENSES,
                COLUMNS,
                (tuple(row[name] for name in COLUMNS) for row in given),
            )
        finally:
            event.remove(db.engine, "before_cursor_execute", watch)
        assert count == len(given)
        assert any("licenses" in statement for statement in seen)
        copied = any(statement.startswith("COPY") for statement in seen)
        postgres = db.engine.dialect.name == "postgresql"
        assert copied == (postgres and len(given) > bulk.SMALL), seen
        connection.execute(insert(LICENSES), twins)
        db.session.commit()
        mine = _stored([row["id"] for row in given])
        theirs = _stored([row["id"] for row in twins])
    # every column but id and key_hash (made different on purpose) is the same
    for a, b in zip(mine, theirs, strict=True):
        assert a[:2] + a[3:] == b[:2] + b[3:]
    assert mine[2][2] == given[2]["key_hash"]


def test_bulk_refuses_to_leave_out_a_column_with_a_python_default(app: Flask) -> None:
    events_table = cast("Table", Event.__table__)
    with app.app_context():
        with pytest.raises(ValueError, match="events.mac"):
            bulk.insert_rows(
                db.session.connection(),
                events_table,
                ("vendor_id", "seq", "data"),
                [(uuid.uuid4(), 1, {})],
            )
        db.session.rollback()


def test_bulk_of_no_rows_writes_nothing(app: Flask) -> None:
    with app.app_context():
        assert bulk.insert_rows(db.session.connection(), LICENSES, COLUMNS, []) == 0
        assert db.session.scalars(select(License.id)).all() == []
