"""Core models: vendors, keys, products, licenses, activations, events."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from license_server.extensions import Base


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


class LicenseStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class ExpiryPolicy(enum.StrEnum):
    RESTRICT = "restrict"
    ALLOW = "allow"


class ApiKeyScope(enum.StrEnum):
    READ = "read"
    WRITE = "write"


class SigningKeyStatus(enum.StrEnum):
    ACTIVE = "active"  # signs new tokens
    VERIFYING = "verifying"  # published in the JWKS, signs nothing
    RETIRED = "retired"


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def _vendor_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"), index=True)


class Vendor(Base):
    __tablename__ = "vendors"

    id: Mapped[uuid.UUID] = _uuid_pk()
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Head of the vendor's event hash chain: the last event's number and digest.
    event_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    event_head: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # the last event's keyed MAC (HMAC with a master-derived key): only the server
    # can extend the chain, so a database writer cannot rebuild it
    event_mac_head: Mapped[str] = mapped_column(
        String(64), default="", server_default=""
    )


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = _uuid_pk()
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    vendor: Mapped[Vendor] = relationship(lazy="joined")


class SigningKey(Base):
    __tablename__ = "signing_keys"

    id: Mapped[uuid.UUID] = _uuid_pk()
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary(128))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        # Slugs are the vendor's own: public requests name ``vendor/product`` (a
        # bare slug names the first product that took it, see services.products).
        UniqueConstraint("vendor_id", "slug", name="uq_products_vendor_slug"),
        Index("ix_products_slug_created", "slug", "created_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    key_prefix: Mapped[str] = mapped_column(String(8), default="")
    max_domains: Mapped[int] = mapped_column(Integer, default=1)
    # development activations a license may hold; None is no cap (set on purpose)
    max_dev_domains: Mapped[int | None] = mapped_column(Integer)
    # deactivations a license may make per 24 hours (the portal's moves included)
    max_deactivations: Mapped[int] = mapped_column(
        Integer, default=3, server_default="3"
    )
    token_ttl: Mapped[int] = mapped_column(Integer)
    grace_period: Mapped[int] = mapped_column(Integer)
    expiry_policy: Mapped[str] = mapped_column(String(16))
    dev_patterns: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    vendor: Mapped[Vendor] = relationship(lazy="joined")


class License(Base):
    __tablename__ = "licenses"
    __table_args__ = (
        Index("ix_licenses_vendor_created", "vendor_id", "created_at", "id"),
        Index("ix_licenses_customer_email", "vendor_id", "customer_email"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), index=True
    )
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary(128))
    key_hint: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=LicenseStatus.ACTIVE)
    max_domains: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updates_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSON, default=dict, server_default="{}"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    product: Mapped[Product] = relationship(lazy="joined")

    @property
    def seat_limit(self) -> int:
        """Return the number of production domains this license may hold."""
        if self.max_domains is not None:
            return self.max_domains
        return self.product.max_domains


class Activation(Base):
    __tablename__ = "activations"
    __table_args__ = (
        # One live activation per (license, domain): the idempotency guard.
        Index(
            "uq_activations_live_domain",
            "license_id",
            "domain",
            unique=True,
            sqlite_where=text("deactivated_at IS NULL"),
            postgresql_where=text("deactivated_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    license_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(253), index=True)
    development: Mapped[bool] = mapped_column(Boolean, default=False)
    environment: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True when the license's holder freed the seat (counted by the limit)
    deactivated_by_owner: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # what the site last reported in an update check (runtime/siteversions.py)
    theme_version: Mapped[str | None] = mapped_column(String(64))
    wp_version: Mapped[str | None] = mapped_column(String(32))
    php_version: Mapped[str | None] = mapped_column(String(32))
    versions_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Event(Base):
    """Append-only audit record of a state change."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_vendor_id_id", "vendor_id", "id"),
        UniqueConstraint("vendor_id", "seq", name="uq_events_vendor_seq"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE")
    )
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_digest: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))  # plain SHA-256, for export
    mac: Mapped[str] = mapped_column(String(64), default="", server_default="")


class IdempotencyKey(Base):
    """A stored answer to an admin POST with an ``Idempotency-Key`` header."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("vendor_id", "key", name="uq_idempotency_vendor_key"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    # the answer to replay, compressed and sealed (it may hold a new secret)
    body_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class UsageCounter(Base):
    """Validations per product per day (written in batches, never per request)."""

    __tablename__ = "usage_counters"

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    validations: Mapped[int] = mapped_column(BigInteger, default=0)


__all__ = [
    "Activation",
    "ApiKey",
    "ApiKeyScope",
    "Event",
    "IdempotencyKey",
    "UsageCounter",
    "ExpiryPolicy",
    "License",
    "LicenseStatus",
    "Product",
    "SigningKey",
    "SigningKeyStatus",
    "Vendor",
]
