"""Envato purchase codes accepted as licence keys (ThemeForest sales).

A product accepts purchase codes for one Envato item once the vendor has saved a
personal token and flagged the product (:func:`set_product`). Then, wherever a key
is accepted, a UUID-shaped value is looked up by its keyed hash among the codes
seen before. The **first** use of a code asks Envato's author sale API
(:mod:`.envato_api`) and, for a sale of that item, creates a licence bound to the
purchase in one transaction: its key *is* the code (sealed, and found by the keyed
hash as every key is), the buyer's name, seats from the licence type (regular or
extended), ``updates_until`` from ``supported_until``. From then on the code is a
key like any other (validation, offline tokens, updates) and Envato is not asked on
the request path again; :func:`recheck_due` re-asks it at most daily from the
worker and revokes the licence of a sale Envato no longer knows (a refund or a
reversal). Envato unreachable, refusing the token or rate-limiting at first use
answers a retryable 503/429 with ``Retry-After``: never VALID without verification.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from license_server import errors, keys
from license_server.channels.envato_api import (
    EnvatoApi,
    EnvatoBusy,
    EnvatoError,
    EnvatoSale,
)
from license_server.channels.errors import EnvatoRateLimited, EnvatoUnavailable
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import License, LicenseStatus, Product
from license_server.models.channels import EnvatoAccount, EnvatoProduct, PurchaseCode
from license_server.services import common, licenses
from license_server.services.unit import transaction, transactional
from license_server.validation.reader import Reader

TOKEN_PURPOSE = "envato-token"  # noqa: S105 - a sealing context, not a secret
CODE_PURPOSE = "purchase-code"
ACTOR = "envato"
RECHECK_ACTOR = "system:envato-recheck"
RECHECK_AFTER = timedelta(days=1)
RECHECK_BATCH = 50


# --- the vendor's settings ----------------------------------------------------------


@transactional
def set_token(
    *, keyring: Keyring, vendor_id: uuid.UUID, token: str, actor: str, now: datetime
) -> EnvatoAccount:
    """Save (or replace) the vendor's Envato personal token, sealed."""
    account = db.session.get(EnvatoAccount, vendor_id)
    if account is None:
        account = EnvatoAccount(vendor_id=vendor_id, created_at=now)
        db.session.add(account)
    account.token_sealed = keyring.seal_channel_secret(
        token, purpose=TOKEN_PURPOSE, row_id=str(vendor_id)
    )
    account.token_hint = token[-4:]
    account.updated_at = now
    common.record_event(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="envato.token_saved",
        subject_type="vendor",
        subject_id=vendor_id,
        data={"token_hint": account.token_hint},
        now=now,
    )
    return account


def get_account(*, vendor_id: uuid.UUID) -> EnvatoAccount:
    """Return the vendor's Envato settings, or 404."""
    account = db.session.get(EnvatoAccount, vendor_id)
    if account is None:
        raise errors.NotFound("No Envato personal token is saved.")
    return account


@transactional
def delete_token(
    *, keyring: Keyring, vendor_id: uuid.UUID, actor: str, now: datetime
) -> None:
    """Forget the vendor's token (first uses of new codes then answer 503)."""
    db.session.delete(get_account(vendor_id=vendor_id))
    common.record_event(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="envato.token_deleted",
        subject_type="vendor",
        subject_id=vendor_id,
        now=now,
    )


def _own_product(vendor_id: uuid.UUID, product_id: uuid.UUID) -> Product:
    product = db.session.scalar(
        select(Product).where(Product.vendor_id == vendor_id, Product.id == product_id)
    )
    if product is None:
        raise errors.NotFound("No such product.")
    return product


@transactional
def set_product(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    product_id: uuid.UUID,
    item_id: int,
    regular_seats: int = 1,
    extended_seats: int = 1,
    actor: str,
    now: datetime,
) -> EnvatoProduct:
    """Make a product accept purchase codes of one Envato item."""
    product = _own_product(vendor_id, product_id)
    settings = db.session.get(EnvatoProduct, product.id)
    if settings is None:
        settings = EnvatoProduct(
            product_id=product.id, vendor_id=vendor_id, created_at=now
        )
        db.session.add(settings)
    settings.item_id = item_id
    settings.regular_seats = regular_seats
    settings.extended_seats = extended_seats
    settings.updated_at = now
    common.record_event(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="envato.product_set",
        subject_type="product",
        subject_id=product.id,
        data={
            "item_id": item_id,
            "regular_seats": regular_seats,
            "extended_seats": extended_seats,
        },
        now=now,
    )
    return settings


