"""Sales channels: store connections, mappings, receipts, links, log; Envato.

Revision ID: 0011_channels
Revises: 0010_portal
Create Date: 2026-12-01 12:45:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011_channels"
down_revision: str | None = "0010_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _vendor() -> list[Any]:
    return [
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
    ]


def _connection() -> list[Any]:
    return [
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["store_connections.id"], ondelete="CASCADE"
        ),
    ]


def _index_vendor(table: str) -> None:
    op.create_index(f"ix_{table}_vendor_id", table, ["vendor_id"], unique=False)


def upgrade() -> None:
    op.create_table(
        "store_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_vendor(),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(length=512), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index_vendor("store_connections")
    op.create_table(
        "store_mappings",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_vendor(),
        *_connection(),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("max_domains", sa.Integer(), nullable=True),
        sa.Column("duration_days", sa.Integer(), nullable=True),
        sa.Column("updates_days", sa.Integer(), nullable=True),
        sa.Column("refund_policy", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "connection_id", "external_id", name="uq_store_mappings_external"
        ),
    )
    _index_vendor("store_mappings")
    op.create_table(
        "store_receipts",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_vendor(),
        *_connection(),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "connection_id", "dedupe_key", name="uq_store_receipts_once"
        ),
    )
    _index_vendor("store_receipts")
    op.create_table(
        "store_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_vendor(),
        *_connection(),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("license_id", sa.Uuid(), nullable=False),
        sa.Column("mapping_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["license_id"], ["licenses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["mapping_id"], ["store_mappings.id"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "connection_id", "reference", "license_id", name="uq_store_links"
        ),
    )
    _index_vendor("store_links")
    op.create_index(
        "ix_store_links_license_id", "store_links", ["license_id"], unique=False
    )
    op.create_table(
        "store_events",
        sa.Column("id", _BIG_ID, nullable=False),
        *_vendor(),
        *_connection(),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("license_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_store_events_vendor_received",
        "store_events",
        ["vendor_id", "received_at", "id"],
        unique=False,
    )
    op.create_table(
        "envato_accounts",
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("token_sealed", sa.LargeBinary(length=512), nullable=False),
        sa.Column("token_hint", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("vendor_id"),
    )
    op.create_table(
        "envato_products",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        *_vendor(),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("regular_seats", sa.Integer(), nullable=False),
        sa.Column("extended_seats", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("product_id"),
    )
    _index_vendor("envato_products")
    op.create_table(
        "envato_purchases",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_vendor(),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("license_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("code_sealed", sa.LargeBinary(length=128), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("buyer", sa.String(length=200), nullable=True),
        sa.Column("license_type", sa.String(length=64), nullable=False),
        sa.Column("sold_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supported_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["license_id"], ["licenses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
        sa.UniqueConstraint("license_id"),
    )
    _index_vendor("envato_purchases")
    op.create_index(
        "ix_envato_purchases_checked_at",
        "envato_purchases",
        ["checked_at"],
        unique=False,
    )


def downgrade() -> None:
    for table in (
        "envato_purchases",
        "envato_products",
        "envato_accounts",
        "store_events",
        "store_links",
        "store_receipts",
        "store_mappings",
        "store_connections",
    ):
        op.drop_table(table)
