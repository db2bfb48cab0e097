"""EDD Software Licensing compatibility: item mapping, imported licence facts, stores.

- :class:`EddItem`: one EDD ``item_id`` or ``item_name`` a product answers for (a
  renamed product keeps its old names); scoped to the vendor, because EDD item ids
  are post ids of one store and two stores' ids collide.
- :class:`EddLicense`: what EDD knew of an imported licence that our licence has no
  field for (its EDD id, download, price and payment ids, "unlimited"); also the
  link that makes a second import change nothing.
- :class:`EddStore`: the vendor's EDD store settings (its time zone, for EDD's
  local-time ``expires``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from license_server.extensions import Base
from license_server.models.core import UTCDateTime


class EddItem(Base):
    """An EDD item id or item name that a product answers for."""

    __tablename__ = "edd_items"
    __table_args__ = (
        UniqueConstraint("vendor_id", "item_id", name="uq_edd_items_vendor_item_id"),
        UniqueConstraint("vendor_id", "name_key", name="uq_edd_items_vendor_name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    # exactly one of item_id / item_name is set; name_key is item_name as EDD
    # compares it (WordPress's sanitize_title), unique per vendor
    item_id: Mapped[int | None] = mapped_column(BigInteger)
    item_name: Mapped[str | None] = mapped_column(String(200))
    name_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EddLicense(Base):
    """EDD's facts about an imported licence, and the import's link to it."""

    __tablename__ = "edd_licenses"
    __table_args__ = (
        UniqueConstraint("vendor_id", "edd_id", name="uq_edd_licenses_vendor_edd_id"),
        Index("ix_edd_licenses_vendor_parent", "vendor_id", "parent_edd_id"),
    )

    license_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), primary_key=True
    )
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), index=True
    )
    edd_id: Mapped[int] = mapped_column(BigInteger)
    download_id: Mapped[int] = mapped_column(BigInteger)
    price_id: Mapped[str | None] = mapped_column(String(20))
    payment_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # EDD's activation limit 0: answered as "unlimited" (our seat limit is the maximum)
    unlimited: Mapped[bool] = mapped_column(Boolean, default=False)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # bundles (docs/EDD.md): a child licence names its bundle licence's EDD id; the
    # bundle's own licence is ``bundle`` (EDD refuses to activate it)
    parent_edd_id: Mapped[int | None] = mapped_column(BigInteger)
    bundle: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class EddStore(Base):
    """A vendor's EDD store settings."""

    __tablename__ = "edd_stores"

    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), primary_key=True
    )
    # WordPress's timezone_string (an IANA name) wins over gmt_offset, as in WordPress
    timezone: Mapped[str | None] = mapped_column(String(64))
    gmt_offset_minutes: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = ["EddItem", "EddLicense", "EddStore"]
