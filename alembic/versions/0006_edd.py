"""EDD Software Licensing compatibility: item mapping, imported licences, stores.

Revision ID: 0006_edd
Revises: 0002
Create Date: 2026-12-01 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_edd"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "edd_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("item_name", sa.String(length=200), nullable=True),
        sa.Column("name_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vendor_id", "item_id", name="uq_edd_items_vendor_item_id"),
        sa.UniqueConstraint("vendor_id", "name_key", name="uq_edd_items_vendor_name"),
    )
    with op.batch_alter_table("edd_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_edd_items_product_id"), ["product_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_edd_items_vendor_id"), ["vendor_id"], unique=False
        )

    op.create_table(
        "edd_licenses",
        sa.Column("license_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("edd_id", sa.BigInteger(), nullable=False),
        sa.Column("download_id", sa.BigInteger(), nullable=False),
        sa.Column("price_id", sa.String(length=20), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("unlimited", sa.Boolean(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["license_id"], ["licenses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("license_id"),
        sa.UniqueConstraint(
            "vendor_id", "edd_id", name="uq_edd_licenses_vendor_edd_id"
        ),
    )
    with op.batch_alter_table("edd_licenses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_edd_licenses_vendor_id"), ["vendor_id"], unique=False
        )

    op.create_table(
        "edd_stores",
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("gmt_offset_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("vendor_id"),
    )


def downgrade() -> None:
    op.drop_table("edd_stores")
    with op.batch_alter_table("edd_licenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_edd_licenses_vendor_id"))
    op.drop_table("edd_licenses")
    with op.batch_alter_table("edd_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_edd_items_vendor_id"))
        batch_op.drop_index(batch_op.f("ix_edd_items_product_id"))
    op.drop_table("edd_items")
