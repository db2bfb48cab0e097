"""Per-app caches for the validate hot path, each with a bounded staleness.

Only what every validation of a product shares is cached, never a license's state
(that is read fresh by one indexed query on every request, so a revocation, a
suspension or a new activation counts at once):

- a product's settings by slug (with its vendor's issuer), and
- which signing key signs for a vendor (its kid and sealed private key),

each for at most ``CACHE_TTL`` seconds (default 5). A change committed **in this
process, on this app's database** (through the ORM: a product edited, a signing key
rotated, activated or retired, a vendor's issuer changed) clears the app's caches at
commit, so the process that made the change, and a single-process server, see it at
once. Other processes see it within ``CACHE_TTL`` seconds. Unknown slugs are not
cached.

The commit watch is scoped to one app: :meth:`Caches.watch` ties the caches to the
app's engine, and a commit through a session bound to another engine (another app
in the same process, as in the tests) leaves them alone.

Caches are plain dicts guarded by the GIL (a lost race costs one more lookup, never
a wrong answer) and bounded in size.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from license_server.models import Product, SigningKey, Vendor

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_STALE_FLAG = "license_server.caches.stale"


class Generation:
    """A counter of invalidations: entries stored under an older one are stale."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        """Make every entry stored so far stale."""
        with self._lock:
            self.value += 1


class TTLCache(Generic[K, V]):
    """A small mapping whose entries live ``ttl`` seconds, until an invalidation."""

    def __init__(
        self,
        ttl: float,
        maxsize: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        generation: Generation | None = None,
    ) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self.clock = clock
        self.generation = generation or Generation()
        self._entries: dict[K, tuple[float, int, V]] = {}

    def get(self, key: K) -> V | None:
        """Return the cached value, or None when absent, expired or invalidated."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, seen, value = entry
        if seen != self.generation.value or self.clock() >= expires:
            self._entries.pop(key, None)
            return None
        return value

    def put(self, key: K, value: V) -> V:
        """Cache ``value`` for ``ttl`` seconds and return it."""
        if self.ttl <= 0:
            return value
        if len(self._entries) >= self.maxsize:
            self._entries.clear()  # rare: more products or vendors than slots
        self._entries[key] = (self.clock() + self.ttl, self.generation.value, value)
        return value

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()


class Caches:
    """One app's caches: product settings by slug, signers by vendor id."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic):
        self.generation = shared = Generation()
        self.products: TTLCache[str, Any] = TTLCache(
            ttl, clock=clock, generation=shared
        )
        self.signers: TTLCache[Any, Any] = TTLCache(ttl, clock=clock, generation=shared)

    def invalidate(self) -> None:
        """Drop every entry of these caches (they reload on next use)."""
        self.generation.bump()

    def watch(self, engine: Engine) -> None:
        """Invalidate at every ORM commit on ``engine`` that changes what is cached."""
        _install_listeners()
        _WATCHED[engine] = self


# engine -> the caches of the app that owns it; weak, so a dropped app leaves nothing
_WATCHED: weakref.WeakKeyDictionary[Engine, Caches] = weakref.WeakKeyDictionary()
_install_lock = threading.Lock()
_installed = False


def _touches_cached(obj: Any) -> bool:
    if isinstance(obj, Product | SigningKey):
        return True
    if isinstance(obj, Vendor):
        return bool(inspect(obj).attrs.issuer.history.has_changes())
    return False


def _caches_of(session: Session) -> Caches | None:
    try:
        bind = session.get_bind()
    except Exception:  # noqa: BLE001 - no app context or no bind: nothing watched
        return None
    engine = getattr(bind, "engine", bind)
    return _WATCHED.get(engine) if isinstance(engine, Engine) else None


def _mark_stale(session: Session) -> None:
    caches = _caches_of(session)
    if caches is not None:
        session.info[_STALE_FLAG] = caches


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(_touches_cached(obj) for obj in changed):
        _mark_stale(session)


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in (Product, SigningKey):
        _mark_stale(state.session)


def _after_commit(session: Session) -> None:
    caches: Caches | None = session.info.pop(_STALE_FLAG, None)
    if caches is not None:
        caches.invalidate()


def _after_rollback(session: Session) -> None:
    session.info.pop(_STALE_FLAG, None)


def _install_listeners() -> None:
    """Attach the commit watch to ORM sessions once; it routes by engine."""
    global _installed
    with _install_lock:
        if _installed:
            return
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda s, _t: _after_rollback(s))
        _installed = True


__all__ = ["Caches", "Generation", "TTLCache"]
