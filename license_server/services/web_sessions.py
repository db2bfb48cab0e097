"""Browser sessions and sign-in throttles, shared by the dashboard and the portal.

A session is a random token in the browser's cookie and its keyed hash in
``web_sessions``. It ends at its absolute expiry, after ``idle`` seconds without a
request, at sign-out, or when its subject signs out everywhere. Throttles count
failures per key (a keyed hash of an e-mail or an address) in a fixed window.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models.users import WebSession, WebThrottle

SESSION_PURPOSE = "session"  # noqa: S105 - a label, not a secret
# last_seen_at is written at most this often, not on every page view
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live: since the last request, and at most."""

    idle: timedelta
    lifetime: timedelta


def start(
    *,
    keyring: Keyring,
    kind: str,
    vendor_id: uuid.UUID,
    subject_id: uuid.UUID,
    pending_second_factor: bool,
    policy: SessionPolicy,
    now: datetime,
) -> tuple[WebSession, str]:
    """Add a session to the caller's transaction; return it and its cookie token."""
    purge(now=now)
    token = secrets.token_urlsafe(32)
    session = WebSession(
        id=uuid.uuid4(),
        token_hash=keyring.web_token_lookup(SESSION_PURPOSE, token),
        kind=kind,
        vendor_id=vendor_id,
        subject_id=subject_id,
        pending_second_factor=pending_second_factor,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.lifetime,
    )
    db.session.add(session)
    return session, token


def purge(*, now: datetime) -> None:
    """Delete sessions past their lifetime and throttle windows a day old."""
    db.session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    stale = now - timedelta(days=1)
    db.session.execute(delete(WebThrottle).where(WebThrottle.window_start < stale))


def load(
    *,
    keyring: Keyring,
    kind: str,
    token: str,
    policy: SessionPolicy,
    now: datetime,
) -> WebSession | None:
    """Return the live session of ``token``, or None if unknown, idle or expired."""
    found = db.session.scalar(
        select(WebSession).where(
            WebSession.token_hash == keyring.web_token_lookup(SESSION_PURPOSE, token),
            WebSession.kind == kind,
        )
    )
    if found is None:
        return None
    if now >= found.expires_at or now - found.last_seen_at >= policy.idle:
        db.session.delete(found)
        db.session.commit()
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        found.last_seen_at = now
        db.session.commit()
    return found


def promote(session: WebSession) -> None:
    """Mark a session's second factor as passed (in the caller's transaction)."""
    session.pending_second_factor = False


def end(*, keyring: Keyring, token: str) -> None:
    """End one session (sign out this browser)."""
    digest = keyring.web_token_lookup(SESSION_PURPOSE, token)
    db.session.execute(delete(WebSession).where(WebSession.token_hash == digest))
    db.session.commit()


def end_all(*, kind: str, subject_id: uuid.UUID) -> int:
    """Delete every session of a subject, in the caller's transaction; count them."""
    result = db.session.execute(
        delete(WebSession).where(
            WebSession.kind == kind, WebSession.subject_id == subject_id
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class ThrottleRule:
    """At most ``limit`` failures per ``window`` for keys of one kind."""

    limit: int
    window: timedelta


def throttle_key(keyring: Keyring, kind: str, value: str) -> str:
    """Return the stored key for a throttled value (never the value itself)."""
    return f"{kind}:{keyring.web_token_lookup('throttle', value).hex()[:40]}"


def is_throttled(*, keys: dict[str, ThrottleRule], now: datetime) -> bool:
    """Return whether any key has used up its failures in its current window."""
    rows = db.session.scalars(select(WebThrottle).where(WebThrottle.key.in_(keys)))
    for row in rows:
        rule = keys[row.key]
        if now - row.window_start < rule.window and row.failures >= rule.limit:
            return True
    return False


def record_failure(*, keys: dict[str, ThrottleRule], now: datetime) -> None:
    """Count one failure for each key, in the caller's transaction (atomic add)."""
    for key, rule in keys.items():
        fresh = now - rule.window
        counted = db.session.execute(
            update(WebThrottle)
            .where(WebThrottle.key == key, WebThrottle.window_start > fresh)
            .values(failures=WebThrottle.failures + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(counted, "rowcount", 0):
            continue
        restarted = db.session.execute(
            update(WebThrottle)
            .where(WebThrottle.key == key, WebThrottle.window_start <= fresh)
            .values(failures=1, window_start=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(restarted, "rowcount", 0):
            continue
        try:
            with db.session.begin_nested():
                db.session.add(WebThrottle(key=key, window_start=now, failures=1))
        except IntegrityError:  # a concurrent first failure inserted it: count again
            db.session.execute(
                update(WebThrottle)
                .where(WebThrottle.key == key)
                .values(failures=WebThrottle.failures + 1)
                .execution_options(synchronize_session=False)
            )


def clear(*, key: str) -> None:
    """Forget a key's failures (after a good sign-in), in the caller's transaction."""
    db.session.execute(delete(WebThrottle).where(WebThrottle.key == key))
