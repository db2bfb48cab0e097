"""Activations: take a seat for a domain atomically, free it, list them."""

from __future__ import annotations

import functools
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    Integer,
    Select,
    String,
    Uuid,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from license_server import driver, errors, keys
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Activation, License, Product, UTCDateTime
from license_server.runtime import Runtime
from license_server.services import common, pages
from license_server.services.events import Bump, chain_bumped_by
from license_server.services.unit import transaction, transactional
from license_server.services.validation import is_development
from license_server.signing import OpenKey
from license_server.validation.answers import Answer, key_hash_claim, signed_answer
from license_server.validation.results import ResultCode, license_code
from license_server.validation.state import (
    LicenseState,
    ProductInfo,
    read_state,
    seats_taken,
)

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


_INSERTED = ["id", "vendor_id", "license_id", "domain", "development"]
_INSERTED += ["environment", "created_at", "last_seen_at"]


@functools.cache
def _insert_statement(
    *, development: bool, limited: bool, bump: bool
) -> driver.Prepared:
    """Return the seat-checked insert of one activation, built once per kind.

    Built once and executed with bound values (prepared on PostgreSQL), so an
    activation pays neither the statement's construction nor its compilation again.
    ``bump`` (PostgreSQL): the same statement numbers the activation's event in
    the vendor's chain when it inserted the row (``events.chain_bumped_by``).
    """
    row = select(
        bindparam("id", type_=Uuid),
        bindparam("vendor_id", type_=Uuid),
        bindparam("license_id", type_=Uuid),
        bindparam("domain", type_=String),
        bindparam("development", type_=Boolean),
        bindparam("environment", type_=String),
        bindparam("created_at", type_=UTCDateTime),
        bindparam("last_seen_at", type_=UTCDateTime),
    )
    if limited:
        seats = bindparam("seat_license", type_=Uuid)
        taken = seats_taken(seats, development=development)
        row = row.where(taken < bindparam("limit", type_=Integer))
    statement = insert(Activation).from_select(_INSERTED, row)
    statement = statement.returning(Activation.id)
    if bump:
        return driver.Prepared(chain_bumped_by(statement, "id"))
    return driver.Prepared(statement)


def _insert_if_seat_free(
    *,
    state: LicenseState,
    site: str,
    development: bool,
    environment: str | None,
    limit: int | None,
    now: datetime,
) -> tuple[uuid.UUID | None, Bump | None]:
    """Insert an activation only if the license has a free seat: one atomic statement.

    The seat count and the insert are one ``INSERT ... SELECT ... WHERE count < limit``;
    on PostgreSQL the caller also holds the license row lock, so two transactions
    cannot both see the last free seat, and the statement also bumps the vendor's
    event chain for the activation's event (returned, for the event's append).
    SQLite runs one writer at a time and takes its write lock when this statement
    starts. Returns the new id (None: no seat) and the bump (None: not bumped).
    """
    new_id = uuid.uuid4()
    values: dict[str, Any] = {
        "id": new_id,
        "vendor_id": state.vendor_id,
        "license_id": state.id,
        "domain": site,
        "development": development,
        "environment": environment,
        "created_at": now,
        "last_seen_at": now,
    }
    if limit is not None:
        values.update(seat_license=state.id, limit=limit)
    connection = db.session.connection()
    bumping = connection.dialect.name == "postgresql"
    if bumping:
        values["vendor"] = state.vendor_id
    statement = _insert_statement(
        development=development, limited=limit is not None, bump=bumping
    )
    inserted = statement.first(connection, values)
    if inserted is None or inserted[0] != new_id:
        return None, None
    return new_id, Bump(*inserted[1:]) if bumping else None


_LOCK = driver.Prepared(
    select(License.id)
    .where(License.key_hash == bindparam("key_hash"))
    .with_for_update()
)


def _lock_license(key_hash: bytes) -> None:
    """Lock the license row until commit (PostgreSQL; a no-op on SQLite).

    Taken before the state is read, so that read (a new snapshot) sees every
    activation committed by whoever held the lock before.
    """
    _LOCK.first(db.session.connection(), {"key_hash": key_hash})


