"""Licenses: issue keys (one or many), find, update, renew, re-key, change status."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from sqlalchemy import Select, Table, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class

from license_server import errors, keys
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Activation, License, LicenseStatus, Product
from license_server.services import bulk, common, events, pages
from license_server.services.products import product_for_vendor
from license_server.services.unit import transactional

MAX_BATCH = 1000
# status change -> (states it may start from, resulting state)
TRANSITIONS = {
    "suspend": ({LicenseStatus.ACTIVE}, LicenseStatus.SUSPENDED),
    "reinstate": ({LicenseStatus.SUSPENDED}, LicenseStatus.ACTIVE),
    "revoke": ({LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED}, LicenseStatus.REVOKED),
}
UPDATABLE = (
    "max_domains",
    "expires_at",
    "updates_until",
    "customer_email",
    "customer_name",
    "notes",
    "meta",
)


class ProductArchived(errors.APIError):
    status_code, code, message = (
        409,
        "PRODUCT_ARCHIVED",
        "This product is archived and issues no new licenses.",
    )


class InvalidTransition(errors.APIError):
    status_code, code, message = (
        409,
        "INVALID_STATUS_TRANSITION",
        "The license cannot make this status change.",
    )


@dataclass(frozen=True)
class LicenseFilter:
    """What a license listing may be narrowed by; every given filter applies."""

    product: str | None = None
    status: str | None = None
    customer_email: str | None = None
    domain: str | None = None
    expires_before: datetime | None = None
    expires_after: datetime | None = None
    key: str | None = None
    customer_name: str | None = None


def search_filter(text: str, **narrowing: Any) -> LicenseFilter:
    """Read one search box: a full key, an e-mail, a domain, else a customer name."""
    text = text.strip()
    if not text:
        return LicenseFilter(**narrowing)
    try:
        keys.parse_key(text)
    except keys.InvalidKeyFormat:
        pass
    else:
        return LicenseFilter(key=text, **narrowing)
    if "@" in text:
        return LicenseFilter(customer_email=text, **narrowing)
    if "." in text and " " not in text:
        try:
            common.canonical_domain(text)
        except errors.InvalidDomain:
            pass
        else:
            return LicenseFilter(domain=text, **narrowing)
    return LicenseFilter(customer_name=text, **narrowing)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def snapshot(license: License, names: tuple[str, ...] = UPDATABLE) -> dict[str, Any]:
    """Return the named fields of a license as JSON-ready values (for events)."""
    return {name: _plain(getattr(license, name)) for name in names}


_COLUMNS = (
    "max_domains",
    "expires_at",
    "updates_until",
    "customer_email",
    "customer_name",
    "notes",
)
_LICENSES = cast("Table", License.__table__)
# the row each license is: what differs per license first, then what the batch shares
_OWN = ("id", "key_hash", "key_sealed", "key_hint")
_SHARED = ("vendor_id", "product_id", "status", "created_at", "updated_at", *_COLUMNS)
_ROW = (*_OWN, *_SHARED, "metadata")
_MANAGER = manager_of_class(License)


def _issue(
    keyring: Keyring,
    vendor_id: uuid.UUID,
    item: Product,
    fields: dict[str, Any],
    count: int,
    now: datetime,
) -> list[tuple[License, str]]:
    """Insert ``count`` licenses as Core rows; return them as persistent objects.

    Each row's id is chosen before its key is sealed (the ciphertext is bound to
    the row). The rows go out in one statement (:mod:`services.bulk`: COPY on
    PostgreSQL); each row's object is made persistent in the session without a
    flush (``make_transient_to_detached``) while the next rows are sent, so callers
    and the webhook outbox read them from the identity map, and a later change to
    one is an UPDATE as for any loaded license.
    """
    meta = fields.pop("meta", None) or {}
    common_values = {name: fields.pop(name, None) for name in _COLUMNS}
    if fields:  # every caller passes schema-loaded fields: a stray one is a bug
        raise TypeError(f"unexpected license fields: {sorted(fields)}")
    shared_values = {
        "vendor_id": vendor_id,
        "product_id": item.id,
        "status": LicenseStatus.ACTIVE,
        "created_at": now,
        "updated_at": now,
        **common_values,
    }
    shared = tuple(shared_values[name] for name in _SHARED)
    loaded = {**shared_values, "product": item}  # each object's attributes but its own
    made: list[tuple[License, str]] = []
    session = db.session()
    lookup, seal = keyring.license_lookup, keyring.seal_license_key

    def rows() -> Iterator[tuple[Any, ...]]:
        # a generator: on PostgreSQL the server stores the first rows while the
        # rest are sealed and their objects built
        for key in keys.generate_keys(item.key_prefix, count):
            license_id = uuid.uuid4()
            text = str(key)
            body = key.body
            hashed = lookup(body)
            sealed = seal(text, vendor_id=vendor_id, license_id=license_id)
            yield (license_id, hashed, sealed, body[-4:], *shared, meta)
            # as the ORM builds a loaded row (no constructor, no change tracking):
            # every column's value is set, so nothing is left to load or to flush
            license = _MANAGER.new_instance()
            attributes = license.__dict__
            attributes.update(loaded)
            attributes["id"], attributes["key_hash"] = license_id, hashed
            attributes["key_sealed"], attributes["key_hint"] = sealed, body[-4:]
            attributes["meta"] = dict(meta)
            make_transient_to_detached(license)
            session.add(license)  # no SQL: a persistent object joins the map
            made.append((license, text))

    session.flush()  # whatever the caller changed before goes first, as before
    bulk.insert_rows(session.connection(), _LICENSES, _ROW, rows())
    return made


@transactional
def create_licenses(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    actor: str,
    product: str,
    count: int = 1,
    now: datetime,
    **fields: Any,
) -> list[tuple[License, str]]:
    """Issue ``count`` licenses of one product in one transaction.

    One multi-row INSERT of the licenses, then one append of their events (one
    chain update under the vendor's row lock, one INSERT of the events, one of
    their webhooks): the same rows, events and order as ``count`` single issues.
    """
    if not 1 <= count <= MAX_BATCH:
        raise errors.ValidationFailed(
            detail={"fields": {"count": [f"Must be 1 to {MAX_BATCH}."]}}
        )
    item = product_for_vendor(vendor_id=vendor_id, slug=product)
    if item.archived_at is not None:
        raise ProductArchived()
    issued = _issue(keyring, vendor_id, item, dict(fields), count, now)
    events.append(
        keyring=keyring,
        vendor_id=vendor_id,
        events=[
            events.NewEvent(
                actor,
                "license.created",
                "license",
                str(license.id),
                {"product": item.slug, "key_hint": license.key_hint},
            )
            for license, _ in issued
        ],
        now=now,
    )
    return issued


def create_license(**kwargs: Any) -> tuple[License, str]:
    """Issue one license; return it and its key."""
    return create_licenses(count=1, **kwargs)[0]


def _filtered(
    keyring: Keyring, vendor_id: uuid.UUID, where: LicenseFilter
) -> Select[Any]:
    query = select(License).where(License.vendor_id == vendor_id)
    if where.product is not None:
        item = product_for_vendor(vendor_id=vendor_id, slug=where.product)
        query = query.where(License.product_id == item.id)
    if where.status is not None:
        query = query.where(License.status == where.status)
    if where.customer_email is not None:
        query = query.where(License.customer_email == where.customer_email)
    if where.expires_before is not None:
        query = query.where(License.expires_at < where.expires_before)
    if where.expires_after is not None:
        query = query.where(License.expires_at > where.expires_after)
    if where.customer_name is not None:
        pattern = "%" + where.customer_name.replace("%", "").replace("_", "") + "%"
        query = query.where(License.customer_name.ilike(pattern))
    if where.key is not None:
        parsed = common.parse_license_key(where.key)
        query = query.where(License.key_hash == keyring.license_lookup(parsed.body))
    if where.domain is not None:
        live = select(Activation.license_id).where(
            Activation.vendor_id == vendor_id,
            Activation.domain == common.canonical_domain(where.domain),
            Activation.deactivated_at.is_(None),
        )
        query = query.where(License.id.in_(live))
    return query


def list_licenses(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    where: LicenseFilter,
    cursor: str | None = None,
    limit: int = pages.MAX_LIMIT,
) -> pages.Page[License]:
    """List the vendor's licenses matching ``where``, newest first, one page."""
    return pages.paginate(
        _filtered(keyring, vendor_id, where),
        columns=[License.created_at, License.id],
        parse=[pages.cursor_moment, pages.cursor_id],
        key=lambda license: [license.created_at.isoformat(), str(license.id)],
        cursor=cursor,
        limit=limit,
    )


