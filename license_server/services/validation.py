"""Validation: result codes checked in the protocol's order, and the signed answer.

The validate path is the hot path (every theme install re-checks), so it costs one
indexed query and no write:

- the license, the live activation of the domain and the count of seats taken are
  one ``SELECT`` (by the unique ``key_hash`` and the partial unique index on live
  activations), read fresh on every request: a revocation, a suspension, a
  deactivation or a new activation counts at once, in every process;
- the product's settings and which key signs for the vendor come from per-process
  caches that are at most ``CACHE_TTL`` seconds stale in other processes and
  cleared at once in the process that commits the change (:mod:`license_server.cache`);
- the private key is opened once per process (:class:`SignerCache`);
- last-seen times are written in batches (:mod:`license_server.lastseen`).

Activation (:mod:`license_server.services.activations`) shares :func:`decide` and
:func:`sign`, with the license as an ORM object, inside its own transaction.
"""

from __future__ import annotations

import atexit
import enum
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Connection, and_, bindparam, func, select, update
from sqlalchemy.orm import aliased

from license_server import cache, domains
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.lastseen import LastSeenBuffer
from license_server.models import (
    Activation,
    ExpiryPolicy,
    License,
    LicenseStatus,
    Product,
    SigningKey,
    SigningKeyStatus,
    Vendor,
)
from license_server.services import common, products
from license_server.signing import SignerCache, issue_token
from license_server.usage import UsageBuffer


class ResultCode(enum.StrEnum):
    """Result codes (PROTOCOL §4), in the order they are checked."""

    NOT_FOUND = "NOT_FOUND"
    PRODUCT_MISMATCH = "PRODUCT_MISMATCH"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    DOMAIN_NOT_ACTIVATED = "DOMAIN_NOT_ACTIVATED"
    VALID = "VALID"
    ACTIVATION_LIMIT_REACHED = "ACTIVATION_LIMIT_REACHED"


DETAILS = {
    ResultCode.NOT_FOUND: "No license with this key exists for this product's vendor.",
    ResultCode.PRODUCT_MISMATCH: "This license key belongs to another product.",
    ResultCode.REVOKED: "This license has been revoked.",
    ResultCode.SUSPENDED: "This license is suspended.",
    ResultCode.EXPIRED: "This license has expired.",
    ResultCode.DOMAIN_NOT_ACTIVATED: "This domain is not activated for this license.",
    ResultCode.VALID: "The license is valid for this domain.",
    ResultCode.ACTIVATION_LIMIT_REACHED: (
        "Every domain this license allows is taken; deactivate one first."
    ),
}
# codes whose token describes no license to this product (README: no ``lic``)
_NO_LICENSE_CLAIM = frozenset({ResultCode.NOT_FOUND, ResultCode.PRODUCT_MISMATCH})


@dataclass(frozen=True)
class ProductInfo:
    """A product's settings as the public endpoints need them (a cached snapshot)."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    slug: str
    name: str
    key_prefix: str
    max_domains: int
    max_dev_domains: int | None
    token_ttl: int
    grace_period: int
    expiry_policy: str
    dev_patterns: tuple[str, ...]
    archived_at: datetime | None
    issuer: str


@dataclass(frozen=True)
class LicenseState:
    """A license as the validate query reads it, with the domain's activation."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    product_id: uuid.UUID
    status: str
    max_domains: int | None
    expires_at: datetime | None
    updates_until: datetime | None
    active_domains: int
    activation_id: uuid.UUID | None
    last_seen_at: datetime | None


@dataclass(frozen=True)
class SignerRef:
    """The key that signs a vendor's tokens: its kid and sealed private half."""

    kid: str
    sealed: bytes


