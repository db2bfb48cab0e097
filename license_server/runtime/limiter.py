"""Fixed-window rate-limit counters: one storage round per request, Redis or memory.

A request's limits are a list of :class:`Op`: a counter name, how much to add (0 to
only read it) and how long the counter lives. :meth:`Limiter.apply` performs them all
in **one** round: one ``EVALSHA`` of a small Lua script on Redis, or one locked pass
over a dict in memory. Which limit was breached, and what the caller answers, is the
caller's business (:mod:`license_server.api.throttle`); this module only counts.

Windows are fixed: a counter for ``60/minute`` is named with the minute it counts
(``…:60:29581234``), so it needs no reset and its retry time is the window's end.

Storage is ``RATELIMIT_STORAGE_URI``: ``memory://`` (each process counts alone) or a
Redis URL (every process shares the counters). When Redis cannot be reached the
limiter **fails open to memory**: it counts in the process until Redis answers again
(retried with a back-off up to 30 s), logs the outage once and the recovery once, and
reports ``license_server_ratelimit_fallback`` = 1 meanwhile. A request never fails
because the rate-limit storage is down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from limits import parse_many
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

FALLBACK = Gauge(
    "license_server_ratelimit_fallback",
    "1 while this process counts rate limits in memory because Redis is down.",
    multiprocess_mode="max",
)
STORAGE_ERRORS = Counter(
    "license_server_ratelimit_storage_errors_total",
    "Rate-limit storage calls that failed (answered from memory instead).",
)
REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://", "unix://")

# KEYS: the ops' counters, then the mark's (if any). ARGV: the number of ops; then
# for each op its increment, lifetime (s) and limit (-1: none); then the mark's
# lifetime and the (1-based) index of the op whose count, when above 0, lifts the
# limits of read-only ops (0: none). Returns the counts, then 1 if the mark was set.
# The mark is set only when no op is over its limit (`over` below, in Lua).
_SCRIPT = """
local n = tonumber(ARGV[1])
local counts = {}
for i = 1, n do
  local add = tonumber(ARGV[3 * i - 1])
  local value
  if add ~= 0 then
    value = redis.call('INCRBY', KEYS[i], add)
    if value == add then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[3 * i])) end
  else
    value = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  counts[i] = value
end
if #KEYS > n then
  local exempt = tonumber(ARGV[3 * n + 3])
  local known = exempt > 0 and counts[exempt] > 0
  local within = not known
  for i = 1, n do
    local limit = tonumber(ARGV[3 * i + 1])
    if within and limit >= 0 then
      if tonumber(ARGV[3 * i - 1]) > 0 then
        within = counts[i] <= limit
      else
        within = counts[i] < limit
      end
    end
  end
  counts[n + 1] = 0
  if within then
    local value = redis.call('INCRBY', KEYS[n + 1], 1)
    if value == 1 then redis.call('EXPIRE', KEYS[n + 1], tonumber(ARGV[3 * n + 2])) end
    counts[n + 1] = 1
  end
