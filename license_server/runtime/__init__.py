"""The per-app runtime: everything one app keeps in its process, typed, in one place.

:func:`build` makes it in :func:`license_server.create_app`; the API layer reaches it
one way, :func:`of` (``app.extensions["license_server"]``), and hands its parts to the
services as arguments. No service reads it from Flask. It holds:

- ``keyring``: the master-derived keys (sealing, lookups);
- ``signer``: the vendors' private keys, opened once per process, with their JWT
  headers precomputed;
- ``caches``: product settings and signers, at most ``CACHE_TTL`` seconds stale,
  cleared at once by a commit on this app's engine;
- ``last_seen``, ``key_use``, ``site_versions`` and ``usage``: the write buffers of
  the hot path (activations' last-seen times, API keys' last use, the versions a
  site reports in its update checks, validation counts), written in batches on
  their own connections and once more at exit;
- ``limiter``: the rate-limit counters (Redis or memory);
- ``reader``: the hot path's reads (cached product and signer, prepared state);
- ``clock``: the time, aware UTC (tests move it);
- ``password_hasher``: argon2id at ``PASSWORD_HASH_COST``, for new staff passwords.

Nothing here is the truth: every buffer is advisory and bounded in time, every
cache bounded in staleness, and the limits' counters live in Redis when several
processes serve.
"""

from __future__ import annotations

import atexit
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, cast

from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy.engine import Engine

from license_server.config import password_hash_cost
from license_server.keyring import Keyring
from license_server.runtime.caches import Caches
from license_server.runtime.flusher import Flusher
from license_server.runtime.lastseen import API_KEY_LAST_USED, LastSeenBuffer
from license_server.runtime.limiter import Limiter, Rule
from license_server.runtime.siteversions import SiteVersionBuffer
from license_server.runtime.usage import UsageBuffer
from license_server.signing import SignerCache
from license_server.validation.reader import Reader

log = logging.getLogger(__name__)
EXTENSION = "license_server"


def utc_now() -> datetime:
    """Return the current time, aware UTC."""
    return datetime.now(UTC)


@dataclass(eq=False)
class Runtime:
    """One app's process-local state and its settings for the hot path."""

    keyring: Keyring
    signer: SignerCache
    caches: Caches
    last_seen: LastSeenBuffer
    key_use: LastSeenBuffer
    usage: UsageBuffer
    limiter: Limiter
    engine: Engine
    reader: Reader
    last_seen_interval: int = 3600
    clock: Callable[[], datetime] = utc_now
    password_hasher: PasswordHasher = field(default_factory=PasswordHasher)
    site_versions: SiteVersionBuffer = field(default_factory=SiteVersionBuffer)
    flusher: Flusher = field(init=False, repr=False)

    def now(self) -> datetime:
        """Return the runtime's current time."""
        return self.clock()

    def __post_init__(self) -> None:
        """Give the runtime its flusher thread (started when first needed)."""
        self.flusher = Flusher(self, _flush_due_buffers)

    def buffers(self) -> tuple[Buffer, ...]:
        """The write buffers of the hot path."""
        return (self.last_seen, self.key_use, self.site_versions, self.usage)

    def flush_due(self) -> None:
        """Have whichever buffer is due written (called after answers).

        The write happens on the flusher's thread (:mod:`.flusher`), so no answer
        waits for it; a buffer whose interval is 0 is written here, at once.
        """
        background = False
        for buffer in self.buffers():
            if buffer.due():
                if buffer.interval <= 0:
                    buffer.flush(self.engine)
                else:
                    background = True
        if background:
            self.flusher.wake()

    def flush_due_now(self) -> None:
        """Write whichever buffer is due, now (the flusher's work)."""
        for buffer in self.buffers():
            if buffer.due():
                buffer.flush(self.engine)

    def flush_all(self) -> None:
        """Write every buffer now (at exit, and in tests)."""
        for buffer in self.buffers():
            buffer.flush(self.engine)


class Buffer(Protocol):
    """What a write buffer of the hot path offers the runtime."""

    interval: float

    def due(self) -> bool: ...  # noqa: D102

    def flush(self, engine: Engine) -> int: ...  # noqa: D102


def _flush_due_buffers(runtime: object) -> None:
    cast(Runtime, runtime).flush_due_now()


def build(
    app: Flask,
    keyring: Keyring,
    engine: Engine,
    limits: dict[str, tuple[Rule, ...]],
) -> Runtime:
    """Build ``app``'s runtime from its settings and attach it; return it."""
    config = app.config
    flush = float(config["LAST_SEEN_FLUSH_INTERVAL"])
    caches = Caches(float(config["CACHE_TTL"]))
    runtime = Runtime(
        keyring=keyring,
        signer=SignerCache(keyring),
        caches=caches,
        last_seen=LastSeenBuffer(flush),
        key_use=LastSeenBuffer(flush, statement=API_KEY_LAST_USED),
        usage=UsageBuffer(float(config["USAGE_FLUSH_INTERVAL"])),
        limiter=Limiter(
            str(config["RATELIMIT_STORAGE_URI"] or "memory://"),
            str(config["RATELIMIT_KEY_PREFIX"] or "license-server"),
            enabled=bool(config["RATELIMIT_ENABLED"]),
            rules=limits,
        ),
        engine=engine,
        reader=Reader(engine, caches),
        last_seen_interval=int(config["LAST_SEEN_INTERVAL"]),
        password_hasher=_password_hasher(config.get("PASSWORD_HASH_COST")),
        site_versions=SiteVersionBuffer(
            flush, rewrite_after=float(config["LAST_SEEN_INTERVAL"])
        ),
    )
    runtime.caches.watch(engine)
    app.extensions[EXTENSION] = runtime
    _flush_at_exit(runtime)
    return runtime


def _password_hasher(cost: str | None) -> PasswordHasher:
    if cost is None:  # an app configured without load_config's defaults
        return PasswordHasher()
    passes, memory, lanes = password_hash_cost(cost)
    return PasswordHasher(time_cost=passes, memory_cost=memory, parallelism=lanes)


def of(app: Flask) -> Runtime:
    """Return ``app``'s runtime."""
    runtime: Runtime = app.extensions[EXTENSION]
    return runtime


# Runtimes whose buffers are written at process exit; weak, so a dropped app (as in
# the tests, which build many) is neither kept alive nor flushed into a dropped
# database.
_AT_EXIT: weakref.WeakSet[Runtime] = weakref.WeakSet()
_registered = False


def _flush_at_exit(runtime: Runtime) -> None:
    global _registered
    _AT_EXIT.add(runtime)
    if not _registered:
        atexit.register(flush_all_at_exit)
        _registered = True


def flush_all_at_exit() -> None:
    """Write every live runtime's buffers (registered once per process)."""
    for runtime in list(_AT_EXIT):
        try:
            runtime.flush_all()
        except Exception:  # noqa: BLE001 - exit must not fail on one database
            log.warning("buffers not written at exit", exc_info=True)


def forget_at_exit(runtime: Runtime) -> None:
    """Stop flushing ``runtime`` at exit (its database is about to be dropped)."""
    _AT_EXIT.discard(runtime)


__all__ = ["Runtime", "build", "flush_all_at_exit", "forget_at_exit", "of", "utc_now"]
