"""Validation counts per product per day, buffered in the process.

The validate hot path never writes per request: it adds to this buffer, and the
buffer is written (one upsert per product and day, on a connection of its own, in
one transaction) at most every ``interval`` seconds, and at process exit. Stats
therefore lag by up to ``interval`` seconds per process, and a crashed process loses
at most that much of these advisory counts. A batch that fails to write is kept.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from license_server.models import UsageCounter

log = logging.getLogger(__name__)
Key = tuple[uuid.UUID, uuid.UUID, date]  # vendor, product, day


class UsageBuffer:
    """Per-process counters of validations, flushed in batches."""

    def __init__(
        self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self.clock = clock
        self._counts: Counter[Key] = Counter()
        self._lock = threading.Lock()
        self._flushed_at = clock()

    def __len__(self) -> int:
        return len(self._counts)

    def add(self, vendor_id: uuid.UUID, product_id: uuid.UUID, day: date) -> None:
        """Count one validation."""
        with self._lock:
            self._counts[(vendor_id, product_id, day)] += 1

    def due(self) -> bool:
        """Return whether a flush is due."""
        return bool(self._counts) and self.clock() - self._flushed_at >= self.interval

    def flush(self, engine: Engine) -> int:
        """Write the buffered counts in one transaction; keep them on error."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._flushed_at = self.clock()
        if not counts:
            return 0
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        try:
            with engine.begin() as connection:
                for (vendor_id, product_id, day), count in counts.items():
                    statement = insert(UsageCounter).values(
                        vendor_id=vendor_id,
                        product_id=product_id,
                        day=day,
                        validations=count,
                    )
                    excluded = statement.excluded.validations
                    connection.execute(
                        statement.on_conflict_do_update(
                            index_elements=[UsageCounter.product_id, UsageCounter.day],
                            set_={"validations": UsageCounter.validations + excluded},
                        )
                    )
        except SQLAlchemyError:
            with self._lock:
                self._counts.update(counts)
            log.warning("usage counters not written; kept for the next flush")
        return len(counts)


__all__ = ["UsageBuffer"]
