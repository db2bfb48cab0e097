"""Idempotency keys for admin POSTs, with Stripe's semantics, kept 24 hours.

The first request with a key claims it (a row committed before the work starts);
its answer is stored when it ends. A retry with the same key and the same request
gets the stored answer; the same key with another request is refused (422); a retry
while the first is still running is refused (409). Answers of 5xx are not stored, so
those requests may be retried. A claim older than ``STALE_CLAIM`` with no answer is
taken over (its process died). The rows live in the database, shared by every
process.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from license_server import errors
from license_server.extensions import db
from license_server.models import IdempotencyKey

KEEP = timedelta(hours=24)
STALE_CLAIM = timedelta(minutes=2)
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(errors.APIError):
    status_code, code, message = (
        422,
        "IDEMPOTENCY_KEY_REUSED",
        "This Idempotency-Key was used with a different request.",
    )


class IdempotencyInFlight(errors.APIError):
    status_code, code, message = (
        409,
        "IDEMPOTENCY_IN_FLIGHT",
        "A request with this Idempotency-Key is still being processed.",
    )


class InvalidIdempotencyKey(errors.APIError):
    status_code, code, message = (
        400,
        "INVALID_IDEMPOTENCY_KEY",
        f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
    )


@dataclass(frozen=True)
class Stored:
    """A stored answer to replay."""

    status_code: int
    body: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Return the digest that identifies 'the same request'."""
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _check_key(key: str) -> None:
    if (
        not 1 <= len(key) <= MAX_KEY_LENGTH
        or not key.isprintable()
        or not key.isascii()
    ):
        raise InvalidIdempotencyKey()


def claim(
    *, vendor_id: uuid.UUID, key: str, print_: str, now: datetime
) -> uuid.UUID | Stored:
    """Claim ``key`` for this request, or return the stored answer to replay."""
    _check_key(key)
    db.session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.vendor_id == vendor_id,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at <= now,
        )
    )
    row = IdempotencyKey(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        key=key,
        fingerprint=print_,
        created_at=now,
        expires_at=now + KEEP,
    )
    db.session.add(row)
    try:
        db.session.commit()
        return row.id
    except IntegrityError:
        db.session.rollback()
    return _existing(vendor_id=vendor_id, key=key, print_=print_, now=now)


def _existing(
    *, vendor_id: uuid.UUID, key: str, print_: str, now: datetime
) -> uuid.UUID | Stored:
    row = db.session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.vendor_id == vendor_id, IdempotencyKey.key == key
        )
    )
    if row is None:  # expired and removed meanwhile: claim again
        return claim(vendor_id=vendor_id, key=key, print_=print_, now=now)
    if row.fingerprint != print_:
        raise IdempotencyKeyReused()
    if row.status_code is not None and row.body is not None:
        return Stored(row.status_code, row.body)
    taken = db.session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.id == row.id, IdempotencyKey.created_at < now - STALE_CLAIM
        )
        .values(created_at=now)
        .returning(IdempotencyKey.id)
    ).scalar()
    db.session.commit()
    if taken is None:
        raise IdempotencyInFlight()
    return row.id


def finish(*, claim_id: uuid.UUID, status_code: int, body: str) -> None:
    """Store the answer of a claimed request (or release the claim on a 5xx)."""
    db.session.rollback()
    if status_code >= 500:
        db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == claim_id))
    else:
        db.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == claim_id)
            .values(status_code=status_code, body=body)
        )
    db.session.commit()
