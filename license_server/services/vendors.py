"""Vendors, their admin API keys and their signing keys."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from license_server import bearer, errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import (
    ApiKey,
    ApiKeyScope,
    SigningKey,
    SigningKeyStatus,
    Vendor,
)
from license_server.runtime.lastseen import LastSeenBuffer
from license_server.services import common
from license_server.services.unit import transactional
from license_server.signing import generate_signing_key, public_jwk

API_KEY_PREFIX = bearer.API_KEY_PREFIX
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
LAST_USED_INTERVAL = timedelta(minutes=1)
# Latin letters that Unicode does not decompose into a base letter and an accent
_LATIN = str.maketrans({"æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d"})


class VendorExists(errors.APIError):
    status_code, code, message = 409, "VENDOR_EXISTS", "A vendor with this slug exists."


@dataclass(frozen=True)
class NewVendor:
    """A created vendor with its first API key (shown once) and its public keys."""

    vendor: Vendor
    api_key: str
    public_keys: list[dict[str, str]]


def slugify(name: str) -> str:
    """Turn a display name into a slug: lowercase letters, digits and dashes."""
    # "Ünïcode Thèmes" -> "unicode-themes": drop accents before dropping the rest
    folded = unicodedata.normalize("NFKD", name.casefold().translate(_LATIN))
    ascii_text = "".join(char for char in folded if not unicodedata.combining(char))
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:64].strip("-")
    if not _SLUG.match(slug):
        raise errors.ValidationFailed(
            "Cannot make a slug from this name; pass one explicitly.",
            detail={"fields": {"slug": ["Use a-z, 0-9 and dashes."]}},
        )
    return slug


@transactional
def create_vendor(
    *,
    keyring: Keyring,
    name: str,
    slug: str | None = None,
    issuer: str | None = None,
    now: datetime,
) -> NewVendor:
    """Create a vendor with a signing key and a first write-scoped API key."""
    vendor = Vendor(
        id=uuid.uuid4(),
        slug=slug or slugify(name),
        name=name,
        issuer=issuer or slug or slugify(name),
        created_at=now,
    )
    if not _SLUG.match(vendor.slug):
        raise errors.ValidationFailed(detail={"fields": {"slug": ["Invalid slug."]}})
    db.session.add(vendor)
    try:
        db.session.flush()  # the keys and the event refer to the vendor row
    except IntegrityError as exc:
        db.session.rollback()
        raise VendorExists() from exc
    signing = add_signing_key(keyring=keyring, vendor_id=vendor.id, now=now)
    _, token = add_api_key(
        keyring=keyring, vendor_id=vendor.id, name="initial", scope="write", now=now
    )
    common.record_event(
        keyring=keyring,
        vendor_id=vendor.id,
        actor="cli",
        action="vendor.created",
        subject_type="vendor",
        subject_id=vendor.id,
        data={"slug": vendor.slug, "kid": signing.kid},
        now=now,
    )
    return NewVendor(vendor, token, [public_jwk(signing.kid, signing.public_key)])


def add_signing_key(
    *, keyring: Keyring, vendor_id: uuid.UUID, now: datetime
) -> SigningKey:
    """Generate an Ed25519 signing key for a vendor (added to the session)."""
    new = generate_signing_key(keyring)
    key = SigningKey(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        kid=new.kid,
        public_key=new.public_bytes,
        private_key_sealed=new.private_sealed,
        status=SigningKeyStatus.ACTIVE,
        created_at=now,
    )
    db.session.add(key)
    return key


def add_api_key(
    *, keyring: Keyring, vendor_id: uuid.UUID, name: str, scope: str, now: datetime
) -> tuple[ApiKey, str]:
    """Create an API key (added to the session); return it and its text, shown once."""
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        name=name,
        prefix=token[:12],
        key_hash=keyring.api_key_lookup(token),
        scope=ApiKeyScope(scope),
        created_at=now,
    )
    db.session.add(key)
    return key, token


def authenticate(
    *,
    keyring: Keyring,
    key_use: LastSeenBuffer,
    authorization: str | None,
    now: datetime,
) -> ApiKey:
    """Return the live API key named by a ``Bearer`` header, or answer 401."""
    token = bearer.bearer_token(authorization)
    key = db.session.scalar(
        select(ApiKey).where(
            ApiKey.key_hash == keyring.api_key_lookup(token),
            ApiKey.revoked_at.is_(None),
        )
    )
    if key is None:
        raise bearer.invalid_key()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_INTERVAL:
        key_use.add(key.id, now)  # written in a batch, like last-seen times
    return key


def vendor_by_slug(slug: str) -> Vendor:
    """Return a vendor by slug, or 404."""
    vendor = db.session.scalar(select(Vendor).where(Vendor.slug == slug))
    if vendor is None:
        raise errors.NotFound("No such vendor.")
    return vendor


def list_vendors() -> list[Vendor]:
    """List every vendor on this server, oldest first (for the operator's CLI)."""
    return list(db.session.scalars(select(Vendor).order_by(Vendor.created_at)))


def public_keys(vendor_id: uuid.UUID) -> list[dict[str, str]]:
    """Return the JWKs of a vendor's signing keys that still verify."""
    keys = db.session.scalars(
        select(SigningKey)
        .where(
            SigningKey.vendor_id == vendor_id,
            SigningKey.status != SigningKeyStatus.RETIRED,
        )
        .order_by(SigningKey.created_at)
    )
    return [public_jwk(key.kid, key.public_key) for key in keys]
