"""A vendor's admin API keys and signing keys: create, list, revoke, rotate, retire."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from license_server import errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import ApiKey, SigningKey, SigningKeyStatus
from license_server.services import common
from license_server.services.unit import transactional
from license_server.services.vendors import add_api_key, add_signing_key


class SigningKeyRetired(errors.APIError):
    status_code, code, message = (
        409,
        "SIGNING_KEY_RETIRED",
        "A retired signing key cannot sign again; prepare a new one.",
    )


class SigningKeyInUse(errors.APIError):
    status_code, code, message = (
        409,
        "SIGNING_KEY_ACTIVE",
        "The active signing key cannot be retired; rotate first.",
    )


@transactional
def create_api_key(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    name: str,
    scope: str,
    actor: str,
    now: datetime,
) -> tuple[ApiKey, str]:
    """Create an API key; return it and its text, shown this once."""
    key, token = add_api_key(
        keyring=keyring, vendor_id=vendor_id, name=name, scope=scope, now=now
    )
    db.session.flush()
    common.record_event(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="api_key.created",
        subject_type="api_key",
        subject_id=key.id,
        data={"name": name, "scope": scope, "prefix": key.prefix},
        now=now,
    )
    return key, token


def list_api_keys(*, vendor_id: uuid.UUID) -> list[ApiKey]:
    """List the vendor's API keys (never their secrets), newest first."""
    query = select(ApiKey).where(ApiKey.vendor_id == vendor_id)
    return list(db.session.scalars(query.order_by(ApiKey.created_at.desc())))


@transactional
def revoke_api_key(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    key_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> ApiKey:
    """Revoke an API key; it stops working at once."""
    key = db.session.scalar(
        select(ApiKey).where(ApiKey.vendor_id == vendor_id, ApiKey.id == key_id)
    )
    if key is None:
        raise errors.NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = now
        common.record_event(
            keyring=keyring,
            vendor_id=vendor_id,
            actor=actor,
            action="api_key.revoked",
            subject_type="api_key",
            subject_id=key.id,
            data={"prefix": key.prefix},
            now=now,
        )
    return key


def list_signing_keys(*, vendor_id: uuid.UUID) -> list[SigningKey]:
    """List the vendor's signing keys, newest first."""
    query = select(SigningKey).where(SigningKey.vendor_id == vendor_id)
    return list(db.session.scalars(query.order_by(SigningKey.created_at.desc())))


def _signing_key(vendor_id: uuid.UUID, key_id: uuid.UUID) -> SigningKey:
    key = db.session.scalar(
        select(SigningKey).where(
            SigningKey.vendor_id == vendor_id, SigningKey.id == key_id
        )
    )
    if key is None:
        raise errors.NotFound("No such signing key.")
    return key


def _record_key(
    keyring: Keyring, key: SigningKey, action: str, actor: str, now: datetime
) -> None:
    common.record_event(
        keyring=keyring,
        vendor_id=key.vendor_id,
        actor=actor,
        action=action,
        subject_type="signing_key",
        subject_id=key.id,
        data={"kid": key.kid, "status": key.status},
        now=now,
    )


@transactional
def prepare_signing_key(
    *, keyring: Keyring, vendor_id: uuid.UUID, actor: str, now: datetime
) -> SigningKey:
    """Create the next signing key: published in the JWKS, signing nothing yet."""
    key = add_signing_key(keyring=keyring, vendor_id=vendor_id, now=now)
    key.status = SigningKeyStatus.VERIFYING
    db.session.flush()
    _record_key(keyring, key, "signing_key.created", actor, now)
    return key


@transactional
def activate_signing_key(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    key_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> SigningKey:
    """Make a prepared key the signer; the previous signer keeps verifying."""
    key = _signing_key(vendor_id, key_id)
    if key.status == SigningKeyStatus.RETIRED:
        raise SigningKeyRetired()
    for other in list_signing_keys(vendor_id=vendor_id):
        if other.status == SigningKeyStatus.ACTIVE and other.id != key.id:
            other.status = SigningKeyStatus.VERIFYING
    key.status = SigningKeyStatus.ACTIVE
    _record_key(keyring, key, "signing_key.activated", actor, now)
    return key


@transactional
def rotate_signing_key(
    *, keyring: Keyring, vendor_id: uuid.UUID, actor: str, now: datetime
) -> SigningKey:
    """Create a new key and make it the signer at once."""
    key = prepare_signing_key(
        keyring=keyring, vendor_id=vendor_id, actor=actor, now=now
    )
    return activate_signing_key(
        keyring=keyring, vendor_id=vendor_id, key_id=key.id, actor=actor, now=now
    )


@transactional
def retire_signing_key(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    key_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> SigningKey:
    """Retire a verifying key: it leaves the JWKS and verifies nothing more."""
    key = _signing_key(vendor_id, key_id)
    if key.status == SigningKeyStatus.ACTIVE:
        raise SigningKeyInUse()
    if key.status != SigningKeyStatus.RETIRED:
        key.status = SigningKeyStatus.RETIRED
        key.retired_at = now
        _record_key(keyring, key, "signing_key.retired", actor, now)
    return key