@dataclass(frozen=True)
class _Request:
    product: ProductInfo
    site: str
    kh: str
    nonce: str | None
    now: datetime
    key: OpenKey

    def answer(
        self,
        code: ResultCode,
        state: LicenseState | None,
        *,
        activation_id: uuid.UUID | None = None,
        active_domains: int | None = None,
    ) -> Answer:
        return signed_answer(
            code,
            product=self.product,
            domain=self.site,
            state=state,
            kh=self.kh,
            nonce=self.nonce,
            now=self.now,
            key=self.key,
            activation_id=activation_id,
            active_domains=active_domains,
        )


def activate(
    *,
    runtime: Runtime,
    license_key: str,
    domain: str,
    product: str,
    nonce: str | None,
    environment: str | None,
    client_address: str | None,
    now: datetime,
    parsed: keys.LicenseKey | None = None,
) -> tuple[Answer, bool]:
    """Activate ``domain`` on a license; return the answer and whether it is new.

    Re-activating a live domain returns the same activation. A refusal raises
    :class:`ActivationRefused` carrying the signed negative answer; nothing of a
    refused activation is stored. ``parsed`` is ``license_key`` already parsed
    (the fast lane parses it once).
    """
    key = parsed if parsed is not None else common.parse_license_key(license_key)
    site = common.canonical_domain(domain)
    # read before the row lock: a transaction holding the lock never waits for a
    # second pooled connection (on a cache miss) that the lock's waiters hold
    item = runtime.reader.product(product)
    signer = runtime.reader.signer(item.vendor_id)
    opened = runtime.signer.open(signer.kid, signer.sealed)
    request = _Request(item, site, key_hash_claim(key.body), nonce, now, opened)
    key_hash = runtime.keyring.license_lookup(key.body)
    with transaction() as session:
        _lock_license(key_hash)
        state = read_state(session.connection(), key_hash, site)
        code = license_code(state, item, now)
        if state is None or code is not ResultCode.VALID:
            raise ActivationRefused(request.answer(code, state))
        if state.activation_id is not None:
            return _reuse(request, state, runtime=runtime), False
        development = is_development(site, item)
        limit = item.max_dev_domains if development else state.seat_limit(item)
        try:
            new_id, bump = _insert_if_seat_free(
                state=state,
                site=site,
                development=development,
                environment=environment,
                limit=limit,
                now=now,
            )
        except IntegrityError:  # the same domain won a concurrent activation
            session.rollback()
            again = read_state(session.connection(), key_hash, site)
            if again is None or again.activation_id is None:
                raise errors.Conflict(
                    "The activation changed concurrently; retry."
                ) from None
            return _reuse(request, again, runtime=runtime), False
        if new_id is None:
            raise ActivationRefused(
                request.answer(ResultCode.ACTIVATION_LIMIT_REACHED, state)
            )
        common.record_event(
            keyring=runtime.keyring,
            vendor_id=state.vendor_id,
            actor=common.public_actor(runtime.keyring, client_address),
            action="activation.created",
            subject_type="activation",
            subject_id=new_id,
            data={
                "license_id": str(state.id),
                "domain": site,
                "development": development,
            },
            now=now,
            bumped=bump,
        )
        taken = state.active_domains + (0 if development else 1)
        return (
            request.answer(
                ResultCode.VALID, state, activation_id=new_id, active_domains=taken
            ),
            True,
        )


def _reuse(request: _Request, state: LicenseState, *, runtime: Runtime) -> Answer:
    """Answer with the live activation this domain already holds."""
    assert state.activation_id is not None  # noqa: S101 - checked by the caller
    last = state.last_seen_at
    if last is None or request.now - last >= timedelta(
        seconds=runtime.last_seen_interval
    ):
        runtime.last_seen.add(state.activation_id, request.now)
    return request.answer(ResultCode.VALID, state, activation_id=state.activation_id)


class NoSuchActivation(errors.APIError):
    status_code, code, message = (
        404,
        "NOT_FOUND",
        "No live activation of this domain with this license key.",
    )


