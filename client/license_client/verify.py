"""Verify domain tokens against pinned keys (PROTOCOL §1); every failure raises.

A token is trusted only when: ``alg`` is EdDSA (nothing else, ever); ``typ`` is
``license+jwt``; ``kid`` names a pinned key and the signature verifies under it;
``iss``, ``aud`` and ``dom`` equal the configured issuer, product and canonical
domain; ``nonce`` equals the one sent (fresh answers); ``iat`` is at most
``clock_skew`` seconds ahead of the local clock; and ``now <= exp + grace``.
Failures raise the :class:`~license_client.exceptions.TokenInvalid` subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jwt

from license_client.exceptions import (
    AlgorithmRefused,
    ClaimMismatch,
    KeyUnknown,
    SignatureInvalid,
    TokenExpired,
    TokenFromFuture,
    TokenMalformed,
)
from license_client.pinning import PinnedKeys

if TYPE_CHECKING:
    from jwt.types import Options  # PyJWT >= 2.10; only for the type checker

__all__ = ["ALGORITHM", "TOKEN_TYPE", "LicenseInfo", "TokenClaims", "TokenVerifier"]

ALGORITHM = "EdDSA"
TOKEN_TYPE = "license+jwt"  # noqa: S105 - a JWT typ, not a secret
_MAX_TOKEN = 16 * 1024
_REQUIRED = ["iss", "aud", "dom", "valid", "code", "iat", "exp"]
_OPTIONS: Options = {
    "require": _REQUIRED,
    "verify_exp": False,  # checked below against exp + grace
    "verify_iat": False,  # checked below with the protocol's skew
    "verify_nbf": False,
    "verify_aud": False,  # checked below: exact string equality
    "verify_iss": False,
}


@dataclass(frozen=True, slots=True)
class LicenseInfo:
    """The ``lic`` claim: the license as the server saw it."""

    status: str
    expires_at: str | None
    updates_until: str | None
    max_domains: int | None
    active_domains: int | None


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The claims of a token whose signature and bindings were verified."""

    domain: str
    valid: bool
    code: str
    issued_at: int
    expires_at: int
    grace: int
    nonce: str | None
    subject: str | None
    license: LicenseInfo | None

    @property
    def trusted_until(self) -> int:
        """Return the last second (``exp + grace``) the token may be trusted."""
        return self.expires_at + self.grace


class TokenVerifier:
    """Verify tokens of one issuer, product and domain under pinned keys."""

    def __init__(
        self,
        keys: PinnedKeys,
        *,
        issuer: str,
        audience: str,
        domain: str,
        clock_skew: int = 300,
    ) -> None:
        self._keys = dict(keys)
        self._issuer, self._audience, self._domain = issuer, audience, domain
        self._skew = clock_skew

    def verify(
        self,
        token: str,
        *,
        now: datetime | None,
        nonce: str | None = None,
        key_hash: str | None = None,
    ) -> TokenClaims:
        """Verify ``token``; ``now=None`` skips the time checks. Raise TokenInvalid.

        ``key_hash`` is the ``kh`` of the key this client holds (PROTOCOL §7): a
        token that carries ``kh`` must carry this one (a token without it, from a
        version 1 server, is still accepted).
        """
        claims = self._verified_claims(token)
        parsed = _parse_claims(claims)
        self._check_bindings(claims, nonce)
        if key_hash is not None and "kh" in claims and claims["kh"] != key_hash:
            raise ClaimMismatch("kh", "the answer is about another license key (kh)")
        if now is not None:
            self.check_time(parsed, now.timestamp())
        return parsed

    def check_time(self, claims: TokenClaims, now: float) -> None:
        """Raise unless ``iat - skew <= now <= exp + grace``."""
        if claims.issued_at > now + self._skew:
            raise TokenFromFuture("the token was issued in the future")
        if now > claims.trusted_until:
            raise TokenExpired("the token is past exp + grace")

    def _verified_claims(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN:
            raise TokenMalformed("a token is a non-empty string of bounded length")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenMalformed(f"unreadable token header: {exc}") from None
        if header.get("alg") != ALGORITHM:
            raise AlgorithmRefused(f"alg {header.get('alg')!r} is not {ALGORITHM}")
        if header.get("typ") != TOKEN_TYPE:
            raise ClaimMismatch("typ", f"typ {header.get('typ')!r} is not allowed")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise KeyUnknown(f"kid {kid!r} is not a pinned key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                options=_OPTIONS,
            )
        except jwt.InvalidSignatureError:
            raise SignatureInvalid("the signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise TokenMalformed(f"unreadable token: {exc}") from None
        return claims

    def _check_bindings(self, claims: Mapping[str, Any], nonce: str | None) -> None:
        expected = {"iss": self._issuer, "aud": self._audience, "dom": self._domain}
        for name, value in expected.items():
            if claims.get(name) != value:
                found = claims.get(name)
                raise ClaimMismatch(
                    name, f"{name} {found!r} != {value!r}", value, found
                )
        if nonce is not None and claims.get("nonce") != nonce:
            raise ClaimMismatch("nonce", "the answer is not for this request (nonce)")


def _integer(claims: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = claims.get(name, default)
    if type(value) is not int or value < 0:
        raise TokenMalformed(f"claim {name!r} must be a non-negative integer")
    return value


def _optional_text(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TokenMalformed(f"claim {name!r} must be a string")
    return value


def _parse_claims(claims: Mapping[str, Any]) -> TokenClaims:
    valid, code = claims.get("valid"), claims.get("code")
    if not isinstance(valid, bool) or not isinstance(code, str):
        raise TokenMalformed("claims 'valid' and 'code' must be a bool and a string")
    if valid != (code == "VALID"):
        raise TokenMalformed("claims 'valid' and 'code' disagree")
    return TokenClaims(
        domain=str(claims.get("dom")),
        valid=valid,
        code=code,
        issued_at=_integer(claims, "iat"),
        expires_at=_integer(claims, "exp"),
        grace=_integer(claims, "grace", 0),
        nonce=_optional_text(claims.get("nonce"), "nonce"),
        subject=_optional_text(claims.get("sub"), "sub"),
        license=_parse_license(claims.get("lic")),
    )


def _parse_license(lic: Any) -> LicenseInfo | None:
    if lic is None:
        return None
    if not isinstance(lic, Mapping):
        raise TokenMalformed("claim 'lic' must be an object")
    counts = [lic.get("max_domains"), lic.get("active_domains")]
    if any(c is not None and type(c) is not int for c in counts):
        raise TokenMalformed("lic domain counts must be integers")
    return LicenseInfo(
        status=str(lic.get("status", "")),
        expires_at=_optional_text(lic.get("expires_at"), "lic.expires_at"),
        updates_until=_optional_text(lic.get("updates_until"), "lic.updates_until"),
        max_domains=counts[0],
        active_domains=counts[1],
    )
