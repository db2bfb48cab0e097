"""Admin use cases: store connections, their mappings, the inbound event log.

Each is one transaction recording its change in the vendor's event chain. A
connection's signing secret is sealed, bound to the connection; a secret the server
makes (WooCommerce, Lemon Squeezy, generic) is returned once, by the call that
makes it. Stripe makes its own (``whsec_...``): the vendor pastes it.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from license_server import errors
from license_server.channels.errors import MappingExists, SecretRequired
from license_server.channels.inbound import SECRET_PURPOSE
from license_server.channels.signatures import GENERIC_PREFIX, generic_key
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Product
from license_server.models.channels import (
    StoreConnection,
    StoreEvent,
    StoreKind,
    StoreMapping,
)
from license_server.services import common, pages
from license_server.services.products import product_for_vendor
from license_server.services.unit import transactional

MAPPING_FIELDS = ("max_domains", "duration_days", "updates_days", "refund_policy")


def new_secret(kind: str) -> str:
    """Return a fresh signing secret in the form store ``kind`` takes."""
    if kind == StoreKind.GENERIC:
        return GENERIC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(30)  # 40 characters: Lemon Squeezy's maximum


def _seal(keyring: Keyring, connection: StoreConnection, secret: str) -> None:
    if connection.kind == StoreKind.GENERIC:
        try:
            generic_key(secret)
        except ValueError:
            raise errors.ValidationFailed(
                detail={"fields": {"secret": ["A generic secret is whsec_ + base64."]}}
            ) from None
    connection.secret_sealed = keyring.seal_channel_secret(
        secret, purpose=SECRET_PURPOSE, row_id=str(connection.id)
    )


def _record(
    keyring: Keyring,
    vendor_id: uuid.UUID,
    actor: str,
    action: str,
    subject: tuple[str, uuid.UUID],
    data: dict[str, Any],
    now: datetime,
) -> None:
    common.record_event(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action=action,
        subject_type=subject[0],
        subject_id=subject[1],
        data=data,
        now=now,
    )


@transactional
def create_connection(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    actor: str,
    now: datetime,
    kind: str,
    name: str,
    secret: str | None = None,
) -> tuple[StoreConnection, str | None]:
    """Connect a store; return it and the secret made for it (None if pasted)."""
    made = None
    if secret is None:
        if kind == StoreKind.STRIPE:
            raise SecretRequired()
        secret = made = new_secret(kind)
    connection = StoreConnection(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        kind=kind,
        name=name,
        enabled=True,
        created_at=now,
        updated_at=now,
    )
    _seal(keyring, connection, secret)
    db.session.add(connection)
    db.session.flush()
    _record(
        keyring,
        vendor_id,
        actor,
        "store_connection.created",
        ("store_connection", connection.id),
        {"kind": kind, "name": name},
        now,
    )
    return connection, made


def get_connection(
    *, vendor_id: uuid.UUID, connection_id: uuid.UUID
) -> StoreConnection:
    """Return one of the vendor's connections, or 404."""
    connection = db.session.scalar(
        select(StoreConnection).where(
            StoreConnection.vendor_id == vendor_id,
            StoreConnection.id == connection_id,
        )
    )
    if connection is None:
        raise errors.NotFound("No such store connection.")
    return connection


def list_connections(*, vendor_id: uuid.UUID) -> list[StoreConnection]:
    """List the vendor's connections, oldest first."""
    return list(
        db.session.scalars(
            select(StoreConnection)
            .where(StoreConnection.vendor_id == vendor_id)
            .order_by(StoreConnection.created_at, StoreConnection.id)
        )
    )


@transactional
def update_connection(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    connection_id: uuid.UUID,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
) -> StoreConnection:
    """Rename, enable or disable a connection, or replace its secret."""
    connection = get_connection(vendor_id=vendor_id, connection_id=connection_id)
    changed: dict[str, Any] = {}
    for name in ("name", "enabled"):
        if name in changes and changes[name] != getattr(connection, name):
            changed[name] = changes[name]
            setattr(connection, name, changes[name])
    if changes.get("secret"):
        _seal(keyring, connection, changes["secret"])
        changed["secret"] = "replaced"  # noqa: S105 - a note, not the secret
    connection.updated_at = now
    _record(
        keyring,
        vendor_id,
        actor,
        "store_connection.updated",
        ("store_connection", connection.id),
        changed,
        now,
    )
    return connection


