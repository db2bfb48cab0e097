"""The rows a decision reads, and the SQL that reads them.

A validation reads three things: the product's settings (cached per app), which key
signs for the vendor (cached per app), and the license's state — the license, the
number of production seats it holds and the asked domain's live activation — in one
indexed query, never cached. Activation reads the same state row under the license's
row lock. The seat count is written once, :func:`seats_taken`, and used by both the
state query and the activation's conditional insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import aliased

from license_server import driver
from license_server.models import (
    Activation,
    License,
    Product,
    SigningKey,
    SigningKeyStatus,
    Vendor,
)


@dataclass(frozen=True)
class ProductInfo:
    """A product's settings as the public endpoints need them (a cached snapshot)."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    slug: str
    name: str
    key_prefix: str
    max_domains: int
    max_dev_domains: int | None
    token_ttl: int
    grace_period: int
    expiry_policy: str
    dev_patterns: tuple[str, ...]
    archived_at: datetime | None
    issuer: str


@dataclass(frozen=True)
class LicenseState:
    """A license as a decision reads it, with its seats and the domain's activation."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    product_id: uuid.UUID
    status: str
    max_domains: int | None
    expires_at: datetime | None
    updates_until: datetime | None
    active_domains: int
    activation_id: uuid.UUID | None
    last_seen_at: datetime | None

    def seat_limit(self, product: ProductInfo) -> int:
        """Return how many production domains the license may hold."""
        return self.max_domains if self.max_domains is not None else product.max_domains


@dataclass(frozen=True)
class SignerRef:
    """The key that signs a vendor's tokens: its kid and sealed private half."""

    kid: str
    sealed: bytes


# --- products -----------------------------------------------------------------------

_PRODUCT_FIELDS = (
    "id",
    "vendor_id",
    "slug",
    "name",
    "key_prefix",
    "max_domains",
    "max_dev_domains",
    "token_ttl",
    "grace_period",
    "expiry_policy",
    "dev_patterns",
    "archived_at",
)
_PRODUCT_COLUMNS = (
    *(getattr(Product, name) for name in _PRODUCT_FIELDS),
    Vendor.issuer,
)


def read_product(connection: Connection, slug: str) -> ProductInfo | None:
    """Read a product's settings by its public identifier (vendor/product or slug)."""
    from license_server.services.products import public_product_query

    row = connection.execute(public_product_query(slug, _PRODUCT_COLUMNS)).first()
    if row is None:
        return None
    fields = dict(zip(_PRODUCT_FIELDS, row, strict=False))
    fields["dev_patterns"] = tuple(fields["dev_patterns"] or ())
    return ProductInfo(**fields, issuer=row[-1])


# --- signers ------------------------------------------------------------------------

SIGNER_QUERY = (
    select(SigningKey.kid, SigningKey.private_key_sealed)
    .where(
        SigningKey.vendor_id == bindparam("vendor_id"),
        SigningKey.status == SigningKeyStatus.ACTIVE,
    )
    .order_by(SigningKey.created_at.desc())
    .limit(1)
)


def read_signer(connection: Connection, vendor_id: uuid.UUID) -> SignerRef:
    """Decide which key signs the vendor's tokens now: its newest ACTIVE key."""
    row = connection.execute(SIGNER_QUERY, {"vendor_id": vendor_id}).first()
    if row is None:
        raise RuntimeError(f"vendor {vendor_id} has no active signing key")
    return SignerRef(row[0], row[1])


# --- license state ------------------------------------------------------------------


def seats_taken(license_id: Any, *, development: bool = False) -> ColumnElement[int]:
    """Count a license's live activations of one kind (seats: production ones)."""
    seats = aliased(Activation)
    return (
        select(func.count())
        .select_from(seats)
        .where(
            seats.license_id == license_id,
            seats.deactivated_at.is_(None),
            seats.development.is_(development),
        )
        .scalar_subquery()
    )


def state_query(*, lock: bool = False) -> Select[Any]:
    """Return the query of a license by key hash, its seats and a domain's activation.

    With ``lock``, the license row is locked until commit (PostgreSQL's
    ``FOR UPDATE OF licenses``; SQLite has one writer at a time anyway).
    """
    query = (
        select(
            License.id,
            License.vendor_id,
            License.product_id,
            License.status,
            License.max_domains,
            License.expires_at,
            License.updates_until,
            seats_taken(License.id),
            Activation.id,
            Activation.last_seen_at,
        )
        .outerjoin(
            Activation,
            and_(
                Activation.license_id == License.id,
                Activation.domain == bindparam("domain"),
                Activation.deactivated_at.is_(None),
            ),
        )
        .where(License.key_hash == bindparam("key_hash"))
    )
    selected = query.with_for_update(of=License) if lock else query
    return cast("Select[Any]", selected)


STATE_QUERY = state_query()


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite keeps no zone: stored as UTC
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def state_from_row(row: Sequence[Any]) -> LicenseState:
    """Build a :class:`LicenseState` from a row of :func:`state_query`."""
    return LicenseState(
        id=row[0],
        vendor_id=row[1],
        product_id=row[2],
        status=row[3],
        max_domains=row[4],
        expires_at=_utc(row[5]),
        updates_until=_utc(row[6]),
        active_domains=int(row[7] or 0),
        activation_id=row[8],
        last_seen_at=_utc(row[9]),
    )


# prepared on PostgreSQL: activations and moves read it in their transactions
_STATE = driver.Prepared(STATE_QUERY)


def read_state(
    connection: Connection, key_hash: bytes, domain: str, *, lock: bool = False
) -> LicenseState | None:
    """Read a license, its seats taken and ``domain``'s activation: one query."""
    params = {"key_hash": key_hash, "domain": domain}
    row: Sequence[Any] | None
    if lock:
        row = connection.execute(state_query(lock=True), params).first()
    else:
        row = _STATE.first(connection, params)
    return None if row is None else state_from_row(row)
