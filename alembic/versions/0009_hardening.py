"""Hardening, second pass: sealed keys bound to their rows, sealed idempotent
answers, a keyed event chain, capped development activations, a deactivation
limit per product, product slugs unique per vendor (not server-wide).

Existing data is rewritten with the server's keyring (the master key of the
configured server, or the one ``migrate.upgrade`` is given):

- every license key is re-sealed with its vendor and license id as AES-GCM
  associated data (moving a ciphertext to another row no longer opens it);
- every stored idempotent answer is compressed and sealed, bound to its row;
- every vendor's event chain gets its keyed MACs (HMAC under the master-derived
  ``event-chain`` key), computed over the chain as it stands: run
  ``license-server events verify`` before upgrading to know it was intact;
- products that had no cap on development activations get the new default, 3
  (NULL was the old default, not a choice; a vendor may set it back to none).

Revision ID: 0009_hardening
Revises: 0005_releases
Create Date: 2026-12-01 09:45:00
"""

import json
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009_hardening"
down_revision: str | None = "0005_releases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_DEV_DOMAINS = 3


def _keyring() -> Any:
    """The keyring given by the caller, else the configured server's own."""
    given = op.get_context().config.attributes.get("keyring")
    if given is not None:
        return given
    from license_server.config import load_master_key, resolve
    from license_server.keyring import Keyring

    return Keyring(load_master_key(resolve()))


def _has_rows(table: str, where: str = "") -> bool:
    query = f"SELECT 1 FROM {table} {where} LIMIT 1"  # noqa: S608 - fixed names
    return op.get_bind().execute(sa.text(query)).first() is not None


def _reseal_license_keys(keyring: Any) -> None:
    bind = op.get_bind()
    licenses = sa.table(
        "licenses",
        sa.column("id", sa.Uuid()),
        sa.column("vendor_id", sa.Uuid()),
        sa.column("key_sealed", sa.LargeBinary()),
    )
    rows = bind.execute(
        sa.select(licenses.c.id, licenses.c.vendor_id, licenses.c.key_sealed)
    ).all()
    for license_id, vendor_id, sealed in rows:
        key = keyring.open_unbound_license_key(sealed)
        bound = keyring.seal_license_key(
            key, vendor_id=vendor_id, license_id=license_id
        )
        bind.execute(
            licenses.update()
            .where(licenses.c.id == license_id)
            .values(key_sealed=bound)
        )


def _seal_replays(keyring: Any) -> None:
    bind = op.get_bind()
    rows = sa.table(
        "idempotency_keys",
        sa.column("id", sa.Uuid()),
        sa.column("vendor_id", sa.Uuid()),
        sa.column("body", sa.Text()),
        sa.column("body_sealed", sa.LargeBinary()),
    )
    found = bind.execute(
        sa.select(rows.c.id, rows.c.vendor_id, rows.c.body).where(
            rows.c.body.is_not(None)
        )
    ).all()
    for row_id, vendor_id, body in found:
        packed = zlib.compress(body.encode(), 6)
        sealed = keyring.seal_replay(packed, vendor_id=vendor_id, row_id=row_id)
        bind.execute(
            rows.update().where(rows.c.id == row_id).values(body_sealed=sealed)
        )


def _iso(moment: datetime | str) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _payload(prev: str, fields: dict[str, Any]) -> bytes:
    # Frozen copy of license_server.services.events._payload as of this revision.
    return json.dumps(
        {"prev": prev, **fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def _mac_existing_chains(keyring: Any) -> None:
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
        sa.column("mac"),
    )
    vendors = sa.table(
        "vendors", sa.column("id", sa.Uuid()), sa.column("event_mac_head")
    )
    heads: dict[Any, str] = {}
    query = sa.select(events).order_by(events.c.vendor_id, events.c.seq)
    for row in bind.execute(query).mappings().all():
        fields = {
            "vendor_id": str(row["vendor_id"]),
            "seq": row["seq"],
            "actor": row["actor"],
            "action": row["action"],
            "subject_type": row["subject_type"],
            "subject_id": row["subject_id"],
            "data": row["data"],
            "created_at": _iso(row["created_at"]),
        }
        mac = keyring.chain_mac(_payload(heads.get(row["vendor_id"], ""), fields))
        bind.execute(events.update().where(events.c.id == row["id"]).values(mac=mac))
        heads[row["vendor_id"]] = mac
    for vendor_id, head in heads.items():
        bind.execute(
            vendors.update()
            .where(vendors.c.id == vendor_id)
            .values(event_mac_head=head)
        )


def _scope_product_slugs() -> None:
    """Slugs unique per vendor, no longer server-wide (the old one is unnamed)."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("products_slug_key", "products", type_="unique")
        with op.batch_alter_table("products", schema=None) as batch_op:
            batch_op.create_unique_constraint(
                "uq_products_vendor_slug", ["vendor_id", "slug"]
            )
    else:
        naming = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
        with op.batch_alter_table(
            "products", recreate="always", naming_convention=naming
        ) as batch_op:
            batch_op.drop_constraint("uq_products_slug", type_="unique")
            batch_op.create_unique_constraint(
                "uq_products_vendor_slug", ["vendor_id", "slug"]
            )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index("ix_products_slug_created", ["slug", "created_at"])


def upgrade() -> None:
    with op.batch_alter_table("vendors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "event_mac_head",
                sa.String(length=64),
                server_default="",
                nullable=False,
            )
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mac", sa.String(length=64), server_default="", nullable=False)
        )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "deactivated_by_owner",
                sa.Boolean(),
                server_default=sa.text("false"),
                nullable=False,
            )
        )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "max_deactivations", sa.Integer(), server_default="3", nullable=False
            )
        )
    _scope_product_slugs()
    op.execute(
        sa.text(
            "UPDATE products SET max_dev_domains = :cap WHERE max_dev_domains IS NULL"
        ).bindparams(cap=DEFAULT_DEV_DOMAINS)
    )
    needs_keys = (
        _has_rows("licenses")
        or _has_rows("events")
        or _has_rows("idempotency_keys", "WHERE body IS NOT NULL")
    )
    if needs_keys:
        keyring = _keyring()
        _reseal_license_keys(keyring)
        _seal_replays(keyring)
        _mac_existing_chains(keyring)
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("body")


def downgrade() -> None:
    # Bound ciphertexts cannot be unbound without the key; a downgrade would lose
    # every license key, so it is refused rather than done half.
    raise RuntimeError("0009_hardening cannot be downgraded; restore a backup")