def get_license(*, vendor_id: uuid.UUID, license_id: uuid.UUID) -> License:
    """Return one of the vendor's licenses, or 404."""
    license = db.session.scalar(
        select(License).where(License.vendor_id == vendor_id, License.id == license_id)
    )
    if license is None:
        raise errors.NotFound("No such license.")
    return license


class KeyNotReadable(errors.APIError):
    status_code, code, message = (
        409,
        "KEY_NOT_READABLE",
        "This license's stored key was not sealed for this license; "
        "regenerate the key.",
    )


def reveal_key(*, keyring: Keyring, license: License) -> str:
    """Decrypt a license's key for its vendor (sealed for this very row)."""
    try:
        return keyring.open_license_key(
            license.key_sealed, vendor_id=license.vendor_id, license_id=license.id
        )
    except InvalidTag as exc:  # a ciphertext moved here from another row
        raise KeyNotReadable() from exc


def _record_change(
    license: License,
    *,
    keyring: Keyring,
    action: str,
    actor: str,
    before: dict[str, Any],
    now: datetime,
) -> None:
    license.updated_at = now
    common.record_change(
        keyring=keyring,
        vendor_id=license.vendor_id,
        actor=actor,
        action=action,
        subject_type="license",
        subject_id=license.id,
        before=before,
        after=snapshot(license, tuple(before)),
        now=now,
    )


