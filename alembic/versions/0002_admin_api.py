"""Admin API: event hash chain, idempotency keys, usage counters, license notes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:26:58.548969
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vendor_id", "key", name="uq_idempotency_vendor_key"),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_vendor_id"), ["vendor_id"], unique=False
        )

    op.create_table(
        "usage_counters",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("validations", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("product_id", "day"),
    )
    with op.batch_alter_table("usage_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usage_counters_vendor_id"), ["vendor_id"], unique=False
        )

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("prev_digest", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))

    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("metadata", sa.JSON(), server_default="{}", nullable=False)
        )
        batch_op.create_index(
            "ix_licenses_customer_email", ["vendor_id", "customer_email"], unique=False
        )
        batch_op.create_index(
            "ix_licenses_vendor_created",
            ["vendor_id", "created_at", "id"],
            unique=False,
        )

    with op.batch_alter_table("vendors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("event_seq", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "event_head", sa.String(length=64), server_default="", nullable=False
            )
        )

    _chain_existing_events()
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column(
            "prev_digest", existing_type=sa.String(length=64), nullable=False
        )
        batch_op.alter_column(
            "digest", existing_type=sa.String(length=64), nullable=False
        )
        batch_op.create_unique_constraint("uq_events_vendor_seq", ["vendor_id", "seq"])


def _digest(prev: str, fields: dict[str, Any]) -> str:
    # Frozen copy of license_server.services.events.event_digest as of this revision.
    payload = json.dumps(
        {"prev": prev, **fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _iso(moment: datetime | str) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _chain_existing_events() -> None:
    """Number and chain the events written before this revision, per vendor."""
    bind = op.get_bind()
    events = sa.table(
        "events",
        sa.column("id"),
        sa.column("vendor_id", sa.Uuid()),
        sa.column("actor"),
        sa.column("action"),
        sa.column("subject_type"),
        sa.column("subject_id"),
        sa.column("data", sa.JSON()),
        sa.column("created_at"),
        sa.column("seq"),
        sa.column("prev_digest"),
        sa.column("digest"),
    )
    vendors = sa.table(
        "vendors",
        sa.column("id", sa.Uuid()),
        sa.column("event_seq"),
        sa.column("event_head"),
    )
    heads: dict[Any, tuple[int, str]] = {}
    rows = bind.execute(sa.select(events).order_by(events.c.id)).mappings().all()
    for row in rows:
        seq, prev = heads.get(row["vendor_id"], (0, ""))
        fields = {
            "vendor_id": str(row["vendor_id"]),
            "seq": seq + 1,
            "actor": row["actor"],
            "action": row["action"],
            "subject_type": row["subject_type"],
            "subject_id": row["subject_id"],
            "data": row["data"],
            "created_at": _iso(row["created_at"]),
        }
        digest = _digest(prev, fields)
        bind.execute(
            events.update()
            .where(events.c.id == row["id"])
            .values(seq=seq + 1, prev_digest=prev, digest=digest)
        )
        heads[row["vendor_id"]] = (seq + 1, digest)
    for vendor_id, (seq, head) in heads.items():
        bind.execute(
            vendors.update()
            .where(vendors.c.id == vendor_id)
            .values(event_seq=seq, event_head=head)
        )


def downgrade() -> None:
    with op.batch_alter_table("vendors", schema=None) as batch_op:
        batch_op.drop_column("event_head")
        batch_op.drop_column("event_seq")

    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index("ix_licenses_vendor_created")
        batch_op.drop_index("ix_licenses_customer_email")
        batch_op.drop_column("metadata")
        batch_op.drop_column("notes")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_events_vendor_seq", type_="unique")
        batch_op.drop_column("digest")
        batch_op.drop_column("prev_digest")
        batch_op.drop_column("seq")

    with op.batch_alter_table("usage_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_counters_vendor_id"))

    op.drop_table("usage_counters")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_vendor_id"))
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_expires_at"))

    op.drop_table("idempotency_keys")