@transactional
def delete_connection(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    connection_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> None:
    """Delete a connection with its mappings and log (licences stay)."""
    connection = get_connection(vendor_id=vendor_id, connection_id=connection_id)
    db.session.delete(connection)
    db.session.flush()
    _record(
        keyring,
        vendor_id,
        actor,
        "store_connection.deleted",
        ("store_connection", connection.id),
        {"kind": connection.kind, "name": connection.name},
        now,
    )


# --- mappings -----------------------------------------------------------------------


@transactional
def create_mapping(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    connection_id: uuid.UUID,
    actor: str,
    now: datetime,
    external_id: str,
    product: str,
    **template: Any,
) -> StoreMapping:
    """Map a store product/price id to a product and a licence template."""
    connection = get_connection(vendor_id=vendor_id, connection_id=connection_id)
    item = product_for_vendor(vendor_id=vendor_id, slug=product)
    taken = db.session.scalar(
        select(StoreMapping.id).where(
            StoreMapping.connection_id == connection.id,
            StoreMapping.external_id == external_id,
        )
    )
    if taken is not None:
        raise MappingExists(detail={"external_id": external_id})
    mapping = StoreMapping(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        connection_id=connection.id,
        external_id=external_id,
        product_id=item.id,
        created_at=now,
        updated_at=now,
        **{name: template.get(name) for name in MAPPING_FIELDS},
    )
    mapping.refund_policy = template.get("refund_policy") or "revoke"
    db.session.add(mapping)
    db.session.flush()
    _record(
        keyring,
        vendor_id,
        actor,
        "store_mapping.created",
        ("store_mapping", mapping.id),
        {"external_id": external_id, "product": item.slug, **template},
        now,
    )
    return mapping


def list_mappings(
    *, vendor_id: uuid.UUID, connection_id: uuid.UUID
) -> list[StoreMapping]:
    """List a connection's mappings."""
    connection = get_connection(vendor_id=vendor_id, connection_id=connection_id)
    return list(
        db.session.scalars(
            select(StoreMapping)
            .where(StoreMapping.connection_id == connection.id)
            .order_by(StoreMapping.created_at, StoreMapping.id)
        )
    )


def get_mapping(*, vendor_id: uuid.UUID, mapping_id: uuid.UUID) -> StoreMapping:
    """Return one of the vendor's mappings, or 404."""
    mapping = db.session.scalar(
        select(StoreMapping).where(
            StoreMapping.vendor_id == vendor_id, StoreMapping.id == mapping_id
        )
    )
    if mapping is None:
        raise errors.NotFound("No such mapping.")
    return mapping


@transactional
def update_mapping(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    mapping_id: uuid.UUID,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
) -> StoreMapping:
    """Change a mapping's licence template (licences issued before keep theirs)."""
    mapping = get_mapping(vendor_id=vendor_id, mapping_id=mapping_id)
    before = {
        name: getattr(mapping, name) for name in MAPPING_FIELDS if name in changes
    }
    for name in before:
        setattr(mapping, name, changes[name])
    mapping.updated_at = now
    _record(
        keyring,
        vendor_id,
        actor,
        "store_mapping.updated",
        ("store_mapping", mapping.id),
        {"before": before, "after": {name: changes[name] for name in before}},
        now,
    )
    return mapping


@transactional
def delete_mapping(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    mapping_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> None:
    """Delete a mapping (its licences stay; a refund of them then revokes)."""
    mapping = get_mapping(vendor_id=vendor_id, mapping_id=mapping_id)
    db.session.delete(mapping)
    db.session.flush()
    _record(
        keyring,
        vendor_id,
        actor,
        "store_mapping.deleted",
        ("store_mapping", mapping.id),
        {"external_id": mapping.external_id},
        now,
    )


def product_slugs(vendor_id: uuid.UUID, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Return the slugs of the vendor's products with these ids."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(Product.id, Product.slug).where(
            Product.vendor_id == vendor_id, Product.id.in_(ids)
        )
    )
    return {row[0]: row[1] for row in rows}


# --- the log ------------------------------------------------------------------------


def list_events(
    *,
    vendor_id: uuid.UUID,
    connection_id: uuid.UUID | None = None,
    outcome: str | None = None,
    cursor: str | None = None,
    limit: int = pages.MAX_LIMIT,
) -> pages.Page[StoreEvent]:
    """List the vendor's inbound events, newest first, one page."""
    query = select(StoreEvent).where(StoreEvent.vendor_id == vendor_id)
    if connection_id is not None:
        query = query.where(StoreEvent.connection_id == connection_id)
    if outcome is not None:
        query = query.where(StoreEvent.outcome == outcome)
    return pages.paginate(
        query,
        columns=[StoreEvent.id],
        parse=[int],
        key=lambda event: [event.id],
        cursor=cursor,
        limit=limit,
    )