@dataclass
class Answer:
    """A decision about one (license, product, domain), with its signed token.

    ``license`` is the ORM license on the activation path; the validate path
    leaves it None and carries what it read in ``state``.
    """

    code: ResultCode
    domain: str
    product: ProductInfo
    license: License | None
    nonce: str | None
    now: datetime
    token: str = ""
    lic: dict[str, Any] | None = None
    activation_id: uuid.UUID | None = None
    state: LicenseState | None = field(default=None, repr=False)

    @property
    def valid(self) -> bool:
        """Return whether the answer grants use on this domain."""
        return self.code is ResultCode.VALID

    def body(self) -> dict[str, Any]:
        """Return the public answer body (PROTOCOL §2)."""
        body: dict[str, Any] = {
            "valid": self.valid,
            "code": str(self.code),
            "detail": DETAILS[self.code],
            "license": self.lic,
            "domain": self.domain,
            "nonce": self.nonce,
            "ts": _iso(self.now),
            "token": self.token,
        }
        if self.activation_id is not None:
            body["activation_id"] = str(self.activation_id)
        return body


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


# --- per-process state ----------------------------------------------------------


@dataclass
class HotPath:
    """One app's per-process caches and its write buffers (last seen, usage)."""

    products: cache.TTLCache[str, ProductInfo]
    signers: cache.TTLCache[uuid.UUID, SignerRef]
    last_seen: LastSeenBuffer
    usage: UsageBuffer

    def flush_due(self) -> None:
        """Write whichever buffer is due."""
        if self.last_seen.due():
            self.last_seen.flush(db.engine)
        if self.usage.due():
            self.usage.flush()


def hot_path() -> HotPath:
    """Return the current app's hot-path state, creating it on first use."""
    found: HotPath | None = current_app.extensions.get("hot_path")
    if found is None:
        ttl = float(current_app.config.get("CACHE_TTL", 5))
        flush = float(current_app.config.get("LAST_SEEN_FLUSH_INTERVAL", 10))
        found = HotPath(
            products=cache.TTLCache(ttl),
            signers=cache.TTLCache(ttl),
            last_seen=LastSeenBuffer(flush),
            usage=UsageBuffer(float(current_app.config["USAGE_FLUSH_INTERVAL"])),
        )
        cache.install()
        current_app.extensions["hot_path"] = found
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        atexit.register(_flush_at_exit, weakref.ref(app))
    return found


def _flush_at_exit(app_ref: weakref.ref[Flask]) -> None:
    app = app_ref()
    if app is None:
        return
    with app.app_context():
        state: HotPath | None = app.extensions.get("hot_path")
        if state is not None:
            if len(state.last_seen):
                state.last_seen.flush(db.engine)
            state.usage.flush()


@contextmanager
def _reader() -> Iterator[Connection]:
    """A pooled connection for single-statement reads, without BEGIN or ROLLBACK.

    PostgreSQL: autocommit, so psycopg sends no BEGIN and no ROLLBACK around the
    one SELECT. SQLite's driver opens no transaction for a SELECT at all.
    """
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


# --- lookups ----------------------------------------------------------------------

_PRODUCT_FIELDS = (
    "id",
    "vendor_id",
    "slug",
    "name",
    "key_prefix",
    "max_domains",
    "max_dev_domains",
    "token_ttl",
    "grace_period",
    "expiry_policy",
    "dev_patterns",
    "archived_at",
)
_PRODUCT_COLUMNS = (
    *(getattr(Product, name) for name in _PRODUCT_FIELDS),
    Vendor.issuer,
)


def product_info(slug: str, connection: Connection | None = None) -> ProductInfo:
    """Return a product's settings by slug (cached), or 404 ``PRODUCT_NOT_FOUND``.

    A cache miss reads through ``connection``, or the session's when None.
    """
    state = hot_path()
    found = state.products.get(slug)
    if found is not None:
        return found
    connection = connection or db.session.connection()
    row = products.find_public_product(connection, slug, _PRODUCT_COLUMNS)
    fields = dict(zip(_PRODUCT_FIELDS, row, strict=False))
    fields["dev_patterns"] = tuple(fields["dev_patterns"] or ())
    return state.products.put(slug, ProductInfo(**fields, issuer=row[-1]))


_SIGNER_QUERY = (
    select(SigningKey.kid, SigningKey.private_key_sealed)
    .where(
        SigningKey.vendor_id == bindparam("vendor_id"),
        SigningKey.status == SigningKeyStatus.ACTIVE,
    )
    .order_by(SigningKey.created_at.desc())
    .limit(1)
)


