"""Pure decisions: what the stored state means now, and when to ask the server again.

:func:`assess` turns the stored state and its verified claims into a
:class:`~license_client.Status` *and the time window in which that status holds*,
so the client can answer ``status()`` from memory until the clock leaves the
window or the store changes. :func:`next_refresh_at` says when re-validation is
due: near the token's expiry, at most once per ``refresh_interval`` after a
trusted answer, and with exponential back-off after failures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from license_client.exceptions import TokenInvalid
from license_client.status import Code, State, Status, message
from license_client.store import StoredState
from license_client.verify import TokenClaims

__all__ = ["Assessment", "Limits", "assess", "next_refresh_at"]

_PAST = -math.inf
_FUTURE = math.inf


@dataclass(frozen=True, slots=True)
class Limits:
    """The time tolerances and re-validation settings of a client."""

    clock_skew: int
    rollback_tolerance: int
    refresh_interval: int
    refresh_margin: int
    backoff_initial: int
    backoff_max: int


@dataclass(frozen=True, slots=True)
class Assessment:
    """A status and the window ``[low, high]`` (epoch seconds) where it holds."""

    status: Status
    low: float
    high: float


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _untrusted(domain: str, code: str) -> Assessment:
    status = Status(State.UNKNOWN, code, message(code), domain)
    return Assessment(status, _PAST, _FUTURE)


def assess(
    state: StoredState | None,
    claims: TokenClaims | TokenInvalid | None,
    *,
    domain: str,
    now: float,
    limits: Limits,
) -> Assessment:
    """Return the status of the stored state at ``now`` and the window it holds in."""
    if state is None or state.token is None or claims is None:
        reason = state.last_error if state is not None else None
        code = Code.DEACTIVATED if reason == Code.DEACTIVATED else Code.NO_LICENSE
        return _untrusted(domain, code)
    if isinstance(claims, TokenInvalid):
        return _untrusted(domain, Code.UNTRUSTED_ANSWER)
    trusted_from = max(
        state.server_time - limits.rollback_tolerance,
        claims.issued_at - limits.clock_skew,
    )
    last = claims.trusted_until
    times = {
        "checked_at": _at(claims.issued_at),
        "expires_at": _at(claims.expires_at),
        "trusted_until": _at(last),
    }
    if now < trusted_from:
        code = Code.CLOCK_ROLLBACK
        status = Status(State.UNKNOWN, code, message(code), domain, claims.license)
        return Assessment(status, _PAST, math.nextafter(trusted_from, _PAST))
    if now > last:
        code = Code.TOKEN_EXPIRED
        status = Status(State.UNKNOWN, code, message(code), domain, claims.license)
        return Assessment(
            status, max(math.nextafter(last, _FUTURE), trusted_from), _FUTURE
        )
    in_grace = now > claims.expires_at
    state_now = State.VALID if claims.valid else State.INVALID
    status = Status(
        state_now,
        claims.code,
        message(claims.code),
        domain,
        claims.license,
        in_grace=in_grace,
        **times,
    )
    if in_grace:
        return Assessment(status, math.nextafter(claims.expires_at, _FUTURE), last)
    return Assessment(status, trusted_from, claims.expires_at)


def backoff(failures: int, limits: Limits) -> float:
    """Return the delay before the next attempt after ``failures`` failures."""
    if failures <= 0:
        return 0.0
    return float(
        min(limits.backoff_initial * 2 ** min(failures - 1, 32), limits.backoff_max)
    )


def next_refresh_at(
    state: StoredState | None,
    claims: TokenClaims | TokenInvalid | None,
    *,
    now: float,
    limits: Limits,
) -> float:
    """Return when the next re-validation is due (epoch seconds; inf: never)."""
    if state is None or not state.license_key:
        return _FUTURE
    last_try = state.checked_at
    if last_try is not None and last_try > now + limits.rollback_tolerance:
        last_try = None  # recorded by a clock that ran ahead; do not wait for it
    if isinstance(claims, TokenClaims):
        lifetime = claims.expires_at - claims.issued_at
        margin = min(limits.refresh_margin, lifetime / 2)
        due = max(
            claims.issued_at + limits.refresh_interval, claims.expires_at - margin
        )
    else:
        due = (last_try or _PAST) + limits.refresh_interval
    if state.failures and last_try is not None:
        due = max(due, last_try + backoff(state.failures, limits))
    return due