@transactional
def update_license(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    license_id: uuid.UUID,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
) -> License:
    """Change a license's limits, dates, customer fields, notes or metadata."""
    license = get_license(vendor_id=vendor_id, license_id=license_id)
    names = tuple(name for name in UPDATABLE if name in changes)
    before = snapshot(license, names)
    for name in names:
        setattr(license, name, changes[name])
    _record_change(
        license,
        keyring=keyring,
        action="license.updated",
        actor=actor,
        before=before,
        now=now,
    )
    return license


@transactional
def renew_license(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    license_id: uuid.UUID,
    days: int,
    actor: str,
    now: datetime,
) -> License:
    """Extend ``expires_at`` and ``updates_until`` by ``days`` (from now if past)."""
    license = get_license(vendor_id=vendor_id, license_id=license_id)
    before = snapshot(license, ("expires_at", "updates_until"))
    period = timedelta(days=days)
    if license.expires_at is not None:
        license.expires_at = max(license.expires_at, now) + period
    if license.updates_until is not None:
        license.updates_until = max(license.updates_until, now) + period
    _record_change(
        license,
        keyring=keyring,
        action="license.renewed",
        actor=actor,
        before=before,
        now=now,
    )
    return license


@transactional
def regenerate_key(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    license_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> tuple[License, str]:
    """Give a license a new key; the old one stops working at once."""
    license = get_license(vendor_id=vendor_id, license_id=license_id)
    key = keys.generate_key(license.product.key_prefix)
    before = snapshot(license, ("key_hint",))
    license.key_hash = keyring.license_lookup(key.body)
    license.key_sealed = keyring.seal_license_key(
        str(key), vendor_id=license.vendor_id, license_id=license.id
    )
    license.key_hint = key.body[-4:]
    _record_change(
        license,
        keyring=keyring,
        action="license.key_regenerated",
        actor=actor,
        before=before,
        now=now,
    )
    return license, str(key)


@transactional
def change_status(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    license_id: uuid.UUID,
    change: str,
    actor: str,
    now: datetime,
) -> License:
    """Suspend, reinstate or revoke a license."""
    license = get_license(vendor_id=vendor_id, license_id=license_id)
    allowed_from, target = TRANSITIONS[change]
    if license.status not in allowed_from:
        raise InvalidTransition(
            f"A {license.status} license cannot be {target}.",
            detail={"status": license.status, "change": change},
        )
    before = snapshot(license, ("status",))
    license.status = target
    _record_change(
        license,
        keyring=keyring,
        action=f"license.{change}",
        actor=actor,
        before=before,
        now=now,
    )
    return license