def signing_key(
    vendor_id: uuid.UUID, connection: Connection | None = None
) -> SignerRef:
    """Decide which key signs the vendor's tokens now: its newest ACTIVE key.

    This is the one place that decides it. The answer is cached per process for at
    most ``CACHE_TTL`` seconds, and dropped at once when this process commits a
    change to a signing key (rotation, activation, retirement). A cache miss reads
    through ``connection``, or the session's when None.
    """
    state = hot_path()
    found = state.signers.get(vendor_id)
    if found is not None:
        return found
    connection = connection or db.session.connection()
    row = connection.execute(_SIGNER_QUERY, {"vendor_id": vendor_id}).first()
    if row is None:
        raise RuntimeError(f"vendor {vendor_id} has no active signing key")
    return state.signers.put(vendor_id, SignerRef(row[0], row[1]))


_SEATS = aliased(Activation)
_STATE_QUERY = (
    select(
        License.id,
        License.vendor_id,
        License.product_id,
        License.status,
        License.max_domains,
        License.expires_at,
        License.updates_until,
        select(func.count())
        .select_from(_SEATS)
        .where(
            _SEATS.license_id == License.id,
            _SEATS.deactivated_at.is_(None),
            _SEATS.development.is_(False),
        )
        .scalar_subquery(),
        Activation.id,
        Activation.last_seen_at,
    )
    .outerjoin(
        Activation,
        and_(
            Activation.license_id == License.id,
            Activation.domain == bindparam("domain"),
            Activation.deactivated_at.is_(None),
        ),
    )
    .where(License.key_hash == bindparam("key_hash"))
)


def read_state(
    connection: Connection, key_hash: bytes, domain: str
) -> LicenseState | None:
    """Read a license, its seats taken and ``domain``'s activation: one query."""
    row = connection.execute(
        _STATE_QUERY, {"key_hash": key_hash, "domain": domain}
    ).first()
    if row is None:
        return None
    return LicenseState(
        id=row[0],
        vendor_id=row[1],
        product_id=row[2],
        status=row[3],
        max_domains=row[4],
        expires_at=row[5],
        updates_until=row[6],
        active_domains=int(row[7] or 0),
        activation_id=row[8],
        last_seen_at=row[9],
    )


# --- decisions ----------------------------------------------------------------------


def license_state(
    license: License | LicenseState, product: ProductInfo | Product, now: datetime
) -> ResultCode:
    """Check the license itself (PROTOCOL §4 up to EXPIRED); VALID if none applies."""
    if license.product_id != product.id:
        return ResultCode.PRODUCT_MISMATCH
    if license.status == LicenseStatus.REVOKED:
        return ResultCode.REVOKED
    if license.status == LicenseStatus.SUSPENDED:
        return ResultCode.SUSPENDED
    expired = license.expires_at is not None and license.expires_at <= now
    if expired and product.expiry_policy == ExpiryPolicy.RESTRICT:
        return ResultCode.EXPIRED
    return ResultCode.VALID


def decide(
    *,
    keyring: Keyring,
    license_key: str,
    domain: str,
    product: str,
    nonce: str | None,
    now: datetime,
) -> Answer:
    """Parse the request, find the license (ORM), and check it up to EXPIRED.

    Malformed keys and domains are refused before any database work. A key of
    another vendor is NOT_FOUND, exactly as an unknown one is.
    """
    key = common.parse_license_key(license_key)
    site = common.canonical_domain(domain)
    item = product_info(product)
    license = common.license_by_key(keyring, key)
    if license is not None and license.vendor_id != item.vendor_id:
        license = None
    answer = Answer(ResultCode.NOT_FOUND, site, item, license, nonce, now)
    if license is not None:
        answer.code = license_state(license, item, now)
    return answer


def live_activation(license_id: uuid.UUID, domain: str) -> Activation | None:
    """Return the live activation of ``domain`` on a license, if any."""
    return db.session.scalar(
        select(Activation).where(
            Activation.license_id == license_id,
            Activation.domain == domain,
            Activation.deactivated_at.is_(None),
        )
    )


def active_domain_count(license_id: uuid.UUID) -> int:
    """Count the live production (seat-using) activations of a license."""
    count = db.session.scalar(
        select(func.count())
        .select_from(Activation)
        .where(
            Activation.license_id == license_id,
            Activation.deactivated_at.is_(None),
            Activation.development.is_(False),
        )
    )
    return int(count or 0)


