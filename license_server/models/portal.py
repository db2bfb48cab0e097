"""The customer portal and its mail: the mail outbox, templates, customers, links.

Secrets in a queued mail (a sign-in link, a licence key) are sealed
(``Keyring.seal_mail_secret``, bound to the vendor and the row) and dropped once
the mail is sent or given up. One-time sign-in links are stored as keyed hashes,
never in clear.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
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


class MailState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # the mail server refused it for good (a 5xx answer)


def _vendor_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"), index=True)


class MailMessage(Base):
    """One queued mail, written in the transaction of the change that causes it."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    to_addr: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(32))
    # the template's values without its secrets (those are in secret_sealed)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default=MailState.PENDING)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailTemplate(Base):
    """A vendor's own version of one mail template (else the shipped default)."""

    __tablename__ = "mail_templates"
    __table_args__ = (UniqueConstraint("vendor_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    name: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PortalCustomer(Base):
    """A site owner who signed in to a vendor's portal (by their licences' e-mail)."""

    __tablename__ = "portal_customers"
    __table_args__ = (UniqueConstraint("vendor_id", "email"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PortalLink(Base):
    """A one-time sign-in link, bound to the browser that asked for it."""

    __tablename__ = "portal_links"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    vendor_id: Mapped[uuid.UUID] = _vendor_fk()
    email: Mapped[str] = mapped_column(String(320))
    # keyed hash of the random value the asking browser keeps in its cookie
    browser_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


__all__ = [
    "MailMessage",
    "MailState",
    "MailTemplate",
    "PortalCustomer",
    "PortalLink",
]
