"""Vendors' release keys: Ed25519 keys that sign packages, not tokens.

A package signature is WordPress core's format (``verify_file_signature()``): the
Ed25519 detached signature of the file's **raw SHA-384 digest**, base64 encoded.
Release keys are sealed at rest with their own purpose key (see
:mod:`license_server.keyring`), rotate like token keys (the new key signs, the old
keeps verifying until retired) and are published in the vendor's JWKS with
``use: "release"``.
"""

from __future__ import annotations

import base64
import threading
import uuid
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy import select

from license_server import errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import ReleaseKey, ReleaseKeyStatus
from license_server.services import common
from license_server.signing import jwk_thumbprint, public_jwk

_opened: dict[str, Ed25519PrivateKey] = {}
_lock = threading.Lock()


class ReleaseKeyInUse(errors.APIError):
    status_code, code, message = (
        409,
        "RELEASE_KEY_ACTIVE",
        "The active release key cannot be retired; rotate first.",
    )


def _new_key(keyring: Keyring, vendor_id: uuid.UUID, now: datetime) -> ReleaseKey:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = "rel-" + jwk_thumbprint(public)[:40]
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    key = ReleaseKey(
        vendor_id=vendor_id,
        kid=kid,
        public_key=public,
        private_key_sealed=keyring.seal_release_key(raw, kid),
        status=ReleaseKeyStatus.ACTIVE,
        created_at=now,
    )
    db.session.add(key)
    return key


def _record(
    keyring: Keyring, key: ReleaseKey, action: str, actor: str, now: datetime
) -> None:
    common.record_event(
        keyring=keyring,
        vendor_id=key.vendor_id,
        actor=actor,
        action=action,
        subject_type="release_key",
        subject_id=key.id,
        data={"kid": key.kid, "status": key.status},
        now=now,
    )


def list_keys(*, vendor_id: uuid.UUID) -> list[ReleaseKey]:
    """Return the vendor's release keys, newest first."""
    return list(
        db.session.scalars(
            select(ReleaseKey)
            .where(ReleaseKey.vendor_id == vendor_id)
            .order_by(ReleaseKey.created_at.desc(), ReleaseKey.kid)
        )
    )


def active_key(
    *, keyring: Keyring, vendor_id: uuid.UUID, actor: str, now: datetime
) -> ReleaseKey:
    """Return the vendor's signing release key, creating the first one if needed."""
    for key in list_keys(vendor_id=vendor_id):
        if key.status == ReleaseKeyStatus.ACTIVE:
            return key
    key = _new_key(keyring, vendor_id, now)
    db.session.flush()
    _record(keyring, key, "release_key.created", actor, now)
    return key


def rotate(
    *, keyring: Keyring, vendor_id: uuid.UUID, actor: str, now: datetime
) -> ReleaseKey:
    """Make a new key the signer; the previous one keeps verifying (published)."""
    for other in list_keys(vendor_id=vendor_id):
        if other.status == ReleaseKeyStatus.ACTIVE:
            other.status = ReleaseKeyStatus.VERIFYING
            _record(keyring, other, "release_key.verifying", actor, now)
    key = _new_key(keyring, vendor_id, now)
    db.session.flush()
    _record(keyring, key, "release_key.created", actor, now)
    db.session.commit()
    return key


def retire(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    key_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> ReleaseKey:
    """Retire a verifying key: it leaves the JWKS."""
    key = db.session.scalar(
        select(ReleaseKey).where(
            ReleaseKey.id == key_id, ReleaseKey.vendor_id == vendor_id
        )
    )
    if key is None:
        raise errors.NotFound("No such release key.")
    if key.status == ReleaseKeyStatus.ACTIVE:
        raise ReleaseKeyInUse()
    if key.status != ReleaseKeyStatus.RETIRED:
        key.status = ReleaseKeyStatus.RETIRED
        key.retired_at = now
        _record(keyring, key, "release_key.retired", actor, now)
    db.session.commit()
    return key


def sign_digest(keyring: Keyring, key: ReleaseKey, sha384_digest: bytes) -> str:
    """Sign a raw SHA-384 digest; return the base64 signature WordPress reads."""
    private = _opened.get(key.kid)
    if private is None:
        raw = keyring.open_release_key(key.private_key_sealed, key.kid)
        private = Ed25519PrivateKey.from_private_bytes(raw)
        with _lock:
            _opened[key.kid] = private
    return base64.b64encode(private.sign(sha384_digest)).decode("ascii")


def key_json(key: ReleaseKey) -> dict[str, Any]:
    """Return a release key's public description (JWK plus WordPress's base64)."""
    jwk: dict[str, Any] = public_jwk(key.kid, key.public_key)
    jwk["use"] = "release"
    jwk["public_key_b64"] = base64.b64encode(key.public_key).decode("ascii")
    return jwk


def public_jwks(vendor_id: uuid.UUID) -> list[dict[str, Any]]:
    """Return the vendor's published (active and verifying) release keys as JWKs."""
    return [
        key_json(key)
        for key in list_keys(vendor_id=vendor_id)
        if key.status != ReleaseKeyStatus.RETIRED
    ]
