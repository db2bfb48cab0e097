"""Timed jobs the worker runs: expiry events (once each) and purges.

``license.expired`` is emitted once when a license's ``expires_at`` passes and
``license.expiring_soon`` once when it comes within the configured days; both are
events in the vendor's chain (so their webhooks go through the outbox like any
other) and a :class:`LicenseNotice` row per (license, kind, expiry date) makes them
once-only: a renewed license gets new notices for its new date. On PostgreSQL an
advisory lock lets one worker at a time run the jobs.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, exists, select, text

from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import IdempotencyKey, License, LicenseStatus
from license_server.models.webhooks import LicenseNotice
from license_server.services import events

JOBS_LOCK = 7_150_015  # an arbitrary, fixed advisory-lock id for the timed jobs
BATCH = 500
ACTOR = "system:worker"


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
    return len(licenses)


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
    stale = db.session.scalar(
        select(IdempotencyKey.id).where(IdempotencyKey.expires_at < now).limit(1)
    )
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


def purge(now: datetime) -> int:
    """Delete rows whose time is up: stored idempotent answers past expiry."""
    result = db.session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.expires_at < now)
        .execution_options(synchronize_session=False)
    )
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count


__all__ = ["JobReport", "purge", "run"]