def get_product(*, vendor_id: uuid.UUID, product_id: uuid.UUID) -> EnvatoProduct:
    """Return a product's Envato settings, or 404."""
    settings = db.session.scalar(
        select(EnvatoProduct).where(
            EnvatoProduct.vendor_id == vendor_id, EnvatoProduct.product_id == product_id
        )
    )
    if settings is None:
        raise errors.NotFound("This product does not accept purchase codes.")
    return settings


def list_products(*, vendor_id: uuid.UUID) -> list[EnvatoProduct]:
    """List the vendor's products that accept purchase codes."""
    return list(
        db.session.scalars(
            select(EnvatoProduct)
            .where(EnvatoProduct.vendor_id == vendor_id)
            .order_by(EnvatoProduct.created_at)
        )
    )


@transactional
def delete_product(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    product_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> None:
    """Stop accepting new purchase codes (licences made from codes stay)."""
    db.session.delete(get_product(vendor_id=vendor_id, product_id=product_id))
    common.record_event(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="envato.product_unset",
        subject_type="product",
        subject_id=product_id,
        now=now,
    )


# --- first use ----------------------------------------------------------------------


def admit(
    *,
    keyring: Keyring,
    reader: Reader,
    api: EnvatoApi,
    license_key: str,
    product: str,
    now: datetime,
) -> None:
    """Before a key is looked up: verify a purchase code's first use with Envato.

    Returns at once for anything that is not UUID-shaped. For a code seen before, or
    on a product that takes none, nothing happens (the lookup answers as for any
    key). A first use that Envato confirms for the product's item creates the
    licence; a code Envato does not know is left to answer NOT_FOUND.
    """
    parsed = keys.parse_purchase_code(license_key)
    if parsed is None:
        return
    code = parsed.body
    item = reader.product(product)
    digest = keyring.purchase_code_lookup(code)
    try:
        seen = db.session.scalar(
            select(PurchaseCode.id).where(PurchaseCode.code_hash == digest)
        )
        if seen is not None:
            return  # a later use: the stored licence answers (one indexed read)
        settings = db.session.get(EnvatoProduct, item.id)
        if settings is None:
            return  # the product takes no codes: an unknown key
        account = db.session.get(EnvatoAccount, item.vendor_id)
        token = None
        if account is not None:
            token = keyring.open_channel_secret(
                account.token_sealed, purpose=TOKEN_PURPOSE, row_id=str(item.vendor_id)
            )
    finally:
        db.session.rollback()  # no transaction stays open across Envato's answer
    if token is None:
        raise EnvatoUnavailable(
            "The vendor has not connected its Envato account yet; try again later.",
            headers={"Retry-After": "3600"},
        )
    sale = _ask(api, token, code, now)
    if sale is None or sale.item_id != settings.item_id:
        return  # not a sale of this item: the lookup answers NOT_FOUND
    _create(keyring, settings, code, digest, sale, now)


def _ask(api: EnvatoApi, token: str, code: str, now: datetime) -> EnvatoSale | None:
    try:
        return api.sale(token, code, now)
    except EnvatoBusy as busy:
        wait = str(busy.retry_after)
        raise EnvatoRateLimited(
            detail={"retry_after": busy.retry_after}, headers={"Retry-After": wait}
        ) from None
    except EnvatoError as failure:
        wait = str(failure.retry_after)
        raise EnvatoUnavailable(
            detail={"reason": str(failure)}, headers={"Retry-After": wait}
        ) from None


def _create(
    keyring: Keyring,
    settings: EnvatoProduct,
    code: str,
    digest: bytes,
    sale: EnvatoSale,
    now: datetime,
) -> None:
    """Create the licence of a verified purchase (a concurrent first use may win)."""
    try:
        with transaction():
            product = db.session.get_one(Product, settings.product_id)
            seats = settings.extended_seats if sale.extended else settings.regular_seats
            license_id = uuid.uuid4()
            license = License(
                id=license_id,
                vendor_id=settings.vendor_id,
                product_id=product.id,
                key_hash=keyring.license_lookup(code),
                key_sealed=keyring.seal_license_key(
                    code, vendor_id=settings.vendor_id, license_id=license_id
                ),
                key_hint=code[-4:],
                status=LicenseStatus.ACTIVE,
                max_domains=seats,
                updates_until=sale.supported_until,
                customer_name=sale.buyer,
                meta={
                    "channel": "envato",
                    "envato_item": sale.item_id,
                    "envato_license": sale.license,
                },
                created_at=now,
                updated_at=now,
            )
            license.product = product
            db.session.add(license)
            db.session.flush()
            purchase = PurchaseCode(
                id=uuid.uuid4(),
                vendor_id=settings.vendor_id,
                product_id=product.id,
                license_id=license.id,
                code_hash=digest,
                item_id=sale.item_id,
                buyer=sale.buyer,
                license_type=sale.license,
                sold_at=sale.sold_at,
                supported_until=sale.supported_until,
                checked_at=now,
                created_at=now,
            )
            purchase.code_sealed = keyring.seal_channel_secret(
                code, purpose=CODE_PURPOSE, row_id=str(purchase.id)
            )
            db.session.add(purchase)
            db.session.flush()
            common.record_event(
                keyring=keyring,
                vendor_id=settings.vendor_id,
                actor=ACTOR,
                action="license.created",
                subject_type="license",
                subject_id=license.id,
                data={
                    "product": product.slug,
                    "key_hint": license.key_hint,
                    "channel": "envato",
                    "envato_license": sale.license,
                },
                now=now,
            )
    except IntegrityError:
        return  # the same code's first use won in another request: its licence


# --- the daily re-check -------------------------------------------------------------


@dataclass(frozen=True)
class RecheckReport:
    """What one re-check run did, and how long Envato asked us to wait."""

    checked: int = 0
    revoked: int = 0
    retry_after: int | None = None


@dataclass(frozen=True)
class _Due:
    id: uuid.UUID
    vendor_id: uuid.UUID
    license_id: uuid.UUID
    code: str
    token: str | None
    checked_at: datetime


def _claim_due(keyring: Keyring, now: datetime, batch: int) -> list[_Due]:
    """Take the codes due for a re-check (others' claims skipped on PostgreSQL)."""
    with transaction():
        query = (
            select(PurchaseCode)
            .where(
                PurchaseCode.refunded_at.is_(None),
                PurchaseCode.checked_at <= now - RECHECK_AFTER,
            )
            .order_by(PurchaseCode.checked_at)
            .limit(batch)
        )
        if db.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(db.session.scalars(query))
        tokens: dict[uuid.UUID, str | None] = {}
        due = []
        for row in rows:
            if row.vendor_id not in tokens:
                account = db.session.get(EnvatoAccount, row.vendor_id)
                tokens[row.vendor_id] = (
                    None
                    if account is None
                    else keyring.open_channel_secret(
                        account.token_sealed,
                        purpose=TOKEN_PURPOSE,
                        row_id=str(row.vendor_id),
                    )
                )
            code = keyring.open_channel_secret(
                row.code_sealed, purpose=CODE_PURPOSE, row_id=str(row.id)
            )
            due.append(
                _Due(
                    row.id,
                    row.vendor_id,
                    row.license_id,
                    code,
                    tokens[row.vendor_id],
                    row.checked_at,
                )
            )
            row.checked_at = now  # claimed: given back below if Envato cannot answer
    return due


def _give_back(due: list[_Due]) -> None:
    with transaction():
        for item in due:
            row = db.session.get(PurchaseCode, item.id)
            if row is not None:
                row.checked_at = item.checked_at


def _record_answer(
    keyring: Keyring, item: _Due, sale: EnvatoSale | None, now: datetime
) -> bool:
    """Store what Envato said of one code; return whether its licence was revoked."""
    with transaction():
        row = db.session.get(PurchaseCode, item.id)
        license = db.session.get(License, item.license_id)
        if row is None or license is None:
            return False
        if sale is not None:
            row.supported_until = sale.supported_until
            if sale.supported_until and sale.supported_until != license.updates_until:
                licenses.update_license(
                    keyring=keyring,
                    vendor_id=item.vendor_id,
                    license_id=license.id,
                    changes={"updates_until": sale.supported_until},
                    actor=RECHECK_ACTOR,
                    now=now,
                )
            return False
        row.refunded_at = now
        if license.status == LicenseStatus.REVOKED:
            return False
        licenses.change_status(
            keyring=keyring,
            vendor_id=item.vendor_id,
            license_id=license.id,
            change="revoke",
            actor=RECHECK_ACTOR,
            now=now,
        )
        return True


def recheck_due(
    *, keyring: Keyring, api: EnvatoApi, now: datetime, batch: int = RECHECK_BATCH
) -> RecheckReport:
    """Re-ask Envato about codes last checked a day ago; revoke refunded sales."""
    due = _claim_due(keyring, now, batch)
    checked = revoked = 0
    for index, item in enumerate(due):
        if item.token is None:
            continue  # no token any more: the claim keeps it from being asked daily
        try:
            sale = api.sale(item.token, item.code, now)
        except EnvatoError as failure:
            _give_back(due[index:])
            return RecheckReport(checked, revoked, failure.retry_after)
        checked += 1
        revoked += _record_answer(keyring, item, sale, now)
    return RecheckReport(checked, revoked)
