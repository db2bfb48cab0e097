"""Sales channels: store connections, their mappings, receipts and log; Envato.

A *store connection* is one store (Stripe, WooCommerce, Lemon Squeezy or the
generic form) sending signed events to its own inbound URL; its signing secret is
sealed. A *mapping* turns one store product/price id into a product of ours and a
licence template. A *receipt* is the idempotency guard: one row per store event
(or order state) acted on, unique per connection. A *link* ties a store's order,
subscription or payment id to the licences it produced, so a renewal or a refund
finds them. Every inbound request that names a connection is logged with its
outcome (never its body).

Envato: a vendor's personal token (sealed), the products that accept purchase
codes (with the Envato item they must be for), and each purchase code seen (sealed,
found by keyed hash) bound to the licence it created.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from license_server.extensions import Base
from license_server.models.core import UTCDateTime


class StoreKind(enum.StrEnum):
    STRIPE = "stripe"
    WOOCOMMERCE = "woocommerce"
    LEMONSQUEEZY = "lemonsqueezy"
    GENERIC = "generic"


class RefundPolicy(enum.StrEnum):
    REVOKE = "revoke"  # the licence stops at once
    LAPSE = "lapse"  # the licence expires (now, or when the paid period ends)


class Outcome(enum.StrEnum):
    ISSUED = "issued"
    RENEWED = "renewed"
    REVOKED = "revoked"
    LAPSED = "lapsed"
    UNCHANGED = "unchanged"  # understood; nothing to change (already issued, say)
    DUPLICATE = "duplicate"  # a redelivery of an event already acted on
    IGNORED = "ignored"  # an event type or state we do not act on
    UNMAPPED = "unmapped"  # no mapping for the store's product: nothing issued
    REFUSED = "refused"  # bad signature, old timestamp
    FAILED = "failed"  # signed, but not understood (malformed body)


def _vendor_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"), index=True)


def _connection_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("store_connections.id", ondelete="CASCADE"))


class StoreConnection(Base):
    __tablename__ = "store_connections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary(512))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoreMapping(Base):
    __tablename__ = "store_mappings"
    __table_args__ = (
        UniqueConstraint(
            "connection_id", "external_id", name="uq_store_mappings_external"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    connection_id: Mapped[uuid.UUID] = _connection_fk()
    external_id: Mapped[str] = mapped_column(String(128))
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE")
    )
    max_domains: Mapped[int | None] = mapped_column(Integer)
    duration_days: Mapped[int | None] = mapped_column(Integer)
    updates_days: Mapped[int | None] = mapped_column(Integer)
    refund_policy: Mapped[str] = mapped_column(String(8), default=RefundPolicy.REVOKE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoreReceipt(Base):
    """A store event acted on: the unique key that makes redeliveries no-ops."""

    __tablename__ = "store_receipts"
    __table_args__ = (
        UniqueConstraint("connection_id", "dedupe_key", name="uq_store_receipts_once"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    connection_id: Mapped[uuid.UUID] = _connection_fk()
    dedupe_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoreLink(Base):
    """A store's order, subscription or payment id, and a licence it produced."""

    __tablename__ = "store_links"
    __table_args__ = (
        UniqueConstraint(
            "connection_id", "reference", "license_id", name="uq_store_links"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    connection_id: Mapped[uuid.UUID] = _connection_fk()
    reference: Mapped[str] = mapped_column(String(255))
    license_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), index=True
    )
    mapping_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("store_mappings.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoreEvent(Base):
    """One inbound request on a connection and what came of it (never its body)."""

    __tablename__ = "store_events"
    __table_args__ = (
        Index("ix_store_events_vendor_received", "vendor_id", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE")
    )
    connection_id: Mapped[uuid.UUID] = _connection_fk()
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    event_type: Mapped[str | None] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    license_ids: Mapped[list[str]] = mapped_column(JSON, default=list)


class EnvatoAccount(Base):
    """A vendor's Envato personal token (sealed), for the author sale API."""

    __tablename__ = "envato_accounts"

    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), primary_key=True
    )
    token_sealed: Mapped[bytes] = mapped_column(LargeBinary(512))
    token_hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EnvatoProduct(Base):
    """A product that accepts Envato purchase codes for one Envato item."""

    __tablename__ = "envato_products"

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    item_id: Mapped[int] = mapped_column(BigInteger)
    regular_seats: Mapped[int] = mapped_column(Integer, default=1)
    extended_seats: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PurchaseCode(Base):
    """An Envato purchase code seen once, verified, bound to its licence."""

    __tablename__ = "envato_purchases"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE")
    )
    license_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), unique=True
    )
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    code_sealed: Mapped[bytes] = mapped_column(LargeBinary(128))
    item_id: Mapped[int] = mapped_column(BigInteger)
    buyer: Mapped[str | None] = mapped_column(String(200))
    license_type: Mapped[str] = mapped_column(String(64))
    sold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    supported_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = [
    "EnvatoAccount",
    "EnvatoProduct",
    "Outcome",
    "PurchaseCode",
    "RefundPolicy",
    "StoreConnection",
    "StoreEvent",
    "StoreKind",
    "StoreLink",
    "StoreMapping",
    "StoreReceipt",
]
