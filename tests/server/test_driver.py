"""Statements run prepared on the driver do what SQLAlchemy would (driver.py).

Each test runs on SQLite (where :class:`Prepared` is plain ``execute``) and on
PostgreSQL (where it runs on psycopg under the session's connection), and checks
the same outcome: the row stored, the types read back, the error class raised.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Uuid, bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from license_server.driver import Prepared
from license_server.extensions import db
from license_server.models import Activation, UTCDateTime
from tests.conftest import create_license, create_product, new_vendor

MOMENT = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
# an activation row with one column (deactivated_by_owner) left to its default
_INSERT = Prepared(
    insert(Activation)
    .values(
        id=bindparam("id", type_=Uuid),
        vendor_id=bindparam("vendor_id", type_=Uuid),
        license_id=bindparam("license_id", type_=Uuid),
        domain=bindparam("domain"),
        development=bindparam("development"),
        created_at=bindparam("created_at", type_=UTCDateTime),
        last_seen_at=bindparam("created_at", type_=UTCDateTime),
    )
    .returning(Activation.id, Activation.created_at, Activation.deactivated_by_owner)
)


def _license(app: Flask) -> dict[str, Any]:
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    found = create_license(client, vendor)
    found["vendor_id"] = vendor.new.vendor.id
    return found


def _row(licence: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "vendor_id": licence["vendor_id"],
        "license_id": uuid.UUID(licence["id"]),
        "domain": "shop.example.com",
        "development": False,
        "created_at": MOMENT,
        **changes,
    }


def test_a_row_is_stored_and_read_as_sqlalchemy_would(app: Flask) -> None:
    licence = _license(app)
    seen: list[str] = []
    with app.app_context():

        def listener(*args: Any) -> None:
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            values = _row(licence)
            returned = _INSERT.first(db.session.connection(), values)
            db.session.commit()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert returned is not None
        assert returned[0] == values["id"]
        assert returned[2] is False  # the column's default, filled in
        stored = db.session.get(Activation, values["id"])
        assert stored is not None
        assert stored.created_at == MOMENT and stored.deactivated_by_owner is False
        assert any("INSERT INTO activations" in sql for sql in seen)
        nothing = Prepared(select(Activation.id).where(Activation.domain == "none"))
        assert nothing.first(db.session.connection(), {}) is None


def test_bind_processors_run_on_the_driver_too(app: Flask) -> None:
    licence = _license(app)
    with app.app_context():
        naive = MOMENT.replace(tzinfo=None)
        # UTCDateTime refuses a naive datetime: the processor ran
        with pytest.raises(Exception, match="naive datetimes are not stored"):
            _INSERT.first(db.session.connection(), _row(licence, created_at=naive))
        db.session.rollback()


def test_a_unique_violation_is_sqlalchemys_integrity_error(app: Flask) -> None:
    licence = _license(app)
    with app.app_context():
        values = _row(licence)
        _INSERT.first(db.session.connection(), values)
        with pytest.raises(IntegrityError):
            _INSERT.first(db.session.connection(), values)  # the same id again
        db.session.rollback()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lost_connection_is_invalidated_and_operational(app: Flask) -> None:
    with app.app_context():
        connection = db.session.connection()
        raw: Any = connection.connection.driver_connection
        pid = raw.info.backend_pid
        with db.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            other.commit()
        with pytest.raises(OperationalError):
            Prepared(select(Activation.id)).first(connection, {})
        assert connection.invalidated
        db.session.rollback()
        # the pool does not hand the dead connection out again
        assert db.session.connection().exec_driver_sql("SELECT 1").scalar() == 1
        db.session.rollback()
