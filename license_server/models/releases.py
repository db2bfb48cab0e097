"""Release models: releases, release keys, update settings and rules, counters."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from license_server.extensions import Base
from license_server.models.core import UTCDateTime


class Channel(enum.StrEnum):
    STABLE = "stable"
    BETA = "beta"


class ProductType(enum.StrEnum):
    THEME = "theme"
    PLUGIN = "plugin"


class ReleaseKeyStatus(enum.StrEnum):
    ACTIVE = "active"  # signs new packages
    VERIFYING = "verifying"  # published, signs nothing new
    RETIRED = "retired"


def _vendor_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"), index=True)


class Release(Base):
    """One version of a product: its package, notes and requirements."""

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("product_id", "version", name="uq_releases_product_version"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16), default=Channel.STABLE)
    changelog: Mapped[str] = mapped_column(Text, default="")
    requires: Mapped[str | None] = mapped_column(String(32))
    requires_php: Mapped[str | None] = mapped_column(String(32))
    tested: Mapped[str | None] = mapped_column(String(32))
    rollout_percent: Mapped[int | None] = mapped_column(Integer)
    # the package: content-addressed, signed at upload
    storage_key: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))
    sha384: Mapped[str | None] = mapped_column(String(96))
    size: Mapped[int | None] = mapped_column(BigInteger)
    signature: Mapped[str | None] = mapped_column(String(128))
    signature_kid: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # once published, a release can be unpublished but never deleted
    first_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    yanked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    yank_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReleaseKey(Base):
    """A vendor's Ed25519 package-signing key (separate from token keys)."""

    __tablename__ = "release_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary(128))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProductUpdateSettings(Base):
    """How a product's updates are offered (one row per product, optional)."""

    __tablename__ = "product_update_settings"

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    type: Mapped[str] = mapped_column(String(16), default=ProductType.THEME)
    renewal_url: Mapped[str | None] = mapped_column(String(500))
    homepage: Mapped[str | None] = mapped_column(String(500))
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    rollout_percent: Mapped[int] = mapped_column(Integer, default=100)
    description: Mapped[str] = mapped_column(Text, default="")
    installation: Mapped[str] = mapped_column(Text, default="")
    banners: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    icons: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LicenseUpdateRule(Base):
    """Per-licence limits on updates: a version cap, the channels allowed."""

    __tablename__ = "license_update_rules"

    license_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), primary_key=True
    )
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    max_version: Mapped[str | None] = mapped_column(String(64))
    channels: Mapped[list[str] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReleaseDownloadCounter(Base):
    """Downloads of a release per UTC day."""

    __tablename__ = "release_download_counters"

    release_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)


class UpdateCheckCounter(Base):
    """Update checks per product, day and reported value (version, WP, PHP)."""

    __tablename__ = "update_check_counters"

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    checks: Mapped[int] = mapped_column(BigInteger, default=0)


__all__ = [
    "Channel",
    "LicenseUpdateRule",
    "ProductType",
    "ProductUpdateSettings",
    "Release",
    "ReleaseDownloadCounter",
    "ReleaseKey",
    "ReleaseKeyStatus",
    "UpdateCheckCounter",
]
