"""What the portal shows a customer: their licences, sites, key and download.

Every read is scoped to the vendor and the customer's e-mail: another customer's
licence answers 404, exactly as a missing one does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from license_server import errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import (
    Activation,
    ExpiryPolicy,
    License,
    LicenseStatus,
    ProductUpdateSettings,
)
from license_server.runtime import Runtime
from license_server.services import licenses
from license_server.services.portal import licences_of, normalise_email
from license_server.updates import UpdateRuntime, catalog, downloads, rules
from license_server.updates import settings as update_settings
from license_server.validation.results import DETAILS, ResultCode, decide


@dataclass(frozen=True)
class LicenceRow:
    """One licence as the portal lists it."""

    license: License
    status: str  # active, expired, suspended, revoked
    reason: str
    updates: str
    seats_used: int
    seat_limit: int
    renewal_url: str | None


def _status(license: License, now: datetime) -> tuple[str, str]:
    if license.status == LicenseStatus.REVOKED:
        return "revoked", "The seller revoked this licence; contact them."
    if license.status == LicenseStatus.SUSPENDED:
        return "suspended", "The seller suspended this licence; contact them."
    if license.expires_at is not None and license.expires_at <= now:
        day = license.expires_at.strftime("%d %b %Y")
        if license.product.expiry_policy == ExpiryPolicy.RESTRICT:
            return "expired", f"Expired on {day}: sites show the notice. Renew it."
        return "expired", f"Expired on {day}: the theme works, updates stopped."
    if license.expires_at is not None:
        return "active", f"Valid until {license.expires_at.strftime('%d %b %Y')}."
    return "active", "Valid, without an end date."


def _updates(license: License, now: datetime) -> str:
    until = license.updates_until
    if license.status != LicenseStatus.ACTIVE:
        return "No updates while the licence is not active."
    if license.expires_at is not None and license.expires_at <= now:
        return "No updates: the licence has expired."
    if until is None:
        return "Updates included."
    if until <= now:
        return f"Updates ended on {until.strftime('%d %b %Y')}."
    return f"Updates until {until.strftime('%d %b %Y')}."


def _seats(license_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not license_ids:
        return {}
    rows = db.session.execute(
        select(Activation.license_id, func.count())
        .where(
            Activation.license_id.in_(license_ids),
            Activation.deactivated_at.is_(None),
            Activation.development.is_(False),
        )
        .group_by(Activation.license_id)
    ).all()
    return {license_id: int(count) for license_id, count in rows}


def _renewals(product_ids: set[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    if not product_ids:
        return {}
    rows = db.session.execute(
        select(
            ProductUpdateSettings.product_id, ProductUpdateSettings.renewal_url
        ).where(ProductUpdateSettings.product_id.in_(product_ids))
    ).all()
    return {product_id: url for product_id, url in rows}


def rows(vendor_id: uuid.UUID, email: str, now: datetime) -> list[LicenceRow]:
    """Return the customer's licences with status, updates, seats and renewal."""
    found = licences_of(vendor_id, email)
    seats = _seats([license.id for license in found])
    renewals = _renewals({license.product_id for license in found})
    listed = []
    for license in found:
        status, reason = _status(license, now)
        listed.append(
            LicenceRow(
                license,
                status,
                reason,
                _updates(license, now),
                seats.get(license.id, 0),
                license.seat_limit,
                renewals.get(license.product_id),
            )
        )
    return listed


def row(
    vendor_id: uuid.UUID, email: str, license_id: uuid.UUID, now: datetime
) -> LicenceRow:
    """Return one of the customer's licences, or 404."""
    for found in rows(vendor_id, email, now):
        if found.license.id == license_id:
            return found
    raise errors.NotFound("No such licence.")


def sites(license_id: uuid.UUID) -> list[Activation]:
    """Return a licence's live activations, production first, then by domain."""
    return list(
        db.session.scalars(
            select(Activation)
            .where(
                Activation.license_id == license_id,
                Activation.deactivated_at.is_(None),
            )
            .order_by(Activation.development, Activation.domain)
        )
    )


def key_of(keyring: Keyring, license: License) -> str:
    """Return a licence's key in clear (for a freshly signed-in owner only)."""
    return licenses.reveal_key(keyring=keyring, license=license)


@dataclass(frozen=True)
class Download:
    """The newest release a licence may download on one of its sites, if any."""

    version: str | None
    url: str | None
    reason: str | None


def download(
    *,
    runtime: Runtime,
    updates: UpdateRuntime,
    license: License,
    activation: Activation,
    base_url: str,
    now: datetime,
) -> Download:
    """Decide the download exactly as an update check from that site would.

    The licence decision is validation's own (``decide`` on the same state read),
    the release is the update rules' choice for a site with nothing installed,
    and the URL is the signed, short-lived package URL of the update check. No
    last-seen or stats are recorded: the portal is not the site.
    """
    item = license.product
    product = runtime.reader.product(f"{item.vendor.slug}/{item.slug}")
    state = runtime.reader.state(license.key_hash, activation.domain)
    code = decide(state, product, now)
    found = catalog.load(updates.catalogs, product.id)
    max_version, channels = None, None
    if found.has_rules and code is ResultCode.VALID:
        max_version, channels = update_settings.rules_for(license.id)
    choice = rules.choose(
        found.releases,
        found.yanked,
        rules.Request(
            installed="0",
            channel="stable",
            licence_code=str(code),
            updates_until=state.updates_until if state is not None else None,
            max_version=max_version,
            channels=channels if channels is not None else found.settings.channels,
            wp_version=None,
            php_version=None,
            rollout_subject=license.id.bytes,
            default_rollout=found.settings.rollout_percent,
        ),
    )
    if choice.target is None:
        latest = choice.latest.version if choice.latest is not None else None
        if code is not ResultCode.VALID:
            return Download(latest, None, DETAILS[code])
        if latest is None:
            return Download(None, None, "No release has been published yet.")
        return Download(latest, None, "Your licence does not cover this version.")
    grant = downloads.Grant(
        license.id,
        choice.target.id,
        downloads.expiry(now, updates.download_ttl),
        activation.domain,
    )
    url = f"{base_url}v1/downloads/{downloads.make_token(runtime.keyring, grant)}"
    return Download(choice.target.version, url, None)


__all__ = ["LicenceRow", "download", "key_of", "normalise_email", "row", "rows"]
