"""Webhook models: endpoints, the per-vendor webhook key, the outbox, attempts.

The outbox is two tables: a *message* is one event's body, written once; a
*delivery* is that message owed to one endpoint, the row the worker claims. Both are
inserted in the transaction of the state change they report.
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
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from license_server.extensions import Base
from license_server.models.core import UTCDateTime


class SignatureScheme(enum.StrEnum):
    V1A = "v1a"  # Ed25519 with the vendor's webhook key (published in its JWKS)
    V1 = "v1"  # HMAC-SHA256 with the endpoint's own secret


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def _vendor_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"), index=True)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    scheme: Mapped[str] = mapped_column(String(8), default=SignatureScheme.V1A)
    # v1 only: the HMAC secret, sealed; the previous one signs too until it expires.
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    previous_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookKey(Base):
    """A vendor's Ed25519 webhook key; the private half sealed like signing keys."""

    __tablename__ = "webhook_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None while current; set on rotation: the key still signs until then.
    retires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookMessage(Base):
    """One event's webhook body, exactly the bytes every endpoint receives."""

    __tablename__ = "webhook_messages"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    event_type: Mapped[str] = mapped_column(String(64))
    event_seq: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """A message owed to one endpoint: the outbox row the worker claims."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "ordering_key", "seq"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The event's number in the vendor's chain: the order per ordering key.
    seq: Mapped[int] = mapped_column(BigInteger)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True
    )
    # The license an event is about: one license's deliveries go out in order.
    ordering_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: status, first 2 KB of the answer, error."""

    __tablename__ = "webhook_attempts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)


class LicenseNotice(Base):
    """A timed event already emitted for a license's expiry date (so: once)."""

    __tablename__ = "license_notices"
    __table_args__ = (
        UniqueConstraint(
            "license_id", "kind", "expires_at", name="uq_license_notices_once"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    license_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = [
    "DeliveryState",
    "LicenseNotice",
    "SignatureScheme",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookKey",
    "WebhookMessage",
]
