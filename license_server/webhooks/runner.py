"""The worker's loop: run the timed jobs, deliver webhooks and mail, sleep, repeat.

``license-server worker`` runs :meth:`Runner.run` until SIGTERM/SIGINT (or, as
``serve``'s child, until its parent is gone). Tests drive :meth:`Runner.tick` with
an injected clock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from license_server import runtime
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.mail import delivery as mail_delivery
from license_server.mail.transport import Sender, sender_from_config
from license_server.webhooks import jobs, metrics, ssrf
from license_server.webhooks.worker import Clock, Settings, deliver_one, outbox_age
from license_server.webhooks.worker import system_clock as system_clock

log = logging.getLogger(__name__)


def settings_from_config(config: Mapping[str, Any]) -> Settings:
    """Build the worker's delivery settings from the app's configuration."""
    policy = ssrf.Policy.from_config(
        str(config.get("WEBHOOK_ALLOWED_SCHEMES") or "https"),
        str(config.get("WEBHOOK_ALLOWED_NETWORKS") or ""),
    )
    return Settings(policy=policy, timeout=float(config.get("WEBHOOK_TIMEOUT", 15)))


class Runner:
    """One worker: a delivery loop and the timed jobs, in ``app``'s context."""

    def __init__(
        self,
        app: Flask,
        *,
        settings: Settings | None = None,
        clock: Clock = system_clock,
        parent_pid: int | None = None,
        mail_sender: Sender | None = None,
    ) -> None:
        self.app = app
        self.settings = settings or settings_from_config(app.config)
        self.clock = clock
        self.parent_pid = parent_pid
        self.keyring: Keyring = runtime.of(app).keyring
        self.poll = float(app.config.get("WEBHOOK_POLL_INTERVAL", 1))
        self.jobs_every = timedelta(
            seconds=float(app.config.get("WEBHOOK_JOBS_INTERVAL", 60))
        )
        self.soon_days = int(app.config.get("WEBHOOK_EXPIRING_SOON_DAYS", 7))
        self._jobs_at: datetime | None = None
        self._envato_at: datetime | None = None
        self.mail_sender = mail_sender or sender_from_config(app.config)

    def tick(self, stop: threading.Event | None = None) -> int:
        """Run due jobs, then deliver until nothing is due; return attempts made."""
        with self.app.app_context():
            now = self.clock()
            if self._jobs_at is None or now >= self._jobs_at:
                jobs.run(
                    keyring=self.keyring,
                    now=now,
                    expiring_soon_days=self.soon_days,
                )
                self._jobs_at = now + self.jobs_every
            if self._envato_at is None or now >= self._envato_at:
                report = jobs.recheck_purchase_codes(
                    keyring=self.keyring, config=self.app.config, now=now
                )
                wait = report.retry_after or self.jobs_every.total_seconds()
                self._envato_at = now + timedelta(seconds=wait)
            attempts = 0
            while not (stop and stop.is_set()) and deliver_one(
                keyring=self.keyring, settings=self.settings, clock=self.clock
            ):
                attempts += 1
            if not (stop and stop.is_set()):
                attempts += mail_delivery.deliver_due(
                    keyring=self.keyring, sender=self.mail_sender, clock=self.clock
                )
            metrics.OUTBOX_AGE.set(outbox_age(self.clock()))
            db.session.remove()
            return attempts

    def orphaned(self) -> bool:
        """Tell whether the process that started this worker is gone."""
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set or the parent is gone."""
        while not stop.is_set() and not self.orphaned():
            try:
                self.tick(stop)
            except SQLAlchemyError:
                # the database may be restarting: log, wait, try again
                log.exception("webhook worker: database error, retrying")
                with self.app.app_context():
                    db.session.remove()
            stop.wait(self.poll)
