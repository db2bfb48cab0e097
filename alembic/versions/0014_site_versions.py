"""Site versions: the theme, WordPress and PHP versions each activation last reported.

Revision ID: 0014_site_versions
Revises: 0013_edd_bundles
Create Date: 2026-12-01 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_site_versions"
down_revision: str | None = "0013_edd_bundles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("theme_version", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("wp_version", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("php_version", sa.String(32), nullable=True))
        batch_op.add_column(
            sa.Column("versions_reported_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.drop_column("versions_reported_at")
        batch_op.drop_column("php_version")
        batch_op.drop_column("wp_version")
        batch_op.drop_column("theme_version")
