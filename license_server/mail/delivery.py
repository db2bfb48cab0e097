"""Send the mail outbox: claim one due mail, render it, send it, record the try.

Like the webhook worker: on PostgreSQL a mail is claimed ``FOR UPDATE SKIP LOCKED``
and the lock is held until its try is recorded, so several workers never send one
mail twice (a worker that dies mid-send loses its lock, and the mail goes again:
at least once). SQLite has one worker; its read ends before the SMTP talk.

A failed send is tried again after 10 s, 30 s, 2 min, 10 min, 30 min, then every
hour, until the mail server takes it: a mail is never dropped for an outage. Only
a permanent refusal of the recipient (a 5xx answer) ends it as ``failed``. Sent or
failed, its sealed secrets are deleted at once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from cryptography.exceptions import InvalidTag
from jinja2 import TemplateError
from prometheus_client import Counter
from sqlalchemy import select

from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.mail import templates
from license_server.mail.transport import MailNotSent, Sender, masked
from license_server.models import Vendor
from license_server.models.portal import MailMessage, MailState

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
BACKOFF = (10, 30, 120, 600, 1800)
CEILING = 3600

SENT = Counter("license_server_mail_sent_total", "Mails the mail server took.")
RETRIED = Counter(
    "license_server_mail_retried_total", "Mail sends that failed and wait to retry."
)
FAILED = Counter(
    "license_server_mail_failed_total", "Mails refused for good (5xx recipient)."
)


def next_wait(tries: int) -> timedelta:
    """Return the wait after the ``tries``-th failed send."""
    seconds = BACKOFF[tries - 1] if tries <= len(BACKOFF) else CEILING
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class _Job:
    mail_id: uuid.UUID
    template: str
    message: EmailMessage


def _claim(now: datetime) -> MailMessage | None:
    return db.session.scalar(
        select(MailMessage)
        .where(
            MailMessage.state == MailState.PENDING, MailMessage.next_attempt_at <= now
        )
        .order_by(MailMessage.next_attempt_at, MailMessage.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def _values(keyring: Keyring, mail: MailMessage, vendor: Vendor) -> dict[str, Any]:
    values: dict[str, Any] = dict(mail.context or {})
    if mail.secret_sealed is not None:
        opened = keyring.open_mail_secret(
            mail.secret_sealed, vendor_id=mail.vendor_id, mail_id=mail.id
        )
        values.update(json.loads(opened))
    values["vendor"] = {"name": vendor.name, "slug": vendor.slug}
    return values


def compose(
    keyring: Keyring, mail: MailMessage, from_addr: str, now: datetime
) -> EmailMessage:
    """Render a queued mail into a message (the vendor's template, else the default)."""
    vendor = db.session.get_one(Vendor, mail.vendor_id)
    values = _values(keyring, mail, vendor)
    template, own = templates.for_vendor(mail.vendor_id, mail.template)
    try:
        subject, body = templates.render(template, values)
    except TemplateError:
        if not own:
            raise
        log.warning(
            "mail %s: the vendor's %s template fails; default used",
            mail.id,
            mail.template,
        )
        subject, body = templates.render(templates.default(mail.template), values)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = Address(display_name=vendor.name, addr_spec=from_addr)
    message["To"] = mail.to_addr
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=from_addr.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Mail-Id"] = str(mail.id)
    message.set_content(body)
    return message


def _record(mail: MailMessage, error: MailNotSent | None, now: datetime) -> None:
    mail.tries += 1
    if error is None or error.permanent:
        mail.state = MailState.SENT if error is None else MailState.FAILED
        mail.finished_at, mail.secret_sealed = now, None
        mail.last_error = None if error is None else str(error)[:500]
        (SENT if error is None else FAILED).inc()
        return
    mail.last_error = str(error)[:500]
    mail.next_attempt_at = now + next_wait(mail.tries)
    RETRIED.inc()


def deliver_one(*, keyring: Keyring, sender: Sender, clock: Clock) -> bool:
    """Make one try of one due mail; return False when none is due."""
    started = clock()
    mail = _claim(started)
    if mail is None:
        db.session.rollback()
        return False
    try:
        message = compose(keyring, mail, sender.from_addr, started)
    except (InvalidTag, TemplateError, KeyError, ValueError) as exc:
        # unreadable (sealed under an older master key) or unrenderable: say so once
        log.error(
            "mail %s (%s) cannot be composed: %s",
            mail.id,
            mail.template,
            type(exc).__name__,
        )
        _record(
            mail,
            MailNotSent(f"cannot compose: {type(exc).__name__}", permanent=True),
            started,
        )
        db.session.commit()
        return True
    job = _Job(mail.id, mail.template, message)
    holds_lock = db.engine.dialect.name == "postgresql"
    if not holds_lock:
        db.session.rollback()  # SQLite: no write lock held while the server talks
    error: MailNotSent | None = None
    try:
        note = sender.send(job.message)
    except MailNotSent as exc:
        error, note = exc, f"not sent: {exc}"
    to = masked(str(job.message["To"]))
    log.info("mail %s (%s) to %s %s", job.mail_id, job.template, to, note)
    if not holds_lock:
        found = db.session.get(MailMessage, job.mail_id)
        if found is None or found.state != MailState.PENDING:
            db.session.rollback()
            return True
        mail = found
    _record(mail, error, clock())
    db.session.commit()
    return True


def deliver_due(
    *, keyring: Keyring, sender: Sender, clock: Clock, limit: int = 50
) -> int:
    """Send due mails (at most ``limit`` tries); return the tries made."""
    tries = 0
    while tries < limit and deliver_one(keyring=keyring, sender=sender, clock=clock):
        tries += 1
    return tries
