"""Which product answers for an EDD ``item_id`` or ``item_name``, per vendor.

A product answers for its own name and for every mapped item id and name (so a
renamed product keeps working). Names compare as EDD compares them, through
WordPress's ``sanitize_title`` (case- and punctuation-blind). Every change is an
event in the vendor's chain.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from license_server import errors
from license_server.compat.php import sanitize_title
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import EddItem, EddStore, Product
from license_server.services import common
from license_server.services.products import get_product


class EddItemTaken(errors.APIError):
    status_code, code, message = (
        409,
        "EDD_ITEM_TAKEN",
        "Another product of this vendor already answers for this EDD item.",
    )


@dataclass(frozen=True)
class Mapping:
    """The EDD item ids and names a product answers for."""

    product: str
    item_ids: list[int]
    item_names: list[str]


def product_for_item_id(vendor_id: uuid.UUID, item_id: int) -> Product | None:
    """Return the vendor's product mapped to an EDD item id, if any."""
    return db.session.scalar(
        select(Product)
        .join(EddItem, EddItem.product_id == Product.id)
        .where(EddItem.vendor_id == vendor_id, EddItem.item_id == item_id)
    )


def product_for_item_name(vendor_id: uuid.UUID, name: str) -> Product | None:
    """Return the vendor's product answering for an item name (mapped or its own)."""
    key = name_key(name)
    if not key:
        return None
    mapped = db.session.scalar(
        select(Product)
        .join(EddItem, EddItem.product_id == Product.id)
        .where(EddItem.vendor_id == vendor_id, EddItem.name_key == key)
    )
    if mapped is not None:
        return mapped
    for product in db.session.scalars(
        select(Product).where(Product.vendor_id == vendor_id)
    ):
        if sanitize_title(product.name) == key:
            return product
    return None


def name_key(name: str) -> str:
    """Return an item name as EDD compares it: ``sanitize_title(urldecode(name))``."""
    return sanitize_title(unquote_plus(name))


def name_matches(product: Product, name: str) -> bool:
    """Return whether ``name`` names ``product`` the way EDD compares names."""
    key = name_key(name)
    if not key:
        return False
    if sanitize_title(product.name) == key:
        return True
    found = db.session.scalar(
        select(EddItem.id).where(
            EddItem.product_id == product.id, EddItem.name_key == key
        )
    )
    return found is not None


def get_mapping(*, vendor_id: uuid.UUID, product_id: uuid.UUID) -> Mapping:
    """Return the EDD items a product of the vendor answers for."""
    return _mapping(get_product(vendor_id=vendor_id, product_id=product_id))


def _mapping(product: Product) -> Mapping:
    rows = db.session.scalars(
        select(EddItem)
        .where(EddItem.product_id == product.id)
        .order_by(EddItem.created_at, EddItem.id)
    ).all()
    return Mapping(
        product=product.slug,
        item_ids=sorted(row.item_id for row in rows if row.item_id is not None),
        item_names=[row.item_name for row in rows if row.item_name is not None],
    )


def add_rows(
    product: Product, item_ids: list[int], item_names: list[str], now: datetime
) -> tuple[list[int], list[str]]:
    """Add mapping rows that do not exist yet (caller's transaction); return them."""
    current = _mapping(product)
    keys = {sanitize_title(name) for name in current.item_names}
    new_ids = [i for i in dict.fromkeys(item_ids) if i not in current.item_ids]
    new_names = []
    for name in dict.fromkeys(item_names):
        key = sanitize_title(name)
        if key and key not in keys:
            keys.add(key)
            new_names.append(name)
    rows = [_row(product, item_id=item_id, now=now) for item_id in new_ids]
    rows += [_row(product, item_name=name, now=now) for name in new_names]
    db.session.add_all(rows)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise EddItemTaken() from exc
    return new_ids, new_names


def _row(
    product: Product,
    *,
    item_id: int | None = None,
    item_name: str | None = None,
    now: datetime,
) -> EddItem:
    return EddItem(
        id=uuid.uuid4(),
        vendor_id=product.vendor_id,
        product_id=product.id,
        item_id=item_id,
        item_name=item_name,
        name_key=sanitize_title(item_name) if item_name is not None else None,
        created_at=now,
    )


def set_mapping(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    product_id: uuid.UUID,
    item_ids: list[int],
    item_names: list[str],
    actor: str,
    now: datetime,
) -> Mapping:
    """Replace the EDD items a product answers for; record the change."""
    product = get_product(vendor_id=vendor_id, product_id=product_id)
    for name in item_names:
        if not sanitize_title(name):
            raise errors.ValidationFailed(
                detail={"fields": {"item_names": [f"{name!r} names nothing."]}}
            )
    before = _mapping(product)
    db.session.execute(delete(EddItem).where(EddItem.product_id == product.id))
    add_rows(product, item_ids, item_names, now)
    after = _mapping(product)
    common.record_change(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="product.edd_items_set",
        subject_type="product",
        subject_id=product.id,
        before={"item_ids": before.item_ids, "item_names": before.item_names},
        after={"item_ids": after.item_ids, "item_names": after.item_names},
        now=now,
    )
    db.session.commit()
    return after


def store_offset(vendor_id: uuid.UUID, moment: datetime) -> int:
    """Return the vendor's EDD store's UTC offset at ``moment``, in seconds."""
    store = db.session.get(EddStore, vendor_id)
    if store is None:
        return 0
    if store.timezone:
        try:
            offset = moment.astimezone(ZoneInfo(store.timezone)).utcoffset()
        except (ZoneInfoNotFoundError, ValueError):
            offset = None
        if offset is not None:
            return int(offset.total_seconds())
    return store.gmt_offset_minutes * 60
