"""One thread per process that writes a runtime's due buffers, off the request path.

A buffer is due every few seconds, or as soon as it holds ``max_entries`` rows; at a
thousand validations a second of many sites that is a batch of a thousand
``UPDATE``\\ s every second or so. Written by the request that found it due, each such
batch held that request (and, on a sync worker, every connection queued behind it)
for as long as the write took: the slowest requests of a run were exactly these.
The answer's step now only *wakes* this thread, which does the write while the
worker goes on answering.

The thread is started in the process that first needs it (after a pre-forking
server's fork, each worker has its own), holds its runtime weakly (an app that is
dropped, as tests drop many, is neither kept alive nor written to), and stops when
that runtime is collected. A buffer with an interval of 0 is written at once by the
request (tests, tools); exit still writes everything (:func:`flush_all_at_exit`).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)


class Flusher:
    """Wake a per-process thread that runs ``flush`` (the runtime's due buffers)."""

    def __init__(self, owner: object, flush: Callable[[object], None]) -> None:
        self._owner = weakref.ref(owner)
        self._flush = flush
        self._wake = threading.Event()
        self._stopped = False
        self._pid: int | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        weakref.finalize(owner, self.stop)

    @property
    def running(self) -> bool:
        """Whether this process's thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive() and self._pid == os.getpid()

    def wake(self) -> None:
        """Ask for a flush now; start this process's thread if it has none."""
        if not self.running:
            self._start()
        self._wake.set()

    def stop(self) -> None:
        """Let the thread end (its runtime is gone)."""
        self._stopped = True
        self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self.running or self._stopped:
                return
            self._wake = threading.Event()  # a forked copy's state is not ours
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name="license-server-flusher", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        wake = self._wake
        while True:
            wake.wait()
            wake.clear()
            owner = self._owner()
            if owner is None or self._stopped:
                return
            try:
                self._flush(owner)
            except Exception:  # noqa: BLE001 - the thread must outlive one failure
                log.warning("buffers not written; kept for the next", exc_info=True)
            del owner


__all__ = ["Flusher"]
