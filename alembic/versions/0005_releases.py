"""Releases: packages, release keys, update settings and rules, update counters.

Revision ID: 0005_releases
Revises: 0002
Create Date: 2026-12-01 09:34:44.443957
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_releases"
down_revision: str | None = "0008_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "release_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kid"),
    )
    with op.batch_alter_table("release_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_release_keys_vendor_id"), ["vendor_id"], unique=False
        )

    op.create_table(
        "product_update_settings",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("renewal_url", sa.String(length=500), nullable=True),
        sa.Column("homepage", sa.String(length=500), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("rollout_percent", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("installation", sa.Text(), nullable=False),
        sa.Column("banners", sa.JSON(), nullable=False),
        sa.Column("icons", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("product_id"),
    )
    with op.batch_alter_table("product_update_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_product_update_settings_vendor_id"),
            ["vendor_id"],
            unique=False,
        )

    op.create_table(
        "releases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("changelog", sa.Text(), nullable=False),
        sa.Column("requires", sa.String(length=32), nullable=True),
        sa.Column("requires_php", sa.String(length=32), nullable=True),
        sa.Column("tested", sa.String(length=32), nullable=True),
        sa.Column("rollout_percent", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=255), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("sha384", sa.String(length=96), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("signature", sa.String(length=128), nullable=True),
        sa.Column("signature_kid", sa.String(length=64), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("yanked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("yank_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "product_id", "version", name="uq_releases_product_version"
        ),
    )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_releases_product_id"), ["product_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_releases_vendor_id"), ["vendor_id"], unique=False
        )

    op.create_table(
        "update_check_counters",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("checks", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("product_id", "day", "dimension", "value"),
    )
    with op.batch_alter_table("update_check_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_update_check_counters_vendor_id"),
            ["vendor_id"],
            unique=False,
        )

    op.create_table(
        "license_update_rules",
        sa.Column("license_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("max_version", sa.String(length=64), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["license_id"], ["licenses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("license_id"),
    )
    with op.batch_alter_table("license_update_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_license_update_rules_vendor_id"), ["vendor_id"], unique=False
        )

    op.create_table(
        "release_download_counters",
        sa.Column("release_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("downloads", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("release_id", "day"),
    )
    with op.batch_alter_table("release_download_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_release_download_counters_vendor_id"),
            ["vendor_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("release_download_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_download_counters_vendor_id"))

    op.drop_table("release_download_counters")
    with op.batch_alter_table("license_update_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_update_rules_vendor_id"))

    op.drop_table("license_update_rules")
    with op.batch_alter_table("update_check_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_update_check_counters_vendor_id"))

    op.drop_table("update_check_counters")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_releases_vendor_id"))
        batch_op.drop_index(batch_op.f("ix_releases_product_id"))

    op.drop_table("releases")
    with op.batch_alter_table("product_update_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_update_settings_vendor_id"))

    op.drop_table("product_update_settings")
    with op.batch_alter_table("release_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_keys_vendor_id"))

    op.drop_table("release_keys")
