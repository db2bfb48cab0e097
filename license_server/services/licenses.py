"""Licenses: issue keys, look them up, change their status."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from license_server import errors, keys
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import License, LicenseStatus
from license_server.services import common
from license_server.services.products import product_for_vendor

# status change -> (states it may start from, resulting state)
TRANSITIONS = {
    "suspend": ({LicenseStatus.ACTIVE}, LicenseStatus.SUSPENDED),
    "reinstate": ({LicenseStatus.SUSPENDED}, LicenseStatus.ACTIVE),
    "revoke": ({LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED}, LicenseStatus.REVOKED),
}


class ProductArchived(errors.APIError):
    status_code, code, message = (
        409,
        "PRODUCT_ARCHIVED",
        "This product is archived and issues no new licenses.",
    )


class InvalidTransition(errors.APIError):
    status_code, code, message = (
        409,
        "INVALID_STATUS_TRANSITION",
        "The license cannot make this status change.",
    )


def create_license(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    actor: str,
    product: str,
    max_domains: int | None = None,
    expires_at: datetime | None = None,
    updates_until: datetime | None = None,
    customer_email: str | None = None,
    customer_name: str | None = None,
    now: datetime,
) -> tuple[License, str]:
    """Issue a license for one of the vendor's products; return it and its key."""
    item = product_for_vendor(vendor_id=vendor_id, slug=product)
    if item.archived_at is not None:
        raise ProductArchived()
    key = keys.generate_key(item.key_prefix)
    license = License(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        product_id=item.id,
        key_hash=keyring.license_lookup(key.body),
        key_sealed=keyring.seal_license_key(str(key)),
        key_hint=key.body[-4:],
        status=LicenseStatus.ACTIVE,
        max_domains=max_domains,
        expires_at=expires_at,
        updates_until=updates_until,
        customer_email=customer_email,
        customer_name=customer_name,
        created_at=now,
        updated_at=now,
    )
    license.product = item
    db.session.add(license)
    common.record_event(
        vendor_id=vendor_id,
        actor=actor,
        action="license.created",
        subject_type="license",
        subject_id=license.id,
        data={"product": item.slug, "key_hint": license.key_hint},
        now=now,
    )
    db.session.commit()
    return license, str(key)


def list_licenses(
    *, vendor_id: uuid.UUID, product: str | None = None, limit: int = 100
) -> list[License]:
    """List a vendor's licenses, newest first."""
    query = select(License).where(License.vendor_id == vendor_id)
    if product is not None:
        item = product_for_vendor(vendor_id=vendor_id, slug=product)
        query = query.where(License.product_id == item.id)
    query = query.order_by(License.created_at.desc(), License.id).limit(limit)
    return list(db.session.scalars(query))


def get_license(*, vendor_id: uuid.UUID, license_id: uuid.UUID) -> License:
    """Return one of the vendor's licenses, or 404."""
    license = db.session.scalar(
        select(License).where(License.vendor_id == vendor_id, License.id == license_id)
    )
    if license is None:
        raise errors.NotFound("No such license.")
    return license


def reveal_key(*, keyring: Keyring, license: License) -> str:
    """Decrypt a license's key for its vendor."""
    return keyring.open_license_key(license.key_sealed)


def change_status(
    *,
    vendor_id: uuid.UUID,
    license_id: uuid.UUID,
    change: str,
    actor: str,
    now: datetime,
) -> License:
    """Suspend, reinstate or revoke a license."""
    license = get_license(vendor_id=vendor_id, license_id=license_id)
    allowed_from, target = TRANSITIONS[change]
    if license.status not in allowed_from:
        raise InvalidTransition(
            f"A {license.status} license cannot be {target}.",
            detail={"status": license.status, "change": change},
        )
    before = license.status
    license.status = target
    license.updated_at = now
    common.record_event(
        vendor_id=vendor_id,
        actor=actor,
        action=f"license.{change}",
        subject_type="license",
        subject_id=license.id,
        data={"before": {"status": before}, "after": {"status": target}},
        now=now,
    )
    db.session.commit()
    return license


class RevealedLicense:
    """A license together with its clear key, for the answer to its vendor."""

    def __init__(self, license: License, key: str) -> None:
        self.license = license
        self.key = key

    def __getattr__(self, name: str) -> object:
        return getattr(self.license, name)
