"""Idempotency keys for admin POSTs, with Stripe's semantics, kept 24 hours.

The first request with a key claims it (a row committed before the work starts);
its answer is stored when it ends. A retry with the same key and the same request
gets the stored answer; the same key with another request is refused (422); a retry
while the first is still running is refused (409). Answers of 5xx are not stored, so
those requests may be retried. A claim older than ``STALE_CLAIM`` with no answer is
taken over (its process died). The rows live in the database, shared by every
process.

A stored answer may hold a secret shown once (a new license key, an API key), so it
is compressed and sealed with AES-GCM under a master-derived key, bound to its row
(:meth:`Keyring.seal_replay`); an answer over :data:`MAX_STORED_BYTES` compressed is
not kept (its replay says so, 409). Expired rows are purged on every claim and by
``license-server idempotency purge`` (for a timer).
"""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from license_server import errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import IdempotencyKey

KEEP = timedelta(hours=24)
STALE_CLAIM = timedelta(minutes=2)
MAX_KEY_LENGTH = 255
MAX_STORED_BYTES = 256 * 1024
TOO_LARGE_STATUS = 409


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


def purge_expired(*, now: datetime) -> int:
    """Delete every expired row (all vendors); return how many went. Commits."""
    gone = db.session.scalars(
        delete(IdempotencyKey)
        .where(IdempotencyKey.expires_at <= now)
        .returning(IdempotencyKey.id)
    ).all()
    db.session.commit()
    return len(gone)


def claim(
    *, keyring: Keyring, vendor_id: uuid.UUID, key: str, print_: str, now: datetime
) -> uuid.UUID | Stored:
    """Claim ``key`` for this request, or return the stored answer to replay."""
    _check_key(key)
    # every claim sweeps the expired rows (an indexed range): none outlives a day
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
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
    return _existing(
        keyring=keyring, vendor_id=vendor_id, key=key, print_=print_, now=now
    )


def _existing(
    *, keyring: Keyring, vendor_id: uuid.UUID, key: str, print_: str, now: datetime
) -> uuid.UUID | Stored:
    row = db.session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.vendor_id == vendor_id, IdempotencyKey.key == key
        )
    )
    if row is None:  # expired and removed meanwhile: claim again
        return claim(
            keyring=keyring, vendor_id=vendor_id, key=key, print_=print_, now=now
        )
    if row.fingerprint != print_:
        raise IdempotencyKeyReused()
    if row.status_code is not None and row.body_sealed is not None:
        opened = keyring.open_replay(
            row.body_sealed, vendor_id=vendor_id, row_id=row.id
        )
        return Stored(row.status_code, zlib.decompress(opened).decode())
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


def _too_large() -> bytes:
    return json.dumps(
        {
            "code": "IDEMPOTENT_ANSWER_NOT_KEPT",
            "message": "The first answer to this Idempotency-Key was too large to "
            "keep; list the objects it created instead of retrying.",
            "detail": {"limit_bytes": MAX_STORED_BYTES},
            "request_id": "",
        }
    ).encode()


def finish(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    claim_id: uuid.UUID,
    status_code: int,
    body: bytes,
) -> None:
    """Store the answer of a claimed request (or release the claim on a 5xx)."""
    db.session.rollback()
    if status_code >= 500:
        db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == claim_id))
        db.session.commit()
        return
    packed = zlib.compress(body, 6)
    if len(packed) > MAX_STORED_BYTES:
        status_code, packed = TOO_LARGE_STATUS, zlib.compress(_too_large())
    sealed = keyring.seal_replay(packed, vendor_id=vendor_id, row_id=claim_id)
    db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claim_id)
        .values(status_code=status_code, body_sealed=sealed)
    )
    db.session.commit()
