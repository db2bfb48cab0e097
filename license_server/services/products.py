"""Products: a vendor's themes, and the licensing policy of each."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from license_server import domains, errors, keys
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Product, Vendor
from license_server.services import common
from license_server.services.unit import transactional

DEFAULT_TOKEN_TTL = 7 * 24 * 3600
DEFAULT_GRACE_PERIOD = 14 * 24 * 3600
DEFAULT_DEV_DOMAINS = 3
DEFAULT_DEACTIVATIONS = 3  # per license per 24 hours


POLICY_FIELDS = (
    "slug",
    "name",
    "key_prefix",
    "max_domains",
    "max_dev_domains",
    "max_deactivations",
    "token_ttl",
    "grace_period",
    "expiry_policy",
    "dev_patterns",
)


class ProductExists(errors.APIError):
    status_code, code, message = (
        409,
        "PRODUCT_EXISTS",
        "You already have a product with this slug.",
    )


def _field_error(field: str, message: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(detail={"fields": {field: [message]}})


def canonical_patterns(patterns: list[str]) -> list[str]:
    """Canonicalise development-host patterns, answering 422 for a bad one."""
    result: list[str] = []
    for index, pattern in enumerate(patterns):
        try:
            result.append(domains.canonical_dev_pattern(pattern))
        except domains.InvalidDevPattern as exc:
            raise errors.ValidationFailed(
                detail={"fields": {"dev_patterns": {str(index): [str(exc)]}}}
            ) from exc
    return sorted(set(result))


@transactional
def create_product(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    actor: str,
    slug: str,
    name: str,
    key_prefix: str = "",
    max_domains: int = 1,
    max_dev_domains: int | None = DEFAULT_DEV_DOMAINS,
    max_deactivations: int = DEFAULT_DEACTIVATIONS,
    token_ttl: int = DEFAULT_TOKEN_TTL,
    grace_period: int = DEFAULT_GRACE_PERIOD,
    expiry_policy: str = "allow",
    dev_patterns: list[str] | None = None,
    now: datetime,
) -> Product:
    """Create a product for a vendor."""
    try:
        prefix = keys.canonical_prefix(key_prefix or "")
    except keys.InvalidKeyPrefix as exc:
        raise _field_error("key_prefix", str(exc)) from exc
    product = Product(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        slug=slug,
        name=name,
        key_prefix=prefix,
        max_domains=max_domains,
        max_dev_domains=max_dev_domains,
        max_deactivations=max_deactivations,
        token_ttl=token_ttl,
        grace_period=grace_period,
        expiry_policy=expiry_policy,
        dev_patterns=canonical_patterns(dev_patterns or []),
        created_at=now,
        updated_at=now,
    )
    db.session.add(product)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise ProductExists() from exc
    common.record_event(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="product.created",
        subject_type="product",
        subject_id=product.id,
        data={"after": _snapshot(product)},
        now=now,
    )
    return product


def _snapshot(product: Product) -> dict[str, Any]:
    names = POLICY_FIELDS
    return {name: getattr(product, name) for name in names}


def list_products(
    *, vendor_id: uuid.UUID, include_archived: bool = True
) -> list[Product]:
    """List a vendor's products by slug."""
    query = select(Product).where(Product.vendor_id == vendor_id)
    if not include_archived:
        query = query.where(Product.archived_at.is_(None))
    return list(db.session.scalars(query.order_by(Product.slug)))


def get_product(*, vendor_id: uuid.UUID, product_id: uuid.UUID) -> Product:
    """Return one of the vendor's products, or 404."""
    product = db.session.scalar(
        select(Product).where(Product.vendor_id == vendor_id, Product.id == product_id)
    )
    if product is None:
        raise errors.NotFound("No such product.")
    return product


def product_for_vendor(*, vendor_id: uuid.UUID, slug: str) -> Product:
    """Return the vendor's product with this slug, or 404 ``PRODUCT_NOT_FOUND``."""
    product = db.session.scalar(
        select(Product).where(Product.vendor_id == vendor_id, Product.slug == slug)
    )
    if product is None:
        raise errors.ProductNotFound(f"No product with slug {slug!r}.")
    return product


def public_product_query(identifier: str, columns: Sequence[Any]) -> Select[Any]:
    """Return the query resolving a public product identifier to ``columns``.

    ``vendor/product`` names one vendor's product. A bare ``product`` slug, what
    clients sent when slugs were unique server-wide, names the first product that
    took that slug: every existing client keeps reaching its product, and a vendor
    who takes the same slug later cannot capture it (its product is reached as
    ``vendor/product`` only). ``columns`` may include Vendor columns; the query
    yields at most one row.
    """
    vendor_slug, slash, slug = identifier.rpartition("/")
    query = select(*columns).join(Vendor, Vendor.id == Product.vendor_id)
    query = query.where(Product.slug == slug)
    if slash:
        return query.where(Vendor.slug == vendor_slug)
    return query.order_by(Product.created_at, Product.id).limit(1)


@transactional
def update_product(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    product_id: uuid.UUID,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
) -> Product:
    """Change a product's name or licensing policy (its slug is permanent)."""
    product = get_product(vendor_id=vendor_id, product_id=product_id)
    if "key_prefix" in changes:
        try:
            changes["key_prefix"] = keys.canonical_prefix(changes["key_prefix"] or "")
        except keys.InvalidKeyPrefix as exc:
            raise _field_error("key_prefix", str(exc)) from exc
    if "dev_patterns" in changes:
        changes["dev_patterns"] = canonical_patterns(changes["dev_patterns"] or [])
    before = _snapshot(product)
    for name, value in changes.items():
        setattr(product, name, value)
    product.updated_at = now
    after = _snapshot(product)
    _record(keyring, product, actor, "product.updated", before, after, now)
    return product


@transactional
def set_archived(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    product_id: uuid.UUID,
    archived: bool,
    actor: str,
    now: datetime,
) -> Product:
    """Archive a product (it issues no new licenses; existing ones keep working)."""
    product = get_product(vendor_id=vendor_id, product_id=product_id)
    if (product.archived_at is not None) != archived:
        product.archived_at = now if archived else None
        product.updated_at = now
        action = "product.archived" if archived else "product.restored"
        _record(keyring, product, actor, action, {}, {}, now)
    return product


def _record(
    keyring: Keyring,
    product: Product,
    actor: str,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> None:
    common.record_change(
        keyring=keyring,
        vendor_id=product.vendor_id,
        actor=actor,
        action=action,
        subject_type="product",
        subject_id=product.id,
        before=before,
        after=after,
        now=now,
    )
