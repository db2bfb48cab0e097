"""Per-process caches for the validate hot path, each with a bounded staleness.

Only what every validation of a product shares is cached, never a license's state
(that is read fresh by one indexed query on every request, so a revocation, a
suspension or a new activation counts at once):

- a product's settings by slug (with its vendor's issuer), and
- which signing key signs for a vendor (its kid and sealed private key),

each for at most ``CACHE_TTL`` seconds (default 5). A change committed **in this
process** (through the ORM: a product edited, a signing key rotated, activated or
retired, a vendor's issuer changed) clears every cache of the process at commit, so
the process that made the change, and a single-process server, see it at once.
Other processes see it within ``CACHE_TTL`` seconds. Unknown slugs are not cached.

Caches are plain dicts guarded by the GIL (a lost race costs one more lookup, never
a wrong answer) and bounded in size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from license_server.models import Product, SigningKey, Vendor

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_STALE_FLAG = "license_server.cache.stale"
_generation = 0
_generation_lock = threading.Lock()
_installed = False


def generation() -> int:
    """Return the number of invalidations this process has seen."""
    return _generation


def invalidate() -> None:
    """Drop every cached entry of this process (they reload on next use)."""
    global _generation
    with _generation_lock:
        _generation += 1


class TTLCache(Generic[K, V]):
    """A small mapping whose entries live ``ttl`` seconds, until an invalidation."""

    def __init__(
        self,
        ttl: float,
        maxsize: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self.clock = clock
        self._entries: dict[K, tuple[float, int, V]] = {}

    def get(self, key: K) -> V | None:
        """Return the cached value, or None when absent, expired or invalidated."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, seen, value = entry
        if seen != _generation or self.clock() >= expires:
            self._entries.pop(key, None)
            return None
        return value

    def put(self, key: K, value: V) -> V:
        """Cache ``value`` for ``ttl`` seconds and return it."""
        if self.ttl <= 0:
            return value
        if len(self._entries) >= self.maxsize:
            self._entries.clear()  # rare: more products or vendors than slots
        self._entries[key] = (self.clock() + self.ttl, _generation, value)
        return value

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()


def _touches_cached(obj: Any) -> bool:
    if isinstance(obj, Product | SigningKey):
        return True
    if isinstance(obj, Vendor):
        return bool(inspect(obj).attrs.issuer.history.has_changes())
    return False


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(_touches_cached(obj) for obj in changed):
        session.info[_STALE_FLAG] = True


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in (Product, SigningKey):
        state.session.info[_STALE_FLAG] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_STALE_FLAG, False):
        invalidate()


def install() -> None:
    """Watch every ORM session of the process for commits that stale the caches."""
    global _installed
    with _generation_lock:
        if _installed:
            return
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "after_commit", _after_commit)
        _installed = True


__all__ = ["TTLCache", "generation", "install", "invalidate"]
