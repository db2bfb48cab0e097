"""The update path's only contact with validation: the licence decision and the token.

Everything here calls the validate path's public service code
(:mod:`license_server.services.validation`), so an update check and ``/v1/validate``
decide "licence VALID on this domain" identically and sign with the same key and
claims. When validation moves, only this module is re-pointed.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select
from sqlalchemy.orm import aliased

from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Activation, License, Product, Release
from license_server.services import common, validation
from license_server.signing import SignerCache, issue_token

ResultCode = validation.ResultCode
ProductInfo = validation.ProductInfo
DETAILS = validation.DETAILS


@dataclass
class LicenceDecision:
    """The validate decision for (key, domain, product), ready to sign."""

    answer: validation.Answer
    signer: validation.SignerRef
    license_id: uuid.UUID | None

    @property
    def code(self) -> validation.ResultCode:
        """Return the result code (PROTOCOL §4)."""
        return self.answer.code

    @property
    def valid(self) -> bool:
        """Return whether the licence is VALID on this domain."""
        return self.answer.valid

    @property
    def updates_until(self) -> datetime | None:
        """Return the licence's end of updates (None: forever, or no licence)."""
        state = self.answer.state
        return None if state is None else state.updates_until


def licence_state_for(
    *,
    keyring: Keyring,
    license_key: str,
    domain: str,
    product: str,
    nonce: str | None,
    now: datetime,
    last_seen_interval: int = 3600,
) -> LicenceDecision:
    """Decide (key, domain, product) exactly as ``/v1/validate`` does; no token yet.

    The same parsing (400 on a malformed key or domain), the same one-query read,
    the same ordered checks, and last-seen recorded the same way. Validation
    *counts* are not added: an update check is not a validation.
    """
    key = common.parse_license_key(license_key)
    site = common.canonical_domain(domain)
    with _reader() as connection:
        item = validation.product_info(product, connection)
        state = validation.read_state(
            connection, keyring.license_lookup(key.body), site
        )
        signer = validation.signing_key(item.vendor_id, connection)
    if state is not None and state.vendor_id != item.vendor_id:
        state = None
    answer = validation.Answer(
        ResultCode.NOT_FOUND, site, item, None, nonce, now, state=state
    )
    if state is not None:
        answer.code = validation.license_state(state, item, now)
        if answer.code is ResultCode.VALID:
            if state.activation_id is None:
                answer.code = ResultCode.DOMAIN_NOT_ACTIVATED
            else:
                answer.activation_id = state.activation_id
                last = state.last_seen_at
                if last is None or now - last >= timedelta(seconds=last_seen_interval):
                    validation.hot_path().last_seen.add(state.activation_id, now)
    validation.hot_path().flush_due()  # a server that only sees checks flushes too
    license_id = None if state is None else state.id
    return LicenceDecision(answer, signer, license_id)


@dataclass(frozen=True)
class PackageGrant:
    """A release as a download needs it, and the licence decision on the domain."""

    code: validation.ResultCode
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
    *, release_id: uuid.UUID, license_id: uuid.UUID, domain: str, now: datetime
) -> PackageGrant | None:
    """Re-decide a licence known by id on a domain, with the release: one query.

    Downloads carry no key, so this reads the licence by id; the decision is
    validation's own (:func:`validation.license_state`, then the live activation).
    None when the release does not exist.
    """
    with _reader() as connection:
        row = connection.execute(
            _GRANT_QUERY,
            {"release_id": release_id, "license_id": license_id, "domain": domain},
        ).first()
        if row is None:
            return None
        product = validation.product_info(row[7], connection)
    code = ResultCode.NOT_FOUND
    if row[8] is not None and row[9] == row[0]:
        state = validation.LicenseState(
            id=row[8],
            vendor_id=row[9],
            product_id=row[10],
            status=row[11],
            max_domains=None,
            expires_at=row[12],
            updates_until=None,
            active_domains=0,
            activation_id=row[13],
            last_seen_at=None,
        )
        code = validation.license_state(state, product, now)
        if code is ResultCode.VALID and state.activation_id is None:
            code = ResultCode.DOMAIN_NOT_ACTIVATED
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


@contextmanager
def _reader() -> Iterator[Connection]:
    """A pooled connection for reads without BEGIN/ROLLBACK (as validate reads)."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def product_info(slug: str) -> ProductInfo:
    """Return a product's cached settings by slug (404 ``PRODUCT_NOT_FOUND``)."""
    return validation.product_info(slug)


def sign_update(
    decision: LicenceDecision, *, signer: SignerCache, upd: dict[str, Any]
) -> str:
    """Sign the update answer: the validate token's claims plus ``upd``.

    The validate path builds and signs its claims (so every rule of its token holds
    here too, including claims it adds later); this adds ``upd`` and signs again
    with the same key.
    """
    answer = validation.sign(decision.answer, signer=signer, key=decision.signer)
    payload = answer.token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    claims["upd"] = upd
    key = decision.signer
    return issue_token(signer.private_key(key.kid, key.sealed), key.kid, claims)