def _claim(
    license: License | LicenseState, max_domains: int, active_domains: int
) -> dict[str, Any]:
    return {
        "status": license.status,
        "expires_at": _iso(license.expires_at),
        "updates_until": _iso(license.updates_until),
        "max_domains": max_domains,
        "active_domains": active_domains,
    }


def license_claim(license: License) -> dict[str, Any]:
    """Return the ``lic`` claim: the license's state as a theme needs it."""
    return _claim(license, license.seat_limit, active_domain_count(license.id))


def _state_claim(state: LicenseState, product: ProductInfo) -> dict[str, Any]:
    seats = state.max_domains if state.max_domains is not None else product.max_domains
    return _claim(state, seats, state.active_domains)


def sign(
    answer: Answer, *, signer: SignerCache, key: SignerRef | None = None
) -> Answer:
    """Fill in the ``lic`` claim and the signed token of ``answer``.

    ``key`` is the vendor's signer when the caller has it already; otherwise it is
    looked up (through the session's connection on a cache miss).
    """
    product = answer.product
    key = key or signing_key(product.vendor_id)
    iat = int(answer.now.timestamp())
    claims: dict[str, Any] = {
        "iss": product.issuer,
        "aud": product.slug,
        "dom": answer.domain,
        "valid": answer.valid,
        "code": str(answer.code),
        "iat": iat,
        "exp": iat + product.token_ttl,
        "grace": product.grace_period,
    }
    if answer.code is not ResultCode.NOT_FOUND:
        if answer.state is not None:
            claims["sub"] = str(answer.state.id)
            if answer.code not in _NO_LICENSE_CLAIM:
                answer.lic = _state_claim(answer.state, product)
        elif answer.license is not None:
            claims["sub"] = str(answer.license.id)
            if answer.code not in _NO_LICENSE_CLAIM:
                answer.lic = license_claim(answer.license)
        if answer.lic is not None:
            claims["lic"] = answer.lic
    if answer.nonce is not None:
        claims["nonce"] = answer.nonce
    private = signer.private_key(key.kid, key.sealed)
    answer.token = issue_token(private, key.kid, claims)
    return answer


def touch(activation: Activation, *, now: datetime, interval: int) -> None:
    """Record that a site was seen, at most once per ``interval`` seconds (now)."""
    if now - activation.last_seen_at < timedelta(seconds=interval):
        return
    db.session.execute(
        update(Activation)
        .where(Activation.id == activation.id)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def validate(
    *,
    keyring: Keyring,
    signer: SignerCache,
    license_key: str,
    domain: str,
    product: str,
    nonce: str | None,
    now: datetime,
    last_seen_interval: int = 3600,
) -> Answer:
    """Decide whether a license is valid on a domain, and sign the decision."""
    key = common.parse_license_key(license_key)
    site = common.canonical_domain(domain)
    with _reader() as connection:
        item = product_info(product, connection)
        state = read_state(connection, keyring.license_lookup(key.body), site)
        signer_key = signing_key(item.vendor_id, connection)
    if state is not None and state.vendor_id != item.vendor_id:
        state = None
    answer = Answer(ResultCode.NOT_FOUND, site, item, None, nonce, now, state=state)
    if state is not None:
        answer.code = license_state(state, item, now)
        if answer.code is ResultCode.VALID:
            _seen(answer, state, now=now, interval=last_seen_interval)
    sign(answer, signer=signer, key=signer_key)
    buffers = hot_path()
    buffers.usage.add(item.vendor_id, item.id, now.date())
    buffers.flush_due()
    return answer


def _seen(answer: Answer, state: LicenseState, *, now: datetime, interval: int) -> None:
    if state.activation_id is None:
        answer.code = ResultCode.DOMAIN_NOT_ACTIVATED
        return
    answer.activation_id = state.activation_id
    last = state.last_seen_at
    if last is None or now - last >= timedelta(seconds=interval):
        hot_path().last_seen.add(state.activation_id, now)


def is_development(site: str, product: ProductInfo | Product) -> bool:
    """Return whether ``site`` is a development host for ``product``."""
    patterns: Sequence[str] = product.dev_patterns or ()
    return domains.is_development_host(site, patterns)
