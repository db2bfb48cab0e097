"""The theme, WordPress and PHP versions each site last reported, written in batches.

An update check (``POST /v1/updates/check``, the PUC metadata, EDD's
``get_version``) that names a site holding a seat adds ``(activation id, versions,
now)`` to this process's buffer; the buffer is written in one batched ``UPDATE``
on the last-seen schedule (``LAST_SEEN_FLUSH_INTERVAL`` seconds, or ``max_entries``
sites, and at process exit), never by the request itself. A version a site does not
send keeps the one it sent before (``COALESCE``), and a report never overwrites a
newer one (``versions_reported_at``).

The same versions from the same site are written again at most once per
``rewrite_after`` seconds (the ``LAST_SEEN_INTERVAL``): a site checking every
twelve hours costs a row write only when it upgrades, or once an hour at most.
So ``versions_reported_at`` says when the versions were last written, not every
check; like last-seen times they are advisory (shown to the vendor and the site
owner, never decided on), and a crash loses at most one interval of them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from license_server.models import Activation

log = logging.getLogger(__name__)
_MAX_KEPT = 100_000  # the most entries pending or remembered as written
# the columns' sizes: a longer report (EDD's fields are not length-checked) is cut
THEME_MAX, PLATFORM_MAX = 64, 32

_TABLE = cast(Table, Activation.__table__)
SITE_VERSIONS = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("b_id"),
        or_(
            _TABLE.c.versions_reported_at.is_(None),
            _TABLE.c.versions_reported_at < bindparam("b_seen"),
        ),
    )
    .values(
        theme_version=func.coalesce(bindparam("b_theme"), _TABLE.c.theme_version),
        wp_version=func.coalesce(bindparam("b_wp"), _TABLE.c.wp_version),
        php_version=func.coalesce(bindparam("b_php"), _TABLE.c.php_version),
        versions_reported_at=bindparam("b_seen"),
    )
)


def _cut(value: str | None, size: int) -> str | None:
    if value is None:
        return None
    value = value.strip()[:size]
    return value or None


@dataclass(frozen=True)
class Reported:
    """What one site said it runs (None: not said)."""

    theme: str | None
    wp: str | None
    php: str | None

    @classmethod
    def of(cls, theme: str | None, wp: str | None, php: str | None) -> Reported:
        """Return the report, each value trimmed and cut to its column's size."""
        return cls(
            _cut(theme, THEME_MAX), _cut(wp, PLATFORM_MAX), _cut(php, PLATFORM_MAX)
        )

    @property
    def empty(self) -> bool:
        """Return whether the report says nothing."""
        return self.theme is None and self.wp is None and self.php is None


class SiteVersionBuffer:
    """Pending version reports of activations, written in batches."""

    def __init__(
        self,
        interval: float = 10.0,
        max_entries: int = 1000,
        rewrite_after: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.max_entries = max_entries
        self.rewrite_after = rewrite_after
        self.clock = clock
        self._pending: dict[uuid.UUID, tuple[Reported, datetime]] = {}
        # what this process wrote last per activation, and when (its clock)
        self._written: dict[uuid.UUID, tuple[Reported, float]] = {}
        self._lock = threading.Lock()
        self._flushed_at = clock()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, activation_id: uuid.UUID, reported: Reported, seen: datetime) -> None:
        """Remember that a site reported ``reported`` at ``seen``."""
        if reported.empty:
            return
        with self._lock:
            written = self._written.get(activation_id)
            if (
                written is not None
                and written[0] == reported
                and self.clock() - written[1] < self.rewrite_after
            ):
                return
            earlier = self._pending.get(activation_id)
            if earlier is None or earlier[1] <= seen:
                if earlier is None and len(self._pending) >= _MAX_KEPT:
                    return
                self._pending[activation_id] = (reported, seen)

    def due(self) -> bool:
        """Return whether a write is due (by time, or by the number pending)."""
        if not self._pending:
            return False
        waited = self.clock() - self._flushed_at
        return waited >= self.interval or len(self._pending) >= self.max_entries

    def flush(self, engine: Engine) -> int:
        """Write every pending report in one batch; return how many were pending."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed_at = self.clock()
        if not pending:
            return 0
        rows = [
            {
                "b_id": key,
                "b_theme": reported.theme,
                "b_wp": reported.wp,
                "b_php": reported.php,
                "b_seen": seen,
            }
            for key, (reported, seen) in pending.items()
        ]
        try:
            with engine.begin() as connection:
                connection.execute(SITE_VERSIONS, rows)
        except SQLAlchemyError:
            log.warning("site versions not written; kept for the next flush")
            self._keep(pending)
            return len(pending)
        self._remember(pending)
        return len(pending)

    def _remember(self, written: dict[uuid.UUID, tuple[Reported, datetime]]) -> None:
        at = self.clock()
        with self._lock:
            if len(self._written) + len(written) > _MAX_KEPT:
                self._written.clear()  # forgetting costs one more write per site
            for key, (reported, _seen) in written.items():
                self._written[key] = (reported, at)

    def _keep(self, pending: dict[uuid.UUID, tuple[Reported, datetime]]) -> None:
        with self._lock:
            for key, entry in pending.items():
                if len(self._pending) >= _MAX_KEPT:
                    break
                newer = self._pending.get(key)
                if newer is None or newer[1] < entry[1]:
                    self._pending[key] = entry


__all__ = ["Reported", "SiteVersionBuffer"]