end
return counts
"""


@dataclass(frozen=True)
class Rule:
    """``amount`` requests per ``seconds`` (one part of ``10/second;1000/day``)."""

    amount: int
    seconds: int
    text: str


def parse_rules(text: str) -> tuple[Rule, ...]:
    """Parse ``'60/minute'`` or ``'10/second;1000/day'``; raise ValueError if bad."""
    if not text:
        return ()
    return tuple(
        Rule(item.amount, item.get_expiry(), str(item)) for item in parse_many(text)
    )


class Op(NamedTuple):
    """Add ``add`` (0: only read) to counter ``key``, which lives ``ttl`` seconds.

    ``limit`` (-1: none) is the most the counter may reach (an op that adds), or
    the count at which a read-only op stands in the way: see :func:`over`.
    """

    key: str
    add: int
    ttl: int
    limit: int = -1


def over(op: Op, count: int, exempt: bool) -> bool:
    """Return whether ``count`` breaks ``op``'s limit.

    An op that adds is over once its count passes the limit; a read-only op (the
    failed lookups) once its count reaches it, unless the request is ``exempt``
    (it names a key this address has used). The Lua script decides the same way.
    """
    if op.limit < 0:
        return False
    if op.add > 0:
        return count > op.limit
    return count >= op.limit and not exempt


class Mark(NamedTuple):
    """Set counter ``key`` (to 1, for ``ttl`` s) in the same round as the ops, if
    the counter at ``exempt`` (an index into the ops) was 0 and no op is over."""

    key: str
    ttl: int
    exempt: int


def within(ops: Sequence[Op], counts: Sequence[int], mark: Mark) -> bool:
    """Return whether ``mark`` is to be set after ``ops`` counted ``counts``."""
    if counts[mark.exempt] > 0:
        return False
    return not any(
        over(op, count, False) for op, count in zip(ops, counts, strict=False)
    )


class Window(NamedTuple):
    """The counter of one rule for one bucket, in the current window."""

    rule: Rule
    key: str
    retry_after: int


def window(prefix: str, bucket: str, rule: Rule, now: float) -> Window:
    """Name the current fixed window of ``rule`` for ``bucket``."""
    index = int(now // rule.seconds)
    ends = (index + 1) * rule.seconds
    key = f"{prefix}:{bucket}:{rule.seconds}:{index}"
    return Window(rule, key, max(1, math.ceil(ends - now)))


class MemoryCounters:
    """Counters in this process's memory; expired ones are swept as it goes."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._swept_at = clock()

    def apply(self, ops: Sequence[Op], mark: Mark | None = None) -> list[int]:
        """Perform ``ops`` (and ``mark``); return the counts (and 1 if marked)."""
        now = self.clock()
        counts = []
        with self._lock:
            if now - self._swept_at > 60:
                self._sweep(now)
            for op in ops:
                counts.append(self._add(op.key, op.add, op.ttl, now))
            if mark is not None:
                marked = within(ops, counts, mark)
                if marked:
                    self._add(mark.key, 1, mark.ttl, now)
                counts.append(int(marked))
        return counts

    def _add(self, key: str, add: int, ttl: int, now: float) -> int:
        value, expires = self._counts.get(key, (0, 0.0))
        if expires <= now:
            value, expires = 0, now + ttl
        if add:
            value += add
            self._counts[key] = (value, expires)
        return value

    def _sweep(self, now: float) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        self._swept_at = now

    def clear(self) -> None:
        """Forget every counter."""
        with self._lock:
            self._counts.clear()


def pack_command(*parts: str | int) -> bytes:
    """Encode one Redis command in RESP: an array of bulk strings."""
    out = [f"*{len(parts)}\r\n"]
    for part in parts:
        text = str(part)
        out.append(f"${len(text.encode())}\r\n{text}\r\n")
    return "".join(out).encode()


