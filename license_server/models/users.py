"""Web users: vendor staff, browser sessions, invitations, reset links, throttles.

Every token (session, invitation, password reset) is random, shown to its holder
only, and stored as a keyed hash (``Keyring.web_token_lookup``), never in clear.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from license_server.extensions import Base
from license_server.models.core import UTCDateTime, Vendor


class StaffRole(enum.StrEnum):
    """What a staff user may do; each role includes the ones below it."""

    VIEWER = "viewer"
    SUPPORT = "support"
    OWNER = "owner"


ROLE_RANK = {StaffRole.VIEWER: 0, StaffRole.SUPPORT: 1, StaffRole.OWNER: 2}


class StaffUser(Base):
    """A person who signs in to a vendor's dashboard."""

    __tablename__ = "staff_users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), index=True
    )
    # Sign-in asks for the e-mail alone, so an address belongs to one account.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    # The last TOTP time step accepted, so one code cannot be replayed.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    vendor: Mapped[Vendor] = relationship(lazy="joined")


class WebSession(Base):
    """A signed-in browser: the cookie holds the token, this row its keyed hash."""

    __tablename__ = "web_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # "staff" for the dashboard; the customer portal adds its own kind.
    kind: Mapped[str] = mapped_column(String(16))
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), index=True
    )
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    # A session that passed the password but still owes its second factor.
    pending_second_factor: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffToken(Base):
    """A one-time link: an invitation to join or a password reset."""

    __tablename__ = "staff_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "invite" or "reset"
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE")
    )
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebThrottle(Base):
    """Failed attempts per key (an e-mail's or an address's keyed hash) per window."""

    __tablename__ = "web_throttles"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)


__all__ = [
    "ROLE_RANK",
    "StaffRole",
    "StaffToken",
    "StaffUser",
    "WebSession",
    "WebThrottle",
]
