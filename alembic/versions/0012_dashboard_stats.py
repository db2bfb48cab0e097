"""Dashboard stats: validations per product, day and result code.

Revision ID: 0012_dashboard_stats
Revises: 0011_channels
Create Date: 2026-12-01 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_dashboard_stats"
down_revision: str | None = "0011_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "validation_result_counters",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("validations", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("product_id", "day", "code"),
    )
    with op.batch_alter_table("validation_result_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_validation_result_counters_vendor_id"),
            ["vendor_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("validation_result_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_validation_result_counters_vendor_id"))
    op.drop_table("validation_result_counters")