class RedisCounters:
    """Counters in Redis, every request's ops in one ``EVALSHA``.

    The command is packed here and sent on a redis-py connection of the calling
    thread's own, read back with redis-py's parser: the client's per-command layers
    (argument encoding, pool checkout, retry and instrumentation wrappers) cost more
    CPU than the round itself. Each thread (in each process: a forked child opens
    its own) keeps one connection. A connection found broken (Redis restarted since
    it was last used) is dropped and the command sent once more on a fresh one; a
    script Redis does not know (after a restart or ``SCRIPT FLUSH``) is loaded and
    the command sent again.
    """

    def __init__(self, uri: str) -> None:
        import redis

        # a stalled Redis must not stall requests: give up quickly, then fail open
        # (the pool is only the URL's connection settings: each thread makes its own)
        self.pool = redis.ConnectionPool.from_url(
            uri, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        # the script's name in Redis (EVALSHA), not a security use of SHA-1
        self.sha = hashlib.sha1(_SCRIPT.encode(), usedforsecurity=False).hexdigest()
        self._errors = redis.exceptions
        self._local = threading.local()

    def apply(self, ops: Sequence[Op], mark: Mark | None = None) -> list[int]:
        """Perform ``ops`` (and ``mark``) in one round; return as the memory does."""
        keys = [op.key for op in ops]
        args: list[int] = [len(ops)]
        for op in ops:
            args += [op.add, op.ttl, op.limit]
        if mark is not None:
            keys.append(mark.key)
            args += [mark.ttl, mark.exempt + 1]
        command = pack_command("EVALSHA", self.sha, len(keys), *keys, *args)
        result = self._call(command)
        return [int(value) for value in result]

    def _connection(self) -> Any:
        """This thread's connection (a new one in a forked child)."""
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            pool = self.pool
            connection = pool.connection_class(**pool.connection_kwargs)
            local.connection, local.pid = connection, os.getpid()
        return connection

    def _call(self, command: bytes) -> Any:
        errors = self._errors
        for attempt in (1, 2):
            connection = self._connection()
            try:
                try:
                    connection.send_packed_command([command], check_health=False)
                    return connection.read_response()
                except errors.NoScriptError:
                    load = pack_command("SCRIPT", "LOAD", _SCRIPT)
                    connection.send_packed_command([load], check_health=False)
                    connection.read_response()
                    connection.send_packed_command([command], check_health=False)
                    return connection.read_response()
            except errors.ResponseError:
                raise  # Redis answered: the connection is fine
            except errors.ConnectionError:
                # broken (reset, refused): drop it; a stale one gets one retry
                connection.disconnect()
                if attempt == 2:
                    raise
            except BaseException:  # a timeout included: no retry, fail open at once
                connection.disconnect()
                raise
        raise AssertionError("unreachable")  # pragma: no cover


class Limiter:
    """Counters for one app: shared storage with a fail-open memory fallback."""

    def __init__(
        self,
        storage_uri: str,
        prefix: str,
        *,
        enabled: bool = True,
        rules: dict[str, tuple[Rule, ...]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.prefix = prefix
        self.enabled = enabled
        self.rules = rules or {}
        self.clock = clock
        self.memory = MemoryCounters(clock)
        self.shared: RedisCounters | None = None
        if storage_uri.startswith(REDIS_SCHEMES):
            self.shared = RedisCounters(storage_uri)
        self.storage_uri = storage_uri
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._backoff = 1.0

    @property
    def falling_back(self) -> bool:
        """Return whether counts go to memory because the shared storage is down."""
        return self._down_since is not None

    def apply(self, ops: Sequence[Op], mark: Mark | None = None) -> list[int]:
        """Perform ``ops`` in one round: in the shared storage, or in memory.

        With ``mark``, the same round also sets the mark's counter when no op is
        over its limit and the op at ``mark.exempt`` was 0; the last value returned
        is then 1 if it did, else 0.
        """
        if not ops:
            return []
        shared = self.shared
        if shared is None:
            return self.memory.apply(ops, mark)
        now = time.monotonic()
        if self._down_since is not None and now < self._retry_at:
            return self.memory.apply(ops, mark)
        try:
            counts = shared.apply(ops, mark)
        except Exception as exc:  # noqa: BLE001 - any storage failure fails open
            self._storage_failed(now, exc)
            return self.memory.apply(ops, mark)
        if self._down_since is not None:
            log.warning(
                "rate-limit storage is back after %.0f s; counting there again",
                now - self._down_since,
            )
            self._down_since = None
            self._backoff = 1.0
            FALLBACK.set(0)
        return counts

    def _storage_failed(self, now: float, exc: Exception) -> None:
        STORAGE_ERRORS.inc()
        if self._down_since is None:
            self._down_since = now
            FALLBACK.set(1)
            log.warning(
                "rate-limit storage unreachable (%s); counting in this process's "
                "memory until it answers",
                type(exc).__name__,
            )
        else:
            self._backoff = min(self._backoff * 2, 30.0)
        self._retry_at = now + self._backoff


__all__ = [
    "Limiter",
    "Mark",
    "MemoryCounters",
    "Op",
    "Rule",
    "Window",
    "over",
    "parse_rules",
    "window",
    "within",
]
