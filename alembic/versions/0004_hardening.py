"""Hardening, second pass: sealed keys bound to their rows, sealed idempotent
answers, capped development activations, a deactivation limit per product.

Existing data is rewritten with the server's keyring (the master key of the
configured server, or the one ``migrate.upgrade`` is given):

- every license key is re-sealed with its vendor and license id as AES-GCM
  associated data (moving a ciphertext to another row no longer opens it);
- every stored idempotent answer is compressed and sealed, bound to its row;
- products that had no cap on development activations get the new default, 3
  (NULL was the old default, not a choice; a vendor may set it back to none).

Revision ID: 0004_hardening
Revises: 0002
Create Date: 2026-12-01 09:45:00
"""

import zlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004_hardening"
down_revision: str | None = "0002"
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


def upgrade() -> None:
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
    op.execute(
        sa.text(
            "UPDATE products SET max_dev_domains = :cap WHERE max_dev_domains IS NULL"
        ).bindparams(cap=DEFAULT_DEV_DOMAINS)
    )
    needs_keys = _has_rows("licenses") or _has_rows(
        "idempotency_keys", "WHERE body IS NOT NULL"
    )
    if needs_keys:
        keyring = _keyring()
        _reseal_license_keys(keyring)
        _seal_replays(keyring)
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("body")


def downgrade() -> None:
    # Bound ciphertexts cannot be unbound without the key; a downgrade would lose
    # every license key, so it is refused rather than done half.
    raise RuntimeError("0004_hardening cannot be downgraded; restore a backup")
