"""When to try a failed delivery again: a fixed schedule with jitter, then give up.

After the first attempt fails the next ones follow about 5 s, 5 min, 30 min, 2 h,
5 h, 10 h, 14 h, 20 h and 24 h later (each ±10 %); when the last fails the
delivery is failed. A ``Retry-After`` on 429/503 delays the next try to at least
that (capped at a day).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
MAX_TRIES = len(RETRY_DELAYS) + 1
JITTER = 0.1
MAX_RETRY_AFTER = 86400

Jitter = Callable[[float, float], float]


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Parse a ``Retry-After`` header (seconds or an HTTP date); None if absent."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return min(max((moment - now).total_seconds(), 0.0), MAX_RETRY_AFTER)


def next_attempt(
    tries: int,
    now: datetime,
    *,
    retry_after: float | None = None,
    jitter: Jitter = random.uniform,
) -> datetime | None:
    """Return when to try again after ``tries`` failed tries, or None to give up."""
    if tries >= MAX_TRIES:
        return None
    base = RETRY_DELAYS[tries - 1]
    delay = base * (1 + jitter(-JITTER, JITTER))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)
