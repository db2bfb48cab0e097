"""The update path's only contact with validation: the licence decision and the token.

Everything here calls the validation package's public code
(:mod:`license_server.validation` through the app's runtime reader), so an update
check and ``/v1/validate`` decide "licence VALID on this domain" identically and sign
with the same key, claims and rules (``kh``, capped ``exp``/``grace``). When
validation moves again, only this module is re-pointed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import aliased

from license_server import keys
from license_server.models import Activation, License, Product, Release
from license_server.runtime import Runtime
from license_server.services import common
from license_server.signing import OpenKey
from license_server.validation.answers import Answer, key_hash_claim, signed_answer
from license_server.validation.results import (
    DETAILS,
    ResultCode,
    decide,
    license_code,
)
from license_server.validation.state import LicenseState, ProductInfo, SignerRef

__all__ = [
    "DETAILS",
    "LicenceDecision",
    "PackageGrant",
    "ProductInfo",
    "ResultCode",
    "licence_state_for",
    "package_grant",
    "product_info",
    "sign_update",
]


@dataclass(frozen=True)
class LicenceDecision:
    """The validate decision for (key, domain, product), ready to sign."""

    code: ResultCode
    product: ProductInfo
    domain: str
    state: LicenseState | None
    kh: str
    nonce: str | None
    signer: SignerRef
    now: datetime

    @property
    def valid(self) -> bool:
        """Return whether the licence is VALID on this domain."""
        return self.code is ResultCode.VALID

    @property
    def license_id(self) -> uuid.UUID | None:
        """Return the licence's id when the key names one of this vendor's."""
        if self.state is None or self.code is ResultCode.NOT_FOUND:
            return None
        return self.state.id

    @property
    def updates_until(self) -> datetime | None:
        """Return the licence's end of updates (None: forever, or no licence)."""
        return None if self.state is None else self.state.updates_until


def licence_state_for(
    *,
    runtime: Runtime,
    license_key: str,
    domain: str,
    product: str,
    nonce: str | None,
    now: datetime,
    parsed: keys.LicenseKey | None = None,
) -> LicenceDecision:
    """Decide (key, domain, product) exactly as ``/v1/validate`` does; no token yet.

    The same parsing (400 on a malformed key or domain), the same read, the same
    ordered checks, last-seen recorded the same way. Validation *counts* are not
    added: an update check is not a validation. ``parsed`` is ``license_key``
    already parsed.
    """
    key = parsed if parsed is not None else common.parse_license_key(license_key)
    site = common.canonical_domain(domain)
    reader = runtime.reader
    item = reader.product(product)
    signer = reader.signer(item.vendor_id)
    state = reader.state(runtime.keyring.license_lookup(key.body), site)
    code = decide(state, item, now)
    if code is ResultCode.VALID and state is not None and state.activation_id:
        last = state.last_seen_at
        if last is None or now - last >= timedelta(seconds=runtime.last_seen_interval):
            runtime.last_seen.add(state.activation_id, now)
    return LicenceDecision(
        code, item, site, state, key_hash_claim(key.body), nonce, signer, now
    )


@dataclass(frozen=True)
class _UpdateKey(OpenKey):
    """The vendor's opened key, adding the ``upd`` claim to what it signs."""

    upd: Mapping[str, Any] | None = None

    def token(self, claims: Mapping[str, Any]) -> str:
        """Sign the validate claims plus ``upd``: one signature."""
        return super().token({**claims, "upd": self.upd})


def sign_update(
    decision: LicenceDecision, *, runtime: Runtime, upd: dict[str, Any]
) -> Answer:
    """Sign the update answer: validation's own claims and token, plus ``upd``."""
    opened = runtime.signer.open(decision.signer.kid, decision.signer.sealed)
    return signed_answer(
        decision.code,
        product=decision.product,
        domain=decision.domain,
        state=decision.state,
        kh=decision.kh,
        nonce=decision.nonce,
        now=decision.now,
        key=_UpdateKey(opened.kid, opened.private, opened.header, upd),
        activation_id=(
            decision.state.activation_id
            if decision.state is not None and decision.valid
            else None
        ),
    )


def product_info(runtime: Runtime, slug: str) -> ProductInfo:
    """Return a product's cached settings by slug (404 ``PRODUCT_NOT_FOUND``)."""
    return runtime.reader.product(slug)


@dataclass(frozen=True)
class PackageGrant:
    """A release as a download needs it, and the licence decision on the domain."""

    code: ResultCode
    vendor_id: uuid.UUID
    release_id: uuid.UUID
    version: str
    slug: str
    signature: str
    storage_key: str
    sha256: str
    withdrawn: bool  # unpublished or yanked since the URL was made


_LICENCE = aliased(License)
_GRANT_QUERY = (
    select(
        Release.vendor_id,
        Release.version,
        Release.signature,
        Release.storage_key,
        Release.sha256,
        Release.published_at,
        Release.yanked_at,
        Product.slug,
        _LICENCE.id,
        _LICENCE.vendor_id,
        _LICENCE.product_id,
        _LICENCE.status,
        _LICENCE.expires_at,
        Activation.id,
    )
    .join(Product, Product.id == Release.product_id)
    .outerjoin(_LICENCE, _LICENCE.id == bindparam("license_id"))
    .outerjoin(
        Activation,
        and_(
            Activation.license_id == _LICENCE.id,
            Activation.domain == bindparam("domain"),
            Activation.deactivated_at.is_(None),
        ),
    )
    .where(Release.id == bindparam("release_id"))
)


def package_grant(
    *,
    runtime: Runtime,
    release_id: uuid.UUID,
    license_id: uuid.UUID,
    domain: str,
    now: datetime,
) -> PackageGrant | None:
    """Re-decide a licence known by id on a domain, with the release: one query.

    Downloads carry no key, so this reads the licence by id; the decision is
    validation's own (:func:`~license_server.validation.results.decide`). None when
    the release does not exist.
    """
    reader = runtime.reader
    with reader.connection() as connection:
        row = connection.execute(
            _GRANT_QUERY,
            {"release_id": release_id, "license_id": license_id, "domain": domain},
        ).first()
        if row is None:
            return None
        product = reader.product(row[7], connection)
    state = None
    if row[8] is not None:
        state = LicenseState(
            id=row[8],
            vendor_id=row[9],
            product_id=row[10],
            status=row[11],
            max_domains=None,
            expires_at=_utc(row[12]),
            updates_until=None,
            active_domains=0,
            activation_id=row[13],
            last_seen_at=None,
        )
    code = decide(state, product, now) if state else license_code(None, product, now)
    return PackageGrant(
        code=code,
        vendor_id=row[0],
        release_id=release_id,
        version=row[1],
        slug=row[7],
        signature=str(row[2]),
        storage_key=str(row[3]),
        sha256=str(row[4]),
        withdrawn=row[5] is None or row[6] is not None,
    )


def _utc(moment: datetime | None) -> datetime | None:
    from datetime import UTC

    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)  # SQLite keeps no zone: stored as UTC
