"""Where the client keeps its state: the license key, the last trusted token, times.

A store is anything with ``load``, ``save`` and ``stamp`` (see :class:`Store`).
:class:`JsonFileStore` writes one JSON file atomically (a temporary file in the
same directory, fsync, ``os.replace``) with mode 0600, and treats a missing,
unreadable or corrupt file as "no state": the site shows the notice, never a
crash. :class:`MemoryStore` keeps the state in the process (tests, or hosts that
persist it themselves). ``stamp`` is a cheap change marker the client compares
on every :meth:`~license_client.LicenseClient.status` call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Hashable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from license_client.exceptions import StoreFailed

__all__ = ["JsonFileStore", "MemoryStore", "Store", "StoredState"]

log = logging.getLogger(__name__)

_MAX_FILE = 1024 * 1024
_TYPES: dict[str, tuple[type, ...]] = {
    "license_key": (str, type(None)),
    "token": (str, type(None)),
    "server_time": (int,),
    "checked_at": (int, float, type(None)),
    "failures": (int,),
    "last_error": (str, type(None)),
}


@dataclass(frozen=True)
class StoredState:
    """What the client remembers between requests and restarts."""

    license_key: str | None = None
    token: str | None = None  # the last trusted token, positive or negative
    server_time: int = 0  # the highest server time (iat) seen; for rollback checks
    checked_at: float | None = None  # local time of the last online attempt
    failures: int = 0  # online attempts failed since the last trusted answer
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the state as a JSON-ready dict."""
        return {"version": 1, **asdict(self)}

    @classmethod
    def from_json(cls, data: Any) -> StoredState | None:
        """Return the state from parsed JSON, or None if it is not one."""
        if not isinstance(data, dict) or data.get("version") != 1:
            return None
        values = {f.name: data.get(f.name, f.default) for f in fields(cls)}
        for name, value in values.items():
            if not isinstance(value, _TYPES[name]) or isinstance(value, bool):
                return None
        return cls(**values)


class Store(Protocol):
    """Persist the client's state."""

    def load(self) -> StoredState | None:
        """Return the stored state, or None when there is none or it is unreadable."""
        ...

    def save(self, state: StoredState) -> None:
        """Replace the stored state; raise StoreFailed."""
        ...

    def stamp(self) -> Hashable:
        """Return a cheap value that changes whenever the stored state may have."""
        ...


class MemoryStore:
    """Keep the state in this process only."""

    def __init__(self, state: StoredState | None = None) -> None:
        self._state = state
        self._writes = 0

    def load(self) -> StoredState | None:
        """Return the state held in memory."""
        return self._state

    def save(self, state: StoredState) -> None:
        """Replace the state held in memory."""
        self._state = state
        self._writes += 1

    def stamp(self) -> Hashable:
        """Return the number of writes so far."""
        return self._writes


class JsonFileStore:
    """One JSON file, written atomically with mode 0600.

    Writes through this object are seen at once; writes by other processes (other
    workers of the same site) are noticed within ``recheck_interval`` seconds, so
    that a warm ``status()`` costs no system call.
    """

    def __init__(self, path: str | os.PathLike[str], recheck_interval: float = 1.0):
        self.path = Path(path)
        self.recheck_interval = recheck_interval
        self._writes = 0
        self._next_stat = 0.0
        self._stamp: Hashable = (0, None)

    def stamp(self) -> Hashable:
        """Return the file's identity and the local write count, re-read at times."""
        now = time.monotonic()
        if now >= self._next_stat:
            self._next_stat = now + self.recheck_interval
            try:
                info = os.stat(self.path)
                found: Hashable = (info.st_mtime_ns, info.st_size, info.st_ino)
            except OSError:
                found = None
            self._stamp = (self._writes, found)
        return self._stamp

    def load(self) -> StoredState | None:
        """Read the file; None when missing, unreadable or corrupt (logged)."""
        try:
            with self.path.open("rb") as handle:
                raw = handle.read(_MAX_FILE + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("license state %s is unreadable: %s", self.path, exc)
            return None
        try:
            state = (
                StoredState.from_json(json.loads(raw))
                if len(raw) <= _MAX_FILE
                else None
            )
        except ValueError:
            state = None
        if state is None:
            log.warning("license state %s is corrupt; treating as empty", self.path)
        return state

    def save(self, state: StoredState) -> None:
        """Write the state to a temporary file and rename it over the old one."""
        data = json.dumps(state.to_json(), indent=2).encode("utf-8")
        temp = None
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
            temp = None
        except OSError as exc:
            raise StoreFailed(f"cannot write license state {self.path}: {exc}") from exc
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            self._writes += 1
            self._next_stat = 0.0
