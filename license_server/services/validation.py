"""Validation: result codes checked in the protocol's order, and the signed answer."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from license_server import domains
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import (
    Activation,
    ExpiryPolicy,
    License,
    LicenseStatus,
    Product,
    SigningKey,
    SigningKeyStatus,
)
from license_server.services import common
from license_server.signing import SignerCache, issue_token


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


@dataclass
class Answer:
    """A decision about one (license, product, domain), with its signed token."""

    code: ResultCode
    domain: str
    product: Product
    license: License | None
    nonce: str | None
    now: datetime
    token: str = ""
    lic: dict[str, Any] | None = None
    activation_id: uuid.UUID | None = None

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


def license_state(license: License, product: Product, now: datetime) -> ResultCode:
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
    """Parse the request, find the license, and check it up to EXPIRED.

    Malformed keys and domains are refused before any database work. A key of
    another vendor is NOT_FOUND, exactly as an unknown one is.
    """
    key = common.parse_license_key(license_key)
    site = common.canonical_domain(domain)
    item = common.product_by_slug(product)
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


def license_claim(license: License) -> dict[str, Any]:
    """Return the ``lic`` claim: the license's state as a theme needs it."""
    return {
        "status": license.status,
        "expires_at": _iso(license.expires_at),
        "updates_until": _iso(license.updates_until),
        "max_domains": license.seat_limit,
        "active_domains": active_domain_count(license.id),
    }


def sign(answer: Answer, *, signer: SignerCache) -> Answer:
    """Fill in the ``lic`` claim and the signed token of ``answer``."""
    product = answer.product
    key = db.session.scalar(
        select(SigningKey)
        .where(
            SigningKey.vendor_id == product.vendor_id,
            SigningKey.status == SigningKeyStatus.ACTIVE,
        )
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    )
    if key is None:
        raise RuntimeError(f"vendor {product.vendor_id} has no active signing key")
    iat = int(answer.now.timestamp())
    claims: dict[str, Any] = {
        "iss": product.vendor.issuer,
        "aud": product.slug,
        "dom": answer.domain,
        "valid": answer.valid,
        "code": str(answer.code),
        "iat": iat,
        "exp": iat + product.token_ttl,
        "grace": product.grace_period,
    }
    if answer.license is not None and answer.code is not ResultCode.NOT_FOUND:
        answer.lic = license_claim(answer.license)
        claims["sub"] = str(answer.license.id)
        claims["lic"] = answer.lic
    if answer.nonce is not None:
        claims["nonce"] = answer.nonce
    private = signer.private_key(key.kid, key.private_key_sealed)
    answer.token = issue_token(private, key.kid, claims)
    return answer


def touch(activation: Activation, *, now: datetime, interval: int) -> None:
    """Record that a site was seen, at most once per ``interval`` seconds."""
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
    answer = decide(
        keyring=keyring,
        license_key=license_key,
        domain=domain,
        product=product,
        nonce=nonce,
        now=now,
    )
    if answer.license is not None and answer.code is ResultCode.VALID:
        activation = live_activation(answer.license.id, answer.domain)
        if activation is None:
            answer.code = ResultCode.DOMAIN_NOT_ACTIVATED
        else:
            answer.activation_id = activation.id
            touch(activation, now=now, interval=last_seen_interval)
    sign(answer, signer=signer)
    db.session.commit()
    return answer


def is_development(site: str, product: Product) -> bool:
    """Return whether ``site`` is a development host for ``product``."""
    return domains.is_development_host(site, product.dev_patterns or ())
