"""Update-check stats: installed versions, WordPress and PHP versions per product/day.

Checks add to per-process counters flushed in batches (like validation counts), so
the update check writes nothing per request. Values are what the site reported
(WordPress and PHP reduced to ``major.minor``); nothing identifies a site.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from license_server.extensions import db
from license_server.models import (
    Product,
    Release,
    ReleaseDownloadCounter,
    UpdateCheckCounter,
)

log = logging.getLogger(__name__)
Key = tuple[uuid.UUID, uuid.UUID, date, str, str]  # vendor, product, day, dim, value
_MINOR = re.compile(r"^(\d+)(?:\.(\d+))?")


def minor(version: str | None) -> str:
    """Reduce a reported version to ``major.minor`` ("unknown" when absent)."""
    match = _MINOR.match(version or "")
    if match is None:
        return "unknown"
    return f"{match.group(1)}.{match.group(2) or '0'}"


class CheckCounters:
    """Per-process counters of update checks, flushed in batches."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._counts: Counter[Key] = Counter()
        self._lock = threading.Lock()
        self._flushed_at = time.monotonic()

    def add(
        self,
        vendor_id: uuid.UUID,
        product_id: uuid.UUID,
        day: date,
        values: dict[str, str],
    ) -> None:
        """Count one check with its reported values (dimension -> value)."""
        with self._lock:
            for dimension, value in values.items():
                self._counts[(vendor_id, product_id, day, dimension, value[:64])] += 1

    def flush_if_due(self) -> None:
        """Write the counters when the interval has passed."""
        if time.monotonic() - self._flushed_at >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Write the buffered counts; keep them for the next flush on error."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._flushed_at = time.monotonic()
        if not counts:
            return
        try:
            for key, count in counts.items():
                _upsert(key, count)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            with self._lock:
                self._counts.update(counts)
            log.warning("update-check counters not written; kept for the next flush")


def _upsert(key: Key, count: int) -> None:
    vendor_id, product_id, day, dimension, value = key
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(UpdateCheckCounter).values(
        vendor_id=vendor_id,
        product_id=product_id,
        day=day,
        dimension=dimension,
        value=value,
        checks=count,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[
            UpdateCheckCounter.product_id,
            UpdateCheckCounter.day,
            UpdateCheckCounter.dimension,
            UpdateCheckCounter.value,
        ],
        set_={"checks": UpdateCheckCounter.checks + statement.excluded.checks},
    )
    db.session.execute(statement)


class DownloadCounters:
    """Per-process counters of downloads per release and day, flushed in batches."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._counts: Counter[tuple[uuid.UUID, uuid.UUID, date]] = Counter()
        self._lock = threading.Lock()
        self._flushed_at = time.monotonic()

    def add(self, vendor_id: uuid.UUID, release_id: uuid.UUID, day: date) -> None:
        """Count one download."""
        with self._lock:
            self._counts[(vendor_id, release_id, day)] += 1
        if time.monotonic() - self._flushed_at >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Write the buffered counts; keep them for the next flush on error."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._flushed_at = time.monotonic()
        if not counts:
            return
        try:
            for (vendor_id, release_id, day), count in counts.items():
                _upsert_download(vendor_id, release_id, day, count)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            with self._lock:
                self._counts.update(counts)
            log.warning("download counters not written; kept for the next flush")


def _upsert_download(
    vendor_id: uuid.UUID, release_id: uuid.UUID, day: date, count: int
) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ReleaseDownloadCounter).values(
        release_id=release_id, day=day, vendor_id=vendor_id, downloads=count
    )
    statement = statement.on_conflict_do_update(
        index_elements=[ReleaseDownloadCounter.release_id, ReleaseDownloadCounter.day],
        set_={
            "downloads": ReleaseDownloadCounter.downloads + statement.excluded.downloads
        },
    )
    db.session.execute(statement)


def vendor_stats(
    *, vendor_id: uuid.UUID, today: date, days: int = 30
) -> dict[str, Any]:
    """Return per product slug: checks, version/WP/PHP shares, downloads per release."""
    since = today - timedelta(days=days - 1)
    result: dict[str, Any] = defaultdict(
        lambda: {"checks": 0, "versions": {}, "wp": {}, "php": {}, "downloads": {}}
    )
    rows = db.session.execute(
        select(
            Product.slug,
            UpdateCheckCounter.dimension,
            UpdateCheckCounter.value,
            func.sum(UpdateCheckCounter.checks),
        )
        .join(Product, Product.id == UpdateCheckCounter.product_id)
        .where(
            UpdateCheckCounter.vendor_id == vendor_id, UpdateCheckCounter.day >= since
        )
        .group_by(Product.slug, UpdateCheckCounter.dimension, UpdateCheckCounter.value)
    )
    for slug, dimension, value, total in rows:
        entry = result[slug]
        entry[dimension][value] = int(total)
        if dimension == "versions":
            entry["checks"] += int(total)
    downloads = db.session.execute(
        select(
            Product.slug, Release.version, func.sum(ReleaseDownloadCounter.downloads)
        )
        .join(Release, Release.id == ReleaseDownloadCounter.release_id)
        .join(Product, Product.id == Release.product_id)
        .where(
            ReleaseDownloadCounter.vendor_id == vendor_id,
            ReleaseDownloadCounter.day >= since,
        )
        .group_by(Product.slug, Release.version)
    )
    for slug, version, total in downloads:
        result[slug]["downloads"][version] = int(total)
    return dict(result)
