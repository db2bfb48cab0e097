"""Customer portal and mail: the mail outbox, mail templates, customers, links.

Revision ID: 0010_portal
Revises: 0009_hardening
Create Date: 2026-12-01 12:40:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010_portal"
down_revision: str | None = "0009_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _vendor() -> list[Any]:
    return [
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("to_addr", sa.String(length=320), nullable=False),
        sa.Column("template", sa.String(length=32), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        *_vendor(),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_outbox_vendor_id"), ["vendor_id"], unique=False
        )
        batch_op.create_index(
            "ix_mail_outbox_due", ["state", "next_attempt_at"], unique=False
        )

    op.create_table(
        "mail_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_vendor(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vendor_id", "name"),
    )
    with op.batch_alter_table("mail_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_templates_vendor_id"), ["vendor_id"], unique=False
        )

    op.create_table(
        "portal_customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        *_vendor(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vendor_id", "email"),
    )
    with op.batch_alter_table("portal_customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_customers_vendor_id"), ["vendor_id"], unique=False
        )

    op.create_table(
        "portal_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("browser_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        *_vendor(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_links_vendor_id"), ["vendor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_portal_links_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("portal_links")
    op.drop_table("portal_customers")
    op.drop_table("mail_templates")
    op.drop_table("mail_outbox")
