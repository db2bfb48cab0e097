"""Staff sign-in: password, then TOTP when enrolled; TOTP enrolment.

Sign-in is throttled per e-mail (known or not) and per client address, and every
refusal reads the same, so the answers tell nothing about which accounts exist.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from license_server import errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models.users import StaffUser, WebSession
from license_server.services import web_sessions
from license_server.services.staff import (
    KIND,
    actor_of,
    hasher,
    normalise_email,
    record,
)
from license_server.services.unit import transactional
from license_server.services.web_sessions import SessionPolicy, ThrottleRule

PER_EMAIL = ThrottleRule(limit=5, window=timedelta(minutes=15))
PER_ADDRESS = ThrottleRule(limit=20, window=timedelta(minutes=15))


@functools.cache
def _dummy_hash(hasher: PasswordHasher = hasher) -> str:
    """A hash verified when the e-mail is unknown, so both cases cost the same."""
    return hasher.hash(secrets.token_urlsafe(16))


class SignInRefused(errors.APIError):
    status_code, code, message = (
        401,
        "SIGN_IN_REFUSED",
        "The e-mail, password or code is not right.",
    )


class SignInThrottled(errors.APIError):
    status_code, code, message = (
        429,
        "SIGN_IN_THROTTLED",
        "Too many failed sign-ins from here or for this e-mail. "
        "Wait 15 minutes, then try again.",
    )


def _throttle_keys(
    keyring: Keyring, email: str, address: str | None
) -> dict[str, ThrottleRule]:
    keys = {web_sessions.throttle_key(keyring, "staff-email", email): PER_EMAIL}
    if address:
        keys[web_sessions.throttle_key(keyring, "address", address)] = PER_ADDRESS
    return keys


def _refuse(keys: dict[str, ThrottleRule], now: datetime) -> SignInRefused:
    web_sessions.record_failure(keys=keys, now=now)
    db.session.commit()
    return SignInRefused()


def sign_in(
    *,
    keyring: Keyring,
    email: str,
    password: str,
    address: str | None,
    policy: SessionPolicy,
    now: datetime,
    hasher: PasswordHasher = hasher,
) -> tuple[WebSession, str]:
    """Check e-mail and password; start a session (owing TOTP when enrolled).

    ``hasher`` makes the hash an unknown e-mail is checked against (at its cost).
    """
    email = normalise_email(email)
    keys = _throttle_keys(keyring, email, address)
    if web_sessions.is_throttled(keys=keys, now=now):
        raise SignInThrottled()
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
    try:
        hasher.verify(user.password_hash if user else _dummy_hash(hasher), password)
        good = user is not None and user.disabled_at is None
    except (VerificationError, InvalidHashError):
        good = False
    if not good or user is None:
        raise _refuse(keys, now)
    web_sessions.clear(key=next(iter(keys)))
    pending = user.totp_sealed is not None
    session, token = web_sessions.start(
        keyring=keyring,
        kind=KIND,
        vendor_id=user.vendor_id,
        subject_id=user.id,
        pending_second_factor=pending,
        policy=policy,
        now=now,
    )
    if not pending:
        user.last_login_at = now
        record(
            keyring,
            user,
            "staff.signed_in",
            actor_of(user),
            {"second_factor": False},
            now,
        )
    db.session.commit()
    return session, token


def second_factor(
    *,
    keyring: Keyring,
    session: WebSession,
    user: StaffUser,
    code: str,
    address: str | None,
    now: datetime,
) -> None:
    """Finish a sign-in with a TOTP code, or count a failure and refuse."""
    keys = _throttle_keys(keyring, user.email, address)
    if web_sessions.is_throttled(keys=keys, now=now):
        raise SignInThrottled()
    if not code_matches(keyring=keyring, user=user, code=code, now=now):
        raise _refuse(keys, now)
    web_sessions.promote(session)
    user.last_login_at = now
    record(
        keyring, user, "staff.signed_in", actor_of(user), {"second_factor": True}, now
    )
    db.session.commit()


def code_matches(
    *, keyring: Keyring, user: StaffUser, code: str, now: datetime
) -> bool:
    """Check a TOTP code (one step of clock drift either way), never twice the same."""
    if user.totp_sealed is None:
        return False
    secret = keyring.open_web_secret(user.totp_sealed, str(user.id))
    return accept_code(user, pyotp.TOTP(secret), code.strip(), now)


def accept_code(user: StaffUser, totp: pyotp.TOTP, code: str, now: datetime) -> bool:
    """Accept ``code`` if it is the code of a step after the last one accepted."""
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        expected = totp.at(step * totp.interval)
        if hmac.compare_digest(expected, code) and step > (user.totp_last_step or -1):
            user.totp_last_step = step
            return True
    return False


def new_totp_secret() -> str:
    """Return a fresh base32 TOTP secret for enrolment."""
    return pyotp.random_base32()


def totp_uri(*, secret: str, user: StaffUser) -> str:
    """Return the otpauth:// URI an authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=f"License server ({user.vendor.slug})"
    )


@transactional
def enable_totp(
    *, keyring: Keyring, user: StaffUser, secret: str, code: str, now: datetime
) -> None:
    """Turn on TOTP once the user proves their app shows the right code."""
    if not accept_code(user, pyotp.TOTP(secret), code.strip(), now):
        raise errors.ValidationFailed(
            "That code does not match; check the app's clock and try again.",
            detail={"fields": {"code": ["Does not match."]}},
        )
    user.totp_sealed = keyring.seal_web_secret(secret, str(user.id))
    record(keyring, user, "staff.totp_enabled", actor_of(user), {}, now)


@transactional
def disable_totp(*, keyring: Keyring, user: StaffUser, now: datetime) -> None:
    """Turn off TOTP for a user."""
    user.totp_sealed = None
    user.totp_last_step = None
    record(keyring, user, "staff.totp_disabled", actor_of(user), {}, now)
