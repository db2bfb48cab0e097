"""Vendor staff accounts: create, list, roles, disable, sign out everywhere.

Passwords are hashed with argon2id, at the cost of the hasher the caller passes (the
runtime's, from ``PASSWORD_HASH_COST``; argon2-cffi's defaults when none is passed).
Verifying reads the cost from the stored hash. Signing in is
:mod:`license_server.services.staff_signin`; invitations and password resets are
:mod:`license_server.services.staff_links`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import func, select

from license_server import errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models.users import StaffRole, StaffUser
from license_server.services import common, web_sessions
from license_server.services.unit import transactional

KIND = "staff"
MIN_PASSWORD = 12
# argon2-cffi's defaults: 3 passes over 64 MiB in 4 lanes (RFC 9106's second choice)
hasher = PasswordHasher()


class StaffExists(errors.APIError):
    status_code, code, message = (
        409,
        "STAFF_EXISTS",
        "An account with this e-mail exists already.",
    )


class LastOwner(errors.APIError):
    status_code, code, message = (
        409,
        "LAST_OWNER",
        "A vendor keeps at least one owner: make someone else owner first.",
    )


def actor_of(user: StaffUser) -> str:
    """Return the event actor for a staff user."""
    return f"user:{user.id}"


def normalise_email(email: str) -> str:
    """Return the e-mail as stored: trimmed and lower-case."""
    return email.strip().lower()


def check_password(password: str) -> None:
    """Refuse a password too short to resist guessing."""
    if len(password) < MIN_PASSWORD:
        raise errors.ValidationFailed(
            f"Use a password of at least {MIN_PASSWORD} characters.",
            detail={"fields": {"password": [f"At least {MIN_PASSWORD} characters."]}},
        )


def hash_password(password: str, hasher: PasswordHasher = hasher) -> str:
    """Return the argon2id hash of a password."""
    check_password(password)
    return hasher.hash(password)


def _email_taken(email: str) -> bool:
    query = select(func.count()).select_from(StaffUser)
    return bool(db.session.scalar(query.where(StaffUser.email == email)))


def add_user(
    *,
    vendor_id: uuid.UUID,
    email: str,
    role: str,
    password: str,
    name: str,
    now: datetime,
    hasher: PasswordHasher = hasher,
) -> StaffUser:
    """Add a user to the caller's transaction (no event, no commit)."""
    email = normalise_email(email)
    if _email_taken(email):
        raise StaffExists()
    user = StaffUser(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        email=email,
        name=name,
        role=StaffRole(role),
        password_hash=hash_password(password, hasher),
        created_at=now,
    )
    db.session.add(user)
    db.session.flush()
    return user


@transactional
def create_user(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    email: str,
    role: str,
    password: str,
    name: str = "",
    actor: str,
    now: datetime,
    hasher: PasswordHasher = hasher,
) -> StaffUser:
    """Create a staff user with a password (the first owner, from the CLI)."""
    user = add_user(
        vendor_id=vendor_id,
        email=email,
        role=role,
        password=password,
        name=name,
        now=now,
        hasher=hasher,
    )
    record(
        keyring,
        user,
        "staff.created",
        actor,
        {"email": user.email, "role": user.role},
        now,
    )
    return user


def list_users(*, vendor_id: uuid.UUID) -> list[StaffUser]:
    """List the vendor's staff, by e-mail."""
    query = select(StaffUser).where(StaffUser.vendor_id == vendor_id)
    return list(db.session.scalars(query.order_by(StaffUser.email)))


def get_user(*, vendor_id: uuid.UUID, user_id: uuid.UUID) -> StaffUser:
    """Return one of the vendor's staff users, or 404."""
    user = db.session.scalar(
        select(StaffUser).where(
            StaffUser.vendor_id == vendor_id, StaffUser.id == user_id
        )
    )
    if user is None:
        raise errors.NotFound("No such user.")
    return user


def _owners_left(vendor_id: uuid.UUID, without: uuid.UUID) -> int:
    query = select(func.count()).select_from(StaffUser)
    return int(
        db.session.scalar(
            query.where(
                StaffUser.vendor_id == vendor_id,
                StaffUser.role == StaffRole.OWNER,
                StaffUser.disabled_at.is_(None),
                StaffUser.id != without,
            )
        )
        or 0
    )


@transactional
def change_role(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    actor: str,
    now: datetime,
) -> StaffUser:
    """Give a user another role; the last owner stays owner."""
    user = get_user(vendor_id=vendor_id, user_id=user_id)
    new = StaffRole(role)
    if user.role == StaffRole.OWNER and new != StaffRole.OWNER:
        if not _owners_left(vendor_id, user.id):
            raise LastOwner()
    before, user.role = user.role, new
    record(keyring, user, "staff.role_changed", actor, {"from": before, "to": new}, now)
    return user


@transactional
def set_disabled(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    user_id: uuid.UUID,
    disabled: bool,
    actor: str,
    now: datetime,
) -> StaffUser:
    """Disable a user (signed out at once) or enable them again."""
    user = get_user(vendor_id=vendor_id, user_id=user_id)
    if (
        disabled
        and user.role == StaffRole.OWNER
        and not _owners_left(vendor_id, user.id)
    ):
        raise LastOwner()
    user.disabled_at = now if disabled else None
    if disabled:
        web_sessions.end_all(kind=KIND, subject_id=user.id)
    action = "staff.disabled" if disabled else "staff.enabled"
    record(keyring, user, action, actor, {"email": user.email}, now)
    return user


@transactional
def sign_out_everywhere(*, keyring: Keyring, user: StaffUser, now: datetime) -> int:
    """End every session of a user; return how many ended."""
    ended = web_sessions.end_all(kind=KIND, subject_id=user.id)
    record(
        keyring,
        user,
        "staff.signed_out_everywhere",
        actor_of(user),
        {"sessions": ended},
        now,
    )
    return ended


def record(
    keyring: Keyring,
    user: StaffUser,
    action: str,
    actor: str,
    data: dict[str, object],
    now: datetime,
) -> None:
    """Append one event about ``user`` to the vendor's chain."""
    common.record_event(
        keyring=keyring,
        vendor_id=user.vendor_id,
        actor=actor,
        action=action,
        subject_type="staff_user",
        subject_id=user.id,
        data=dict(data),
        now=now,
    )
