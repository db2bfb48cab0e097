"""When each site (or API key) was last seen, recorded in batches, not per request.

A validation that finds an activation not seen for ``LAST_SEEN_INTERVAL`` seconds
adds ``(activation id, now)`` to this process's buffer; the buffer is written in one
batched ``UPDATE`` (never moving a time backwards) once ``LAST_SEEN_FLUSH_INTERVAL``
seconds have passed since the last write, or once it holds ``max_entries``
activations, and at process exit, by the runtime's flusher thread
(:mod:`license_server.runtime.flusher`): no answer waits on the write.

Last-seen times are advisory (they tell a vendor which sites still run the theme;
nothing is decided on them), so a process that crashes loses at most
``LAST_SEEN_FLUSH_INTERVAL`` seconds of them (or ``max_entries`` updates), and a
vendor's listing may lag by as much. A batch that fails to write is kept for the
next flush.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import Update

from license_server.models import Activation, ApiKey

log = logging.getLogger(__name__)
_MAX_KEPT = 100_000  # after failed writes, the most entries kept for a retry


def _later_time(table: Table, column: str) -> Update:
    """``UPDATE table SET column = :b_seen WHERE id = :b_id AND column < :b_seen``."""
    target = table.c[column]
    return (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            or_(target.is_(None), target < bindparam("b_seen")),
        )
        .values({column: bindparam("b_seen")})
    )


ACTIVATION_LAST_SEEN = _later_time(cast(Table, Activation.__table__), "last_seen_at")
API_KEY_LAST_USED = _later_time(cast(Table, ApiKey.__table__), "last_used_at")


class LastSeenBuffer:
    """Pending "last seen" times of rows (activations, API keys), written in batches."""

    def __init__(
        self,
        interval: float = 10.0,
        max_entries: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        statement: Update = ACTIVATION_LAST_SEEN,
    ) -> None:
        self.statement = statement
        self.interval = interval
        self.max_entries = max_entries
        self.clock = clock
        self._pending: dict[uuid.UUID, datetime] = {}
        self._lock = threading.Lock()
        self._flushed_at = clock()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, activation_id: uuid.UUID, seen: datetime) -> None:
        """Remember that an activation was seen at ``seen``."""
        with self._lock:
            earlier = self._pending.get(activation_id)
            if earlier is None or earlier < seen:
                self._pending[activation_id] = seen

    def due(self) -> bool:
        """Return whether a write is due (by time, or by the number pending)."""
        if not self._pending:
            return False
        waited = self.clock() - self._flushed_at
        return waited >= self.interval or len(self._pending) >= self.max_entries

    def flush(self, engine: Engine) -> int:
        """Write every pending time in one batch; return how many were pending."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed_at = self.clock()
        if not pending:
            return 0
        rows = [{"b_id": key, "b_seen": seen} for key, seen in pending.items()]
        try:
            with engine.begin() as connection:
                connection.execute(self.statement, rows)
        except SQLAlchemyError:
            log.warning("last-seen times not written; kept for the next flush")
            self._keep(pending)
        return len(pending)

    def _keep(self, pending: dict[uuid.UUID, datetime]) -> None:
        with self._lock:
            for key, seen in pending.items():
                if len(self._pending) >= _MAX_KEPT:
                    break
                newer = self._pending.get(key)
                if newer is None or newer < seen:
                    self._pending[key] = seen


__all__ = ["LastSeenBuffer"]