class DeactivationLimitReached(errors.APIError):
    status_code, code, message = (
        429,
        "DEACTIVATION_LIMIT_REACHED",
        "This license has moved between domains too often; try again later.",
    )


DEACTIVATION_WINDOW = timedelta(hours=24)


def live_activation(license_id: uuid.UUID, domain: str) -> Activation | None:
    """Return the live activation of ``domain`` on a license, if any."""
    return db.session.scalar(
        select(Activation).where(
            Activation.license_id == license_id,
            Activation.domain == domain,
            Activation.deactivated_at.is_(None),
        )
    )


@transactional
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
    key_hash = keyring.license_lookup(key.body)
    _lock_license(key_hash)  # two deactivations cannot both take the last one
    license = common.license_by_key(keyring, key)
    activation = None if license is None else live_activation(license.id, site)
    if license is None or activation is None:
        # One answer for an unknown key and a known key without this domain: the
        # request names no product, so another answer would tell anyone that a key
        # exists, of any vendor (validate says so only for the product's vendor).
        raise NoSuchActivation()
    end_within_limit(license, activation, now=now)
    _record_deactivation(
        activation, keyring, common.public_actor(keyring, client_address), now
    )
    return activation


def _recent_deactivations(license_id: uuid.UUID, now: datetime) -> Select[Any]:
    return select(Activation.deactivated_at).where(
        Activation.license_id == license_id,
        Activation.deactivated_at > now - DEACTIVATION_WINDOW,
        Activation.deactivated_by_owner.is_(True),
    )


def end_within_limit(
    license: License, activation: Activation, *, now: datetime
) -> None:
    """End an activation unless the license is past its deactivation limit (429).

    Without a limit one seat serves many sites: activate, validate, deactivate,
    activate the next, and every site keeps a token valid until it expires. The
    public endpoint and the portal's "move" share this count; the vendor's own
    admin deactivations do not count. The count and the update are one statement
    (SQLite's writer lock covers both) under the license row lock (PostgreSQL), so
    concurrent deactivations cannot both take the last one.
    """
    product = db.session.get(Product, license.product_id)
    limit = product.max_deactivations if product is not None else 3
    recent = _recent_deactivations(license.id, now).subquery()
    taken = select(func.count()).select_from(recent).scalar_subquery()
    ended = db.session.execute(
        update(Activation)
        .where(
            Activation.id == activation.id,
            Activation.deactivated_at.is_(None),
            taken < limit,
        )
        .values(deactivated_at=now, deactivated_by_owner=True)
        .returning(Activation.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if ended is not None:
        return
    times = list(
        db.session.scalars(
            _recent_deactivations(license.id, now).order_by(Activation.deactivated_at)
        )
    )
    oldest = times[-limit] if limit and len(times) >= limit else now
    wait = max(1, math.ceil((oldest + DEACTIVATION_WINDOW - now).total_seconds()))
    raise DeactivationLimitReached(
        detail={"limit": limit, "window_seconds": 86400, "retry_after": wait},
        headers={"Retry-After": str(wait)},
    )


@transactional
def deactivate_for_vendor(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    activation_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> Activation:
    """Deactivate one of the vendor's activations (a no-op when already ended)."""
    activation = get_for_vendor(vendor_id=vendor_id, activation_id=activation_id)
    if activation.deactivated_at is None:
        end_activation(
            activation, keyring=keyring, actor=actor, now=now, by_vendor=True
        )
    return activation


def end_activation(
    activation: Activation,
    *,
    keyring: Keyring,
    actor: str,
    now: datetime,
    by_vendor: bool = False,
) -> None:
    """Mark an activation deactivated and record the event (the caller commits).

    ``by_vendor`` marks the vendor's own (admin) deactivations, which do not count
    against the license's deactivation limit.
    """
    activation.deactivated_at = now
    activation.deactivated_by_owner = not by_vendor
    _record_deactivation(activation, keyring, actor, now)


def _record_deactivation(
    activation: Activation, keyring: Keyring, actor: str, now: datetime
) -> None:
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
