"""Validation counts per product per day, buffered in the process.

The validate hot path never writes per request: it adds to this buffer, and the
buffer is written (one upsert per product and day) at most every ``interval``
seconds, and at process exit. Stats therefore lag by up to ``interval`` seconds per
process, and a crashed process loses at most that much of these advisory counts.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from datetime import date

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from license_server.extensions import db
from license_server.models import UsageCounter

log = logging.getLogger(__name__)
Key = tuple[uuid.UUID, uuid.UUID, date]  # vendor, product, day


class UsageBuffer:
    """Per-process counters of validations, flushed in batches."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._counts: Counter[Key] = Counter()
        self._lock = threading.Lock()
        self._flushed_at = time.monotonic()

    def add(self, vendor_id: uuid.UUID, product_id: uuid.UUID, day: date) -> None:
        """Count one validation."""
        with self._lock:
            self._counts[(vendor_id, product_id, day)] += 1

    def due(self) -> bool:
        """Return whether a flush is due."""
        return time.monotonic() - self._flushed_at >= self.interval

    def flush(self) -> None:
        """Write the buffered counts (in an app context); keep them on error."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._flushed_at = time.monotonic()
        if not counts:
            return
        try:
            for (vendor_id, product_id, day), count in counts.items():
                _upsert(vendor_id, product_id, day, count)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            with self._lock:
                self._counts.update(counts)
            log.warning("usage counters not written; kept for the next flush")


def _upsert(vendor_id: uuid.UUID, product_id: uuid.UUID, day: date, count: int) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(UsageCounter).values(
        vendor_id=vendor_id, product_id=product_id, day=day, validations=count
    )
    statement = statement.on_conflict_do_update(
        index_elements=[UsageCounter.product_id, UsageCounter.day],
        set_={"validations": UsageCounter.validations + statement.excluded.validations},
    )
    db.session.execute(statement)
