"""The hot path's reads: cached product and signer, the license state prepared.

:class:`Reader` belongs to one app's runtime. On PostgreSQL the license-state query
runs as a **prepared statement on the driver** (psycopg 3, ``prepare=True``) in
autocommit, so a validation costs one round trip and no ``BEGIN``/``ROLLBACK``;
SQLite runs the same query through SQLAlchemy Core.

Each thread that serves validations holds **one connection of its own** for that
read, taken from the engine's pool once and detached from it (so the pool's size
is unchanged for everything else): no checkout, reset and check-in per request,
and the statement stays prepared on it. It is opened again after a fork (a child
never uses its parent's), after the pool's ``pool_recycle`` age, and when the
engine is disposed (every held connection is closed then).

The raw statement is still reported to the engine's ``before_cursor_execute``
listeners (with no SQLAlchemy connection), so SQL logging and tracing see it.

Nothing pings connections before use: a connection found dead (the database
restarted) is thrown away and the read retried once on a fresh one; a second
failure answers 503, as every database outage does.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, event
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
        self._local = threading.local()
        self._held: list[_Held] = []  # every thread's connection, to close them
        self._held_lock = threading.Lock()
        recycle = getattr(engine.pool, "_recycle", -1)
        self._recycle = float(recycle) if recycle and recycle > 0 else None
        if self.postgres:
            event.listen(engine, "engine_disposed", self._close_held)

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
            held = self._connection()
        except psycopg.OperationalError:  # the database refuses new connections
            return None, False
        try:
            if self.engine.dispatch.before_cursor_execute:
                # SQL echo and tracing listeners still see the statement
                self.engine.dispatch.before_cursor_execute(
                    None, None, self._state_sql, params, None, False
                )
            row = held.execute(self._state_sql, params, prepare=True).fetchone()
        except psycopg.OperationalError:
            self._drop(held)
            return None, False
        return row, True

    def _connection(self) -> Any:
        """This thread's held psycopg connection, opened (or reopened) when needed."""
        local, pid = self._local, os.getpid()
        held: Any = getattr(local, "held", None)
        if held is not None and local.pid == pid:
            if not held.closed and (
                self._recycle is None or time.monotonic() < local.expires
            ):
                return held
            self._drop(held)
        # else none yet, or the parent process's: never used (nor closed) here
        pooled = self.engine.raw_connection()
        pooled.detach()  # ours now: the pool neither counts nor resets it
        held = pooled.dbapi_connection  # detached, it stays on the fairy
        held.autocommit = True
        local.held, local.pid = held, pid
        local.expires = time.monotonic() + (self._recycle or 0.0)
        with self._held_lock:
            ended = [c for c in self._held if c.pid == pid and not c.thread.is_alive()]
            self._held = [c for c in self._held if c not in ended]
            self._held.append(_Held(held, pid, threading.current_thread()))
        for entry in ended:  # their threads are gone: nobody else will close them
            _close(entry.connection)
        return held

    def _drop(self, held: Any) -> None:
        """Close ``held`` and forget it."""
        if getattr(self._local, "held", None) is held:
            self._local.held = None
        with self._held_lock:
            self._held = [c for c in self._held if c.connection is not held]
        _close(held)

    def _close_held(self, engine: Engine) -> None:
        """The engine was disposed: close every held connection of this process.

        A parent's connections (inherited by a fork) stay referenced and unclosed:
        closing or even freeing one here would end the parent's session.
        """
        pid = os.getpid()
        with self._held_lock:
            mine = [c for c in self._held if c.pid == pid]
            self._held = [c for c in self._held if c.pid != pid]
        for entry in mine:
            _close(entry.connection)


@dataclass(frozen=True)
class _Held:
    """A connection a thread holds for the state read."""

    connection: Any
    pid: int
    thread: threading.Thread


def _close(connection: Any) -> None:
    with contextlib.suppress(Exception):  # already broken: nothing left to close
        connection.close()


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
