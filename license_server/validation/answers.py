"""Signed answers: the ``lic`` claim, the token's claims, and the public body.

One builder serves every answer a site trusts (validate, activate, refusals): the
claims come from the same :class:`~.state.LicenseState` row on both paths.

Two rules bound what a token promises:

- ``kh`` binds it to the license key that asked (PROTOCOL §7): the first 16 bytes of
  SHA-256 over the key's canonical body, base64url, so a signed answer for one key
  cannot be replayed to a site holding another;
- under the ``restrict`` expiry policy, ``exp`` never passes the license's expiry and
  ``exp + grace`` never does either: a site offline past the expiry stops being
  valid when the license does, not a grace period later.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from license_server.models import ExpiryPolicy
from license_server.signing import OpenKey
from license_server.validation.results import DETAILS, NO_LICENSE_CLAIM, ResultCode
from license_server.validation.state import LicenseState, ProductInfo


def iso(moment: datetime | None) -> str | None:
    """Format a time as the protocol does (ISO 8601, ``Z``)."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def key_hash_claim(canonical_body: str) -> str:
    """Return the ``kh`` claim for a key's canonical body (PROTOCOL §7)."""
    digest = hashlib.sha256(canonical_body.encode("utf-8")).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def license_claim(
    state: LicenseState, product: ProductInfo, active_domains: int | None = None
) -> dict[str, Any]:
    """Return the ``lic`` claim: the license's state as a theme needs it."""
    return {
        "status": state.status,
        "expires_at": iso(state.expires_at),
        "updates_until": iso(state.updates_until),
        "max_domains": state.seat_limit(product),
        "active_domains": (
            state.active_domains if active_domains is None else active_domains
        ),
    }


def lifetime(
    state: LicenseState | None, product: ProductInfo, iat: int
) -> tuple[int, int]:
    """Return the token's ``exp`` and ``grace``, capped at a restricting expiry."""
    exp, grace = iat + product.token_ttl, product.grace_period
    if (
        state is not None
        and state.expires_at is not None
        and product.expiry_policy == ExpiryPolicy.RESTRICT
    ):
        ends = int(state.expires_at.timestamp())
        exp = max(iat, min(exp, ends))
        grace = max(0, min(grace, ends - exp))
    return exp, grace


@dataclass(frozen=True)
class Answer:
    """A signed decision about one (license, product, domain)."""

    code: ResultCode
    domain: str
    nonce: str | None
    now: datetime
    token: str
    lic: dict[str, Any] | None
    license_id: uuid.UUID | None = None
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
            "ts": iso(self.now),
            "token": self.token,
        }
        if self.activation_id is not None:
            body["activation_id"] = str(self.activation_id)
        return body


def signed_answer(
    code: ResultCode,
    *,
    product: ProductInfo,
    domain: str,
    state: LicenseState | None,
    kh: str,
    nonce: str | None,
    now: datetime,
    key: OpenKey,
    activation_id: uuid.UUID | None = None,
    active_domains: int | None = None,
) -> Answer:
    """Build the claims of an answer, sign them, and return the answer."""
    iat = int(now.timestamp())
    exp, grace = lifetime(state, product, iat)
    claims: dict[str, Any] = {
        "iss": product.issuer,
        "aud": product.slug,
        "dom": domain,
        "valid": code is ResultCode.VALID,
        "code": str(code),
        "iat": iat,
        "exp": exp,
        "grace": grace,
        "kh": kh,
    }
    lic = None
    license_id = None
    if code is not ResultCode.NOT_FOUND and state is not None:
        license_id = state.id
        claims["sub"] = str(state.id)
        if code not in NO_LICENSE_CLAIM:
            lic = claims["lic"] = license_claim(state, product, active_domains)
    if nonce is not None:
        claims["nonce"] = nonce
    return Answer(
        code=code,
        domain=domain,
        nonce=nonce,
        now=now,
        token=key.token(claims),
        lic=lic,
        license_id=license_id,
        activation_id=activation_id,
    )
