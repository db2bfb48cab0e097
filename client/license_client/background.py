"""Background re-validation: a daemon thread, off every visitor's request path.

The thread wakes every ``poll_interval`` seconds and calls
:meth:`~license_client.LicenseClient.revalidate_if_due`, which asks the server only
when the token nears expiry (at most once per ``refresh_interval``, backing off
after failures). Hosts that cannot run threads call ``revalidate_if_due()`` or
``revalidate_in_background()`` from an admin-page hook instead.
"""

from __future__ import annotations

import logging
import threading

from license_client.client import LicenseClient

__all__ = ["Revalidator"]

log = logging.getLogger(__name__)


class Revalidator:
    """Re-validate one client's license periodically in a daemon thread."""

    def __init__(self, client: LicenseClient, poll_interval: float = 600.0) -> None:
        self.client = client
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once); the first check runs at once."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="license-client-revalidator", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to stop and wait up to ``timeout`` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.client.revalidate_if_due()
            except Exception:  # keep the thread alive whatever happens
                log.exception("license re-validation failed")
            self._stop.wait(self.poll_interval)
