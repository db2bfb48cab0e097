"""Activations: take a seat for a domain atomically, free it, list them."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import Boolean, String, Uuid, func, insert, literal, select
from sqlalchemy.exc import IntegrityError

from license_server import errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Activation, License, Product, UTCDateTime
from license_server.services import common, pages
from license_server.services.validation import (
    Answer,
    ResultCode,
    decide,
    is_development,
    live_activation,
    sign,
    touch,
)
from license_server.signing import SignerCache

_REFUSAL_STATUS = {
    ResultCode.NOT_FOUND: 404,
    ResultCode.PRODUCT_MISMATCH: 409,
    ResultCode.REVOKED: 403,
    ResultCode.SUSPENDED: 403,
    ResultCode.EXPIRED: 403,
    ResultCode.ACTIVATION_LIMIT_REACHED: 409,
}


class ActivationRefused(errors.APIError):
    """An activation the license does not allow; carries the signed negative answer."""

    status_code: ClassVar[int] = 409
    code: ClassVar[str] = "ACTIVATION_LIMIT_REACHED"

    def __init__(self, answer: Answer) -> None:
        body = answer.body()
        super().__init__(
            body.pop("detail"),
            detail={
                name: body.pop(name) for name in ("license", "domain", "nonce", "ts")
            },
            extra=body,
        )
        self.status_code = _REFUSAL_STATUS[answer.code]  # type: ignore[misc]
        self.code = str(answer.code)  # type: ignore[misc]


def _insert_if_seat_free(
    *,
    license: License,
    site: str,
    development: bool,
    environment: str | None,
    limit: int | None,
    now: datetime,
) -> uuid.UUID | None:
    """Insert an activation only if the license has a free seat: one atomic statement.

    The seat count and the insert are one ``INSERT ... SELECT ... WHERE count < limit``;
    on PostgreSQL the caller also holds the license row lock, so two transactions
    cannot both see the last free seat. SQLite runs one writer at a time and takes
    its write lock when this statement starts.
    """
    new_id = uuid.uuid4()
    row = select(
        literal(new_id, Uuid),
        literal(license.vendor_id, Uuid),
        literal(license.id, Uuid),
        literal(site, String),
        literal(development, Boolean),
        literal(environment, String),
        literal(now, UTCDateTime),
        literal(now, UTCDateTime),
    )
    if limit is not None:
        taken = (
            select(func.count())
            .select_from(Activation)
            .where(
                Activation.license_id == license.id,
                Activation.deactivated_at.is_(None),
                Activation.development.is_(development),
            )
            .scalar_subquery()
        )
        row = row.where(taken < limit)
    columns = ["id", "vendor_id", "license_id", "domain", "development"]
    columns += ["environment", "created_at", "last_seen_at"]
    statement = insert(Activation).from_select(columns, row)
    inserted = db.session.scalar(statement.returning(Activation.id))
    return new_id if inserted == new_id else None


def _lock_license(license_id: uuid.UUID) -> None:
    """Lock the license row until commit (PostgreSQL; a no-op on SQLite)."""
    db.session.execute(
        select(License.id).where(License.id == license_id).with_for_update()
    )


def _reuse(
    answer: Answer, activation: Activation | None, *, now: datetime, interval: int
) -> tuple[Answer, bool]:
    """Answer with the live activation this domain already holds."""
    if activation is None:
        raise errors.Conflict("The activation changed concurrently; retry.")
    answer.activation_id = activation.id
    touch(activation, now=now, interval=interval)
    return answer, False


def activate(
    *,
    keyring: Keyring,
    signer: SignerCache,
    license_key: str,
    domain: str,
    product: str,
    nonce: str | None,
    environment: str | None,
    client_address: str | None,
    now: datetime,
    last_seen_interval: int = 3600,
) -> tuple[Answer, bool]:
    """Activate ``domain`` on a license; return the answer and whether it is new.

    Re-activating a live domain returns the same activation. A refusal raises
    :class:`ActivationRefused` carrying the signed negative answer.
    """
    answer = decide(
        keyring=keyring,
        license_key=license_key,
        domain=domain,
        product=product,
        nonce=nonce,
        now=now,
    )
    license = answer.license
    if license is None or answer.code is not ResultCode.VALID:
        raise ActivationRefused(_signed_refusal(answer, signer))
    existing = live_activation(license.id, answer.domain)
    if existing is not None:
        return _commit(
            _reuse(answer, existing, now=now, interval=last_seen_interval), signer
        )
    development = is_development(answer.domain, answer.product)
    limit = answer.product.max_dev_domains if development else license.seat_limit
    try:
        _lock_license(license.id)
        new_id = _insert_if_seat_free(
            license=license,
            site=answer.domain,
            development=development,
            environment=environment,
            limit=limit,
            now=now,
        )
    except IntegrityError:  # the same domain won a concurrent activation
        db.session.rollback()
        existing = live_activation(license.id, answer.domain)
        return _commit(
            _reuse(answer, existing, now=now, interval=last_seen_interval), signer
        )
    if new_id is None:
        answer.code = ResultCode.ACTIVATION_LIMIT_REACHED
        raise ActivationRefused(_signed_refusal(answer, signer))
    answer.activation_id = new_id
    common.record_event(
        keyring=keyring,
        vendor_id=license.vendor_id,
        actor=common.public_actor(keyring, client_address),
        action="activation.created",
        subject_type="activation",
        subject_id=new_id,
        data={
            "license_id": str(license.id),
            "domain": answer.domain,
            "development": development,
        },
        now=now,
    )
    return _commit((answer, True), signer)


def _commit(result: tuple[Answer, bool], signer: SignerCache) -> tuple[Answer, bool]:
    sign(result[0], signer=signer)
    db.session.commit()
    return result


def _signed_refusal(answer: Answer, signer: SignerCache) -> Answer:
    sign(answer, signer=signer)
    db.session.rollback()
    return answer


def deactivate(
    *,
    keyring: Keyring,
    license_key: str,
    domain: str,
    client_address: str | None,
    now: datetime,
) -> Activation:
    """Free the seat ``domain`` holds on a license, at once."""
    key = common.parse_license_key(license_key)
    site = common.canonical_domain(domain)
    license = common.license_by_key(keyring, key)
    activation = None if license is None else live_activation(license.id, site)
    if license is None or activation is None:
        # One answer for an unknown key and a known key without this domain: the
        # request names no product, so another answer would tell anyone that a key
        # exists, of any vendor (validate says so only for the product's vendor).
        raise NoSuchActivation()
    _lock_license(license.id)
    check_deactivation_allowed(license, now=now)
    end_activation(
        activation,
        keyring=keyring,
        actor=common.public_actor(keyring, client_address),
        now=now,
    )
    return activation


DEACTIVATION_WINDOW = timedelta(hours=24)


class DeactivationLimitReached(errors.APIError):
    status_code, code, message = (
        429,
        "DEACTIVATION_LIMIT_REACHED",
        "This license has moved between domains too often; try again later.",
    )


def check_deactivation_allowed(license: License, *, now: datetime) -> None:
    """Refuse a deactivation past the product's limit per 24 hours (429).

    Without a limit one seat serves many sites: activate, validate, deactivate,
    activate the next, and every site keeps a token valid until it expires. The
    public endpoint and the portal's "move" share this count; the vendor's own
    admin deactivations do not count. The caller holds the license row lock, so
    two concurrent deactivations cannot both take the last one.
    """
    product = db.session.get(Product, license.product_id)
    limit = product.max_deactivations if product is not None else 3
    since = now - DEACTIVATION_WINDOW
    recent: list[datetime] = list(
        db.session.scalars(
            select(Activation.deactivated_at)
            .where(
                Activation.license_id == license.id,
                Activation.deactivated_at > since,
                Activation.deactivated_by_owner.is_(True),
            )
            .order_by(Activation.deactivated_at)
        )
    )
    if len(recent) < limit:
        return
    oldest: datetime = recent[len(recent) - limit] if limit else now
    wait = max(1, math.ceil((oldest + DEACTIVATION_WINDOW - now).total_seconds()))
    raise DeactivationLimitReached(
        detail={"limit": limit, "window_seconds": 86400, "retry_after": wait},
        headers={"Retry-After": str(wait)},
    )


class NoSuchActivation(errors.APIError):
    status_code, code, message = (
        404,
        "NOT_FOUND",
        "No live activation of this domain with this license key.",
    )


def end_activation(
    activation: Activation,
    *,
    keyring: Keyring,
    actor: str,
    now: datetime,
    by_vendor: bool = False,
) -> None:
    """Mark an activation deactivated, record the event and commit.

    ``by_vendor`` marks the vendor's own (admin) deactivations, which do not count
    against the license's deactivation limit.
    """
    activation.deactivated_at = now
    activation.deactivated_by_owner = not by_vendor
    common.record_event(
        keyring=keyring,
        vendor_id=activation.vendor_id,
        actor=actor,
        action="activation.deactivated",
        subject_type="activation",
        subject_id=activation.id,
        data={"license_id": str(activation.license_id), "domain": activation.domain},
        now=now,
    )
    db.session.commit()


def get_for_vendor(*, vendor_id: uuid.UUID, activation_id: uuid.UUID) -> Activation:
    """Return one of the vendor's activations, or 404."""
    activation = db.session.scalar(
        select(Activation).where(
            Activation.vendor_id == vendor_id, Activation.id == activation_id
        )
    )
    if activation is None:
        raise errors.NotFound("No such activation.")
    return activation


def list_for_vendor(
    *,
    vendor_id: uuid.UUID,
    license_id: uuid.UUID | None = None,
    domain: str | None = None,
    development: bool | None = None,
    active: bool | None = None,
    cursor: str | None = None,
    limit: int = pages.MAX_LIMIT,
) -> pages.Page[Activation]:
    """List the vendor's activations with filters, newest first, one page."""
    query = select(Activation).where(Activation.vendor_id == vendor_id)
    if license_id is not None:
        query = query.where(Activation.license_id == license_id)
    if domain is not None:
        query = query.where(Activation.domain == common.canonical_domain(domain))
    if development is not None:
        query = query.where(Activation.development.is_(development))
    if active is True:
        query = query.where(Activation.deactivated_at.is_(None))
    elif active is False:
        query = query.where(Activation.deactivated_at.is_not(None))
    return pages.paginate(
        query,
        columns=[Activation.created_at, Activation.id],
        parse=[pages.cursor_moment, pages.cursor_id],
        key=lambda row: [row.created_at.isoformat(), str(row.id)],
        cursor=cursor,
        limit=limit,
    )
