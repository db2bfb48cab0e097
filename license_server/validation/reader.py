"""The hot path's reads: cached product and signer, the license state prepared.

:class:`Reader` belongs to one app's runtime. On PostgreSQL the license-state query
runs as a **prepared statement on the driver** (psycopg 3, ``prepare=True``) on a
pooled connection in autocommit, so a validation costs one round trip and no
``BEGIN``/``ROLLBACK``; SQLite runs the same query through SQLAlchemy Core.

The raw statement is still reported to the engine's ``before_cursor_execute``
listeners (with no SQLAlchemy connection), so SQL logging and tracing see it.

The pool does not ping connections before use: a connection found dead (the
database restarted) is thrown away and the read retried once on a fresh one; a
second failure answers 503, as every database outage does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from license_server import errors
from license_server.runtime.caches import Caches
from license_server.validation.state import (
    STATE_QUERY,
    LicenseState,
    ProductInfo,
    SignerRef,
    read_product,
    read_signer,
    state_from_row,
)


class Reader:
    """Reads for validations on one engine, with one app's caches."""

    def __init__(self, engine: Engine, caches: Caches) -> None:
        self.engine = engine
        self.caches = caches
        self.postgres = engine.dialect.name == "postgresql"
        compiled = STATE_QUERY.compile(dialect=engine.dialect)
        self._state_sql = str(compiled)
        self._positions = list(compiled.positiontup or ())

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled connection for single-statement reads (autocommit on PostgreSQL)."""
        with self.engine.connect() as connection:
            if self.postgres:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    def product(self, slug: str, connection: Connection | None = None) -> ProductInfo:
        """Return a product's settings by slug (cached), else 404 PRODUCT_NOT_FOUND."""
        cached: ProductInfo | None = self.caches.products.get(slug)
        if cached is not None:
            return cached
        if connection is None:
            with self.connection() as own:
                found = read_product(own, slug)
        else:
            found = read_product(connection, slug)
        if found is None:
            raise errors.ProductNotFound(f"No product with slug {slug!r}.")
        self.caches.products.put(slug, found)
        return found

    def signer(
        self, vendor_id: uuid.UUID, connection: Connection | None = None
    ) -> SignerRef:
        """Return which key signs the vendor's tokens (cached)."""
        cached: SignerRef | None = self.caches.signers.get(vendor_id)
        if cached is not None:
            return cached
        if connection is None:
            with self.connection() as own:
                found = read_signer(own, vendor_id)
        else:
            found = read_signer(connection, vendor_id)
        self.caches.signers.put(vendor_id, found)
        return found

    def state(self, key_hash: bytes, domain: str) -> LicenseState | None:
        """Read a license's state for ``domain``: one statement, never cached."""
        if not self.postgres:
            return self._sqlite_state(key_hash, domain)
        params = {"key_hash": key_hash, "domain": domain}
        for attempt in (1, 2):
            row, alive = self._prepared(params)
            if alive:
                return None if row is None else state_from_row(row)
            if attempt == 2:
                raise errors.ServiceUnavailable(
                    "The database is not reachable.", headers={"Retry-After": "5"}
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _sqlite_state(self, key_hash: bytes, domain: str) -> LicenseState | None:
        """SQLite: the driver's statement cache, the stored text turned into types."""
        params = {"key_hash": key_hash, "domain": domain}
        pooled = self.engine.raw_connection()
        try:
            if self.engine.dispatch.before_cursor_execute:
                self.engine.dispatch.before_cursor_execute(
                    None, None, self._state_sql, params, None, False
                )
            cursor = pooled.cursor()
            try:
                cursor.execute(self._state_sql, [params[n] for n in self._positions])
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            pooled.close()
        return None if row is None else state_from_row(_sqlite_types(row))

    def _prepared(self, params: dict[str, Any]) -> tuple[Any, bool]:
        """Run the state query prepared; return (row, False) on a dead connection."""
        import psycopg

        try:
            pooled = self.engine.raw_connection()
        except psycopg.OperationalError:  # the database refuses new connections
            return None, False
        try:
            driver: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
            try:
                driver.autocommit = True
                if self.engine.dispatch.before_cursor_execute:
                    # SQL echo and tracing listeners still see the statement
                    self.engine.dispatch.before_cursor_execute(
                        None, None, self._state_sql, params, None, False
                    )
                row = driver.execute(self._state_sql, params, prepare=True).fetchone()
                driver.autocommit = False
            except psycopg.OperationalError:
                pooled.invalidate()
                return None, False
            return row, True
        finally:
            pooled.close()


def _uuid(text: Any) -> uuid.UUID | None:
    return None if text is None else uuid.UUID(hex=str(text))


def _moment(text: Any) -> datetime | None:
    return None if text is None else datetime.fromisoformat(str(text))


def _sqlite_types(row: Any) -> tuple[Any, ...]:
    """Turn a SQLite row of the state query into the types PostgreSQL gives."""
    return (
        _uuid(row[0]),
        _uuid(row[1]),
        _uuid(row[2]),
        row[3],
        row[4],
        _moment(row[5]),
        _moment(row[6]),
        row[7],
        _uuid(row[8]),
        _moment(row[9]),
    )
