"""Per-product update settings and per-licence update rules (admin use cases)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import (
    Channel,
    License,
    LicenseUpdateRule,
    ProductType,
    ProductUpdateSettings,
)
from license_server.services import common
from license_server.services.licenses import get_license
from license_server.services.products import get_product

DEFAULT_CHANNELS = [Channel.STABLE.value, Channel.BETA.value]
SETTINGS_FIELDS = (
    "type",
    "renewal_url",
    "homepage",
    "channels",
    "rollout_percent",
    "description",
    "installation",
    "banners",
    "icons",
)


@dataclass(frozen=True)
class UpdateSettings:
    """A product's update settings with defaults filled in (a cached snapshot)."""

    type: str = ProductType.THEME
    renewal_url: str | None = None
    homepage: str | None = None
    channels: tuple[str, ...] = tuple(DEFAULT_CHANNELS)
    rollout_percent: int = 100
    description: str = ""
    installation: str = ""
    banners: tuple[tuple[str, str], ...] = ()
    icons: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as the admin API shows them."""
        return {
            "type": self.type,
            "renewal_url": self.renewal_url,
            "homepage": self.homepage,
            "channels": list(self.channels),
            "rollout_percent": self.rollout_percent,
            "description": self.description,
            "installation": self.installation,
            "banners": dict(self.banners),
            "icons": dict(self.icons),
        }


def snapshot(row: ProductUpdateSettings | None) -> UpdateSettings:
    """Return the settings a row holds (the defaults when there is none)."""
    if row is None:
        return UpdateSettings()
    return UpdateSettings(
        type=row.type,
        renewal_url=row.renewal_url,
        homepage=row.homepage,
        channels=tuple(row.channels or DEFAULT_CHANNELS),
        rollout_percent=row.rollout_percent,
        description=row.description or "",
        installation=row.installation or "",
        banners=tuple(sorted((row.banners or {}).items())),
        icons=tuple(sorted((row.icons or {}).items())),
    )


def get_settings(*, vendor_id: uuid.UUID, product_id: uuid.UUID) -> UpdateSettings:
    """Return a product's update settings."""
    product = get_product(vendor_id=vendor_id, product_id=product_id)
    return snapshot(db.session.get(ProductUpdateSettings, product.id))


def put_settings(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    product_id: uuid.UUID,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
) -> UpdateSettings:
    """Set some of a product's update settings (the others keep their values)."""
    product = get_product(vendor_id=vendor_id, product_id=product_id)
    row = db.session.get(ProductUpdateSettings, product.id)
    before = snapshot(row).as_dict()
    if row is None:
        row = ProductUpdateSettings(product_id=product.id, vendor_id=vendor_id)
        for name, value in before.items():
            setattr(row, name, value)
        db.session.add(row)
    for name in SETTINGS_FIELDS:
        if name in changes:
            setattr(row, name, changes[name])
    row.updated_at = now
    after = snapshot(row).as_dict()
    common.record_change(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="product.update_settings_changed",
        subject_type="product",
        subject_id=product.id,
        before=before,
        after=after,
        now=now,
    )
    db.session.commit()
    return snapshot(row)


def _rule_dict(rule: LicenseUpdateRule | None) -> dict[str, Any]:
    if rule is None:
        return {"max_version": None, "channels": None}
    return {"max_version": rule.max_version, "channels": rule.channels}


def get_rules(*, vendor_id: uuid.UUID, license_id: uuid.UUID) -> dict[str, Any]:
    """Return a licence's update rules."""
    license = get_license(vendor_id=vendor_id, license_id=license_id)
    return _rule_dict(db.session.get(LicenseUpdateRule, license.id))


def put_rules(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    license_id: uuid.UUID,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Set a licence's version cap and allowed channels (null: the product's)."""
    license: License = get_license(vendor_id=vendor_id, license_id=license_id)
    rule = db.session.get(LicenseUpdateRule, license.id)
    before = _rule_dict(rule)
    if rule is None:
        rule = LicenseUpdateRule(license_id=license.id, vendor_id=vendor_id)
        db.session.add(rule)
    for name in ("max_version", "channels"):
        if name in changes:
            setattr(rule, name, changes[name])
    rule.updated_at = now
    common.record_change(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="license.update_rules_changed",
        subject_type="license",
        subject_id=license.id,
        before=before,
        after=_rule_dict(rule),
        now=now,
    )
    db.session.commit()
    return _rule_dict(rule)


def rules_for(license_id: uuid.UUID) -> tuple[str | None, tuple[str, ...] | None]:
    """Return a licence's (max_version, channels) for the update check: one PK read."""
    row = db.session.execute(
        select(LicenseUpdateRule.max_version, LicenseUpdateRule.channels).where(
            LicenseUpdateRule.license_id == license_id
        )
    ).first()
    if row is None:
        return None, None
    return row[0], (tuple(row[1]) if row[1] is not None else None)
