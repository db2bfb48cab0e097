"""EDD bundles: a licence's parent licence (EDD id) and whether it is a bundle's own.

Revision ID: 0013_edd_bundles
Revises: 0012_dashboard_stats
Create Date: 2026-12-01 12:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_edd_bundles"
down_revision: str | None = "0012_dashboard_stats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("edd_licenses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_edd_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("bundle", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(
            "ix_edd_licenses_vendor_parent", ["vendor_id", "parent_edd_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("edd_licenses", schema=None) as batch_op:
        batch_op.drop_index("ix_edd_licenses_vendor_parent")
        batch_op.drop_column("bundle")
        batch_op.drop_column("parent_edd_id")
