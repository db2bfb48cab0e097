"""Timed jobs the worker runs: expiry events (once each), their mails, and purges.

``license.expired`` is emitted once when a license's ``expires_at`` passes and
``license.expiring_soon`` once when it comes within the configured days; both are
events in the vendor's chain (so their webhooks go through the outbox like any
other) and a :class:`LicenseNotice` row per (license, kind, expiry date) makes them
once-only: a renewed license gets new notices for its new date. An ``expiring_soon``
also queues the ``license_expiring`` mail to the licence's customer, in the same
transaction. The purges delete expired idempotency rows, portal sign-in links past
their expiry, and sent or failed mails a month old. On PostgreSQL an advisory lock
lets one worker at a time run the jobs.

:func:`recheck_purchase_codes` re-asks Envato, at most daily per code, about the
purchase codes accepted as licences and revokes those of refunded sales
(:mod:`license_server.channels.envato`); it holds no transaction while it waits for
Envato, and a worker that Envato rate-limits waits as long as Envato asks.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, text

from license_server import mail
from license_server.channels import envato
from license_server.channels.envato import RecheckReport
from license_server.channels.envato_api import EnvatoApi
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import (
    ExpiryPolicy,
    IdempotencyKey,
    License,
    LicenseStatus,
    ProductUpdateSettings,
)
from license_server.models.portal import MailMessage, MailState, PortalLink
from license_server.models.webhooks import LicenseNotice
from license_server.services import events

JOBS_LOCK = 7_150_015  # an arbitrary, fixed advisory-lock id for the timed jobs
BATCH = 500
ACTOR = "system:worker"
MAIL_KEPT = timedelta(days=30)


@dataclass(frozen=True)
class JobReport:
    """What one run of the timed jobs did."""

    expired: int = 0
    expiring_soon: int = 0
    purged: int = 0


def _due(kind: str, now: datetime, horizon: datetime | None) -> list[License]:
    noticed = exists().where(
        LicenseNotice.license_id == License.id,
        LicenseNotice.kind == kind,
        LicenseNotice.expires_at == License.expires_at,
    )
    if horizon is None:
        window = and_(License.expires_at <= now)
    else:
        window = and_(License.expires_at > now, License.expires_at <= horizon)
    query = (
        select(License)
        .where(
            License.expires_at.is_not(None),
            window,
            License.status != LicenseStatus.REVOKED,
            ~noticed,
        )
        .order_by(License.expires_at)
        .limit(BATCH)
    )
    return list(db.session.scalars(query))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _emit(
    keyring: Keyring, kind: str, action: str, licenses: list[License], now: datetime
) -> int:
    by_vendor: dict[uuid.UUID, list[events.NewEvent]] = defaultdict(list)
    for license in licenses:
        expires_at = license.expires_at
        assert expires_at is not None  # noqa: S101 - selected on it
        db.session.add(
            LicenseNotice(
                vendor_id=license.vendor_id,
                license_id=license.id,
                kind=kind,
                expires_at=expires_at,
                created_at=now,
            )
        )
        data = {"expires_at": _iso(expires_at)}
        by_vendor[license.vendor_id].append(
            events.NewEvent(ACTOR, action, "license", str(license.id), data)
        )
    for vendor_id, found in by_vendor.items():
        events.append(keyring=keyring, vendor_id=vendor_id, events=found, now=now)
    if kind == "expiring_soon":
        for license in licenses:
            _expiring_mail(license)
    return len(licenses)


def _expiring_mail(license: License) -> None:
    """Queue the ``license_expiring`` mail to the licence's customer, if known."""
    if not license.customer_email or license.expires_at is None:
        return
    product = license.product
    renewal = db.session.scalar(
        select(ProductUpdateSettings.renewal_url).where(
            ProductUpdateSettings.product_id == product.id
        )
    )
    try:
        mail.enqueue(
            db.session,
            vendor_id=license.vendor_id,
            to=license.customer_email,
            template="license_expiring",
            context={
                "product_name": product.name,
                "key_hint": license.key_hint,
                "expires_at": license.expires_at.strftime("%d %b %Y"),
                "renewal_url": renewal,
                "restricts": product.expiry_policy == ExpiryPolicy.RESTRICT,
            },
        )
    except ValueError:  # an address the mail cannot go to: the event still stands
        return


def _locked() -> bool:
    if db.engine.dialect.name != "postgresql":
        return True  # SQLite: one worker
    taken = db.session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": JOBS_LOCK}
    )
    return bool(taken)


def run(*, keyring: Keyring, now: datetime, expiring_soon_days: int) -> JobReport:
    """Emit due expiry events and purge expired rows, in one transaction."""
    if not _locked():
        db.session.rollback()
        return JobReport()
    expired = _due("expired", now, None)
    soon: list[License] = []
    if expiring_soon_days > 0:
        horizon = now + timedelta(days=expiring_soon_days)
        soon = _due("expiring_soon", now, horizon)
    stale = _stale(now)
    if not (expired or soon or stale):
        # reads only: an idle worker never takes SQLite's one write lock
        db.session.rollback()
        return JobReport()
    report = JobReport(
        _emit(keyring, "expired", "license.expired", expired, now),
        _emit(keyring, "expiring_soon", "license.expiring_soon", soon, now),
        purge(now) if stale else 0,
    )
    db.session.commit()
    return report


def _finished_mail(now: datetime) -> Any:
    return and_(
        MailMessage.state != MailState.PENDING,
        MailMessage.finished_at < now - MAIL_KEPT,
    )


def _stale(now: datetime) -> bool:
    """Tell whether anything is due for purging (reads only)."""
    for query in (
        select(IdempotencyKey.id).where(IdempotencyKey.expires_at < now),
        select(PortalLink.id).where(PortalLink.expires_at < now),
        select(MailMessage.id).where(_finished_mail(now)),
    ):
        if db.session.scalar(query.limit(1)) is not None:
            return True
    return False


def purge(now: datetime) -> int:
    """Delete rows whose time is up: idempotent answers, sign-in links, old mail."""
    count = 0
    for statement in (
        delete(IdempotencyKey).where(IdempotencyKey.expires_at < now),
        delete(PortalLink).where(
            or_(PortalLink.expires_at < now, PortalLink.used_at < now - MAIL_KEPT)
        ),
        delete(MailMessage).where(_finished_mail(now)),
    ):
        result = db.session.execute(
            statement.execution_options(synchronize_session=False)
        )
        count += int(getattr(result, "rowcount", 0) or 0)
    return count


def recheck_purchase_codes(
    *, keyring: Keyring, config: Mapping[str, Any], now: datetime
) -> RecheckReport:
    """Re-check the purchase codes due (a day since their last check)."""
    return envato.recheck_due(
        keyring=keyring, api=EnvatoApi.from_config(config), now=now
    )


__all__ = ["JobReport", "purge", "recheck_purchase_codes", "run"]
