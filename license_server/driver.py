"""Core statements of a write path run prepared on the driver, inside the session.

An activation sends four statements in its transaction; through SQLAlchemy's
execution machinery each costs about 50-100 µs of CPU before and after its round
trip (cache key, execution context, result metadata), through psycopg alone about
15. :class:`Prepared` compiles a Core statement once per dialect and, on
PostgreSQL, runs it on the psycopg connection under the caller's SQLAlchemy
connection (so it is in the same transaction, which commits or rolls back as
always), prepared server-side. Elsewhere (SQLite) it is the plain
``connection.execute``.

What SQLAlchemy would do per statement is kept: each parameter goes through its
type's bind processor (a ``UTCDateTime`` in UTC, a JSON value serialised), the
values written in the statement and a column's scalar default are filled in, the
engine's ``before_cursor_execute`` listeners see the SQL (echo, tracing), and a
driver error is raised as SQLAlchemy's own exception class (``IntegrityError`` for
a unique violation, ``OperationalError`` for a lost connection, which is
invalidated so the pool does not hand it out again).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable


@dataclass(frozen=True)
class _Compiled:
    sql: str
    processors: Mapping[str, Callable[[Any], Any]]
    defaults: Mapping[str, Any]


class Prepared:
    """One Core statement, compiled once per dialect, run prepared on PostgreSQL."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = (
            weakref.WeakKeyDictionary()
        )

    def first(
        self, connection: Connection, params: Mapping[str, Any]
    ) -> Sequence[Any] | None:
        """Run the statement; return its first row (None: no row, or no result)."""
        if connection.dialect.name != "postgresql":
            result = connection.execute(self.statement, dict(params))
            return result.first() if result.returns_rows else None
        import psycopg

        compiled = self._compile(connection.dialect)
        values = {**compiled.defaults, **params}
        for name, process in compiled.processors.items():
            if name in values:
                values[name] = process(values[name])
        if connection.dispatch.before_cursor_execute:
            connection.dispatch.before_cursor_execute(
                connection, None, compiled.sql, values, None, False
            )
        raw: Any = connection.connection.driver_connection
        try:
            cursor = raw.execute(compiled.sql, values, prepare=True)
            return cursor.fetchone() if cursor.description is not None else None
        except psycopg.Error as error:
            lost = connection.dialect.is_disconnect(cast(Any, error), raw, None)
            if lost:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(
                compiled.sql,
                values,
                error,
                psycopg.Error,
                connection_invalidated=lost,
                dialect=connection.dialect,
            ) from error

    def _compile(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = _compile(self.statement, dialect)
        return found


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    defaults: dict[str, Any] = {}
    for bind, name in compiled.bind_names.items():  # values written in the statement
        if not bind.required:
            defaults[name] = bind.effective_value
    for column in getattr(compiled, "insert_prefetch", ()):
        default = column.default
        if default is None or not default.is_scalar:
            raise TypeError(f"column {column.key!r}: only scalar defaults are filled")
        defaults[column.key] = default.arg
    if getattr(compiled, "update_prefetch", ()):
        raise TypeError("an UPDATE with Python-side onupdate values is not supported")
    processors = {
        name: process
        for name, process in (compiled._bind_processors or {}).items()
        if process is not None
    }
    return _Compiled(str(compiled), processors, defaults)
