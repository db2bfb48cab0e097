"""One-time links for staff: invitations to join a vendor, password resets.

A link carries a random token; the database keeps its keyed hash, its purpose,
its expiry and whether it was used. Using a reset link ends every session of the
user, so a stolen session does not outlive a new password.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import select, update

from license_server import errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models.users import StaffRole, StaffToken, StaffUser
from license_server.services import web_sessions
from license_server.services.staff import (
    KIND,
    StaffExists,
    actor_of,
    add_user,
    get_user,
    hash_password,
    hasher,
    normalise_email,
    record,
)
from license_server.services.unit import transactional

INVITE, RESET = "invite", "reset"
LIFETIME = {INVITE: timedelta(days=7), RESET: timedelta(hours=2)}


class LinkInvalid(errors.APIError):
    status_code, code, message = (
        404,
        "LINK_INVALID",
        "This link is not valid: it was used, it expired, or it was mistyped. "
        "Ask an owner of your team for a new one.",
    )


def _issue(
    *,
    keyring: Keyring,
    purpose: str,
    vendor_id: uuid.UUID,
    email: str,
    role: str,
    user_id: uuid.UUID | None,
    actor: str,
    now: datetime,
) -> tuple[StaffToken, str]:
    token = secrets.token_urlsafe(32)
    link = StaffToken(
        id=uuid.uuid4(),
        token_hash=keyring.web_token_lookup(purpose, token),
        purpose=purpose,
        vendor_id=vendor_id,
        email=email,
        role=role,
        user_id=user_id,
        created_by=actor,
        created_at=now,
        expires_at=now + LIFETIME[purpose],
    )
    db.session.add(link)
    return link, token


@transactional
def invite(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    email: str,
    role: str,
    actor: str,
    now: datetime,
) -> tuple[StaffToken, str]:
    """Create an invitation link for a new staff member; return it and its token."""
    email = normalise_email(email)
    if db.session.scalar(select(StaffUser.id).where(StaffUser.email == email)):
        raise StaffExists()
    link, token = _issue(
        keyring=keyring,
        purpose=INVITE,
        vendor_id=vendor_id,
        email=email,
        role=StaffRole(role),
        user_id=None,
        actor=actor,
        now=now,
    )
    db.session.flush()
    _event(keyring, link, "staff.invited", actor, now)
    return link, token


@transactional
def reset_link(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> tuple[StaffToken, str]:
    """Create a password reset link for one of the vendor's users."""
    user = get_user(vendor_id=vendor_id, user_id=user_id)
    link, token = _issue(
        keyring=keyring,
        purpose=RESET,
        vendor_id=vendor_id,
        email=user.email,
        role=user.role,
        user_id=user.id,
        actor=actor,
        now=now,
    )
    db.session.flush()
    _event(keyring, link, "staff.reset_link_created", actor, now)
    return link, token


def find(*, keyring: Keyring, purpose: str, token: str, now: datetime) -> StaffToken:
    """Return the unused, unexpired link of ``token``, or raise :class:`LinkInvalid`."""
    link = db.session.scalar(
        select(StaffToken).where(
            StaffToken.token_hash == keyring.web_token_lookup(purpose, token),
            StaffToken.purpose == purpose,
        )
    )
    if link is None or link.used_at is not None or now >= link.expires_at:
        raise LinkInvalid()
    return link


def _use(link: StaffToken, now: datetime) -> None:
    """Mark the link used; a concurrent use of the same link loses."""
    used = db.session.execute(
        update(StaffToken)
        .where(StaffToken.id == link.id, StaffToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(used, "rowcount", 0):
        raise LinkInvalid()


@transactional
def accept_invitation(
    *,
    keyring: Keyring,
    token: str,
    name: str,
    password: str,
    now: datetime,
    hasher: PasswordHasher = hasher,
) -> StaffUser:
    """Create the invited user with their password; the link is used up."""
    link = find(keyring=keyring, purpose=INVITE, token=token, now=now)
    _use(link, now)
    user = add_user(
        vendor_id=link.vendor_id,
        email=link.email,
        role=link.role,
        password=password,
        name=name,
        now=now,
        hasher=hasher,
    )
    record(keyring, user, "staff.joined", actor_of(user), {"email": user.email}, now)
    return user


@transactional
def reset_password(
    *,
    keyring: Keyring,
    token: str,
    password: str,
    now: datetime,
    hasher: PasswordHasher = hasher,
) -> StaffUser:
    """Set a new password from a reset link and end every session of the user."""
    link = find(keyring=keyring, purpose=RESET, token=token, now=now)
    new_hash = hash_password(password, hasher)
    _use(link, now)
    assert link.user_id is not None  # noqa: S101 - reset links always name a user
    user = get_user(vendor_id=link.vendor_id, user_id=link.user_id)
    user.password_hash = new_hash
    ended = web_sessions.end_all(kind=KIND, subject_id=user.id)
    record(
        keyring,
        user,
        "staff.password_reset",
        actor_of(user),
        {"sessions_ended": ended},
        now,
    )
    return user


def _event(
    keyring: Keyring, link: StaffToken, action: str, actor: str, now: datetime
) -> None:
    from license_server.services import common

    common.record_event(
        keyring=keyring,
        vendor_id=link.vendor_id,
        actor=actor,
        action=action,
        subject_type="staff_link",
        subject_id=link.id,
        data={
            "email": link.email,
            "role": link.role,
            "expires_at": link.expires_at.isoformat(),
        },
        now=now,
    )
