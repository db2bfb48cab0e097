"""Many rows into one table in one statement: COPY on PostgreSQL, else executemany.

A few rows (at most :data:`SMALL`, an activation's one event) go as one Core
``INSERT`` on PostgreSQL too: COPY costs two round trips (the statement, then the
data), an insert one.

A batch issue writes a thousand licenses, their events and their webhooks. Through
SQLAlchemy's executemany each row is its own bound statement (psycopg pipelines
them: one round trip, but per row a parameter dump, a Bind and an Execute on the
server). ``COPY ... FROM STDIN (FORMAT BINARY)`` sends the rows as one stream that
the server reads in one pass, and psycopg formats them in C. The rows may be a
generator: psycopg sends them in chunks as they come, so the server stores the
first rows while the caller still computes the last ones (two processes, two
cores).

The values a caller passes are the ones it would give a Core ``insert()``; on
PostgreSQL each column's SQLAlchemy bind processor (JSON serialisation, the UTC
check of ``UTCDateTime``) runs on them first, once for a run of rows sharing one
object (a batch's rows share their time and most fields), so the stored values
are the same either way. Every column of the table with a Python-side default
must be given (COPY would apply the server's default instead).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, LargeBinary, Table, insert

_SIZE = re.compile(r"\(.*\)$")
SMALL = 16  # at most this many rows: one INSERT, not a COPY


def insert_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; return how many."""
    _check_columns(table, columns)
    iterator = iter(rows)
    first = list(itertools.islice(iterator, SMALL + 1))
    if connection.dialect.name != "postgresql" or len(first) <= SMALL:
        given = [
            dict(zip(columns, row, strict=True))
            for row in itertools.chain(first, iterator)
        ]
        if given:
            connection.execute(insert(table), given)
        return len(given)
    rows = itertools.chain(first, iterator)
    statement = (
        f"COPY {connection.dialect.identifier_preparer.format_table(table)}"
        f" ({', '.join(_quoted(connection, name) for name in columns)})"
        " FROM STDIN (FORMAT BINARY)"
    )
    engine = connection.engine
    if engine.dispatch.before_cursor_execute:
        # SQL echo and statement-watching listeners still see the statement
        engine.dispatch.before_cursor_execute(
            connection, None, statement, (), None, False
        )
    driver = connection.connection.driver_connection
    count = 0
    with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        plan = [_column_plan(connection, table, name) for name in columns]
        copy.set_types([sent for sent, _ in plan])
        for row in _processed([process for _, process in plan], rows):
            copy.write_row(row)
            count += 1
    return count


def _check_columns(table: Table, columns: Sequence[str]) -> None:
    """A left-out column gets the server's default: refuse one with a Python one."""
    given = set(columns)
    for column in table.columns:
        if column.name not in given and column.default is not None:
            raise ValueError(f"{table.name}.{column.name} has a default: give it")


def _quoted(connection: Connection, name: str) -> str:
    return str(connection.dialect.identifier_preparer.quote(name))


def _column_plan(
    connection: Connection, table: Table, name: str
) -> tuple[str, Callable[[Any], Any] | None]:
    """How a column's values go out: the type they are sent as, what turns them into it.

    A ``json`` column's value is sent as its text, serialised as SQLAlchemy would
    (the dialect's ``json_serializer``, else :func:`json.dumps`): in the binary COPY
    format a ``json`` value *is* its text, so the server reads the same bytes. Any
    other column is sent as its own type, through its bind processor, if any.
    """
    column = table.columns[name]
    dialect = connection.dialect
    sent = _SIZE.sub("", column.type.compile(dialect=dialect)).lower()
    if isinstance(column.type, JSON) and sent == "json":
        serialise: Callable[[Any], str] = (
            getattr(dialect, "_json_serializer", None) or json.dumps
        )
        return "text", serialise
    if isinstance(column.type, LargeBinary):
        return sent, None  # its processor wraps bytes for the driver: COPY takes bytes
    return sent, column.type._cached_bind_processor(dialect)


def _processed(
    processes: Sequence[Callable[[Any], Any] | None],
    rows: Iterable[Sequence[Any]],
) -> Iterator[Sequence[Any]]:
    """The rows with each column's processing applied.

    A value that is the very object the row before had in that column (a batch's
    rows share their time, product and most fields) reuses its processed form.
    """
    active = [(place, process) for place, process in enumerate(processes) if process]
    if not active:
        yield from rows
        return
    last: list[tuple[Any, Any]] = [(_NOTHING, None)] * len(active)
    for row in rows:
        values = list(row)
        for slot, (place, process) in enumerate(active):
            value = values[place]
            seen, processed = last[slot]
            if value is not seen:
                processed = process(value)
                last[slot] = (value, processed)
            values[place] = processed
        yield values


_NOTHING = object()
