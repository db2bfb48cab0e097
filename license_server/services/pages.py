"""Cursor pagination: stable under inserts, opaque to callers."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_

from license_server import errors
from license_server.extensions import db

T = TypeVar("T")
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 512
_BIGINT = 2**63 - 1


class InvalidCursor(errors.APIError):
    status_code, code, message = 422, "INVALID_CURSOR", "The cursor is not valid."


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the cursor of the next (None at the end)."""

    data: list[T]
    next: str | None


def cursor_moment(value: Any) -> datetime:
    """Read a cursor's timestamp: ISO 8601 text with a time zone, nothing else."""
    if not isinstance(value, str):
        raise InvalidCursor()
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:  # the database layer refuses naive times: not a 500
        raise InvalidCursor()
    return moment


def cursor_id(value: Any) -> uuid.UUID:
    """Read a cursor's row id: the text of a UUID."""
    if not isinstance(value, str):
        raise InvalidCursor()
    return uuid.UUID(value)


def cursor_number(value: Any) -> int:
    """Read a cursor's sequence number: an integer a BIGINT column can hold."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCursor()
    if not 0 <= value <= _BIGINT:
        raise InvalidCursor()
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    """Return an opaque cursor for the sort values of the last item of a page."""
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """Decode a cursor made by :func:`encode_cursor`, or answer 422."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(values, list) or len(values) != size:
        raise InvalidCursor()
    return values


def after(columns: Sequence[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """Return the keyset condition 'strictly after ``values``' in descending order."""
    clauses = []
    for index, column in enumerate(columns):
        equal = [columns[i] == values[i] for i in range(index)]
        clauses.append(and_(*equal, column < values[index]))
    return or_(*clauses)


def paginate(
    query: Select[Any],
    *,
    columns: Sequence[Any],
    parse: Sequence[Callable[[Any], Any]],
    key: Callable[[T], Sequence[Any]],
    cursor: str | None,
    limit: int,
) -> Page[T]:
    """Run ``query`` ordered by ``columns`` descending, one page after ``cursor``."""
    if cursor:
        raw = decode_cursor(cursor, len(columns))
        try:
            values = [convert(value) for convert, value in zip(parse, raw, strict=True)]
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidCursor() from exc
        query = query.where(after(columns, values))
    query = query.order_by(*(column.desc() for column in columns))
    rows: list[T] = list(db.session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(key(rows[-1])) if more and rows else None)
