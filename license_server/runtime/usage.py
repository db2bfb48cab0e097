"""Validation counts per product per day (and per result code), buffered in the process.

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

from license_server.models import UsageCounter, ValidationResultCounter

log = logging.getLogger(__name__)
Key = tuple[uuid.UUID, uuid.UUID, date, str]  # vendor, product, day, result code


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

    def add(
        self, vendor_id: uuid.UUID, product_id: uuid.UUID, day: date, code: str
    ) -> None:
        """Count one validation and the result code it answered."""
        with self._lock:
            self._counts[(vendor_id, product_id, day, code)] += 1

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
        per_day: Counter[tuple[uuid.UUID, uuid.UUID, date]] = Counter()
        for (vendor_id, product_id, day, _), count in counts.items():
            per_day[(vendor_id, product_id, day)] += count
        try:
            with engine.begin() as connection:
                for (vendor_id, product_id, day), count in per_day.items():
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
                for (vendor_id, product_id, day, code), count in counts.items():
                    by_code = insert(ValidationResultCounter).values(
                        vendor_id=vendor_id,
                        product_id=product_id,
                        day=day,
                        code=code,
                        validations=count,
                    )
                    connection.execute(
                        by_code.on_conflict_do_update(
                            index_elements=[
                                ValidationResultCounter.product_id,
                                ValidationResultCounter.day,
                                ValidationResultCounter.code,
                            ],
                            set_={
                                "validations": ValidationResultCounter.validations
                                + by_code.excluded.validations
                            },
                        )
                    )
        except SQLAlchemyError:
            with self._lock:
                self._counts.update(counts)
            log.warning("usage counters not written; kept for the next flush")
        return len(counts)


__all__ = ["UsageBuffer"]
