"""The license client a theme embeds: activate, refresh, deactivate, status, notice.

``status()`` and ``notice()`` are offline and cheap: the verified state is cached in
memory with the time window it holds in, and the token is verified again only when
the store says it changed. Online calls (``activate``, ``refresh``, ``deactivate``)
never raise into the host; they return an :class:`~license_client.Outcome`. Only a
trusted, signed answer changes what the site believes (and an answer refusing a new
key keeps a working one); a failure (network, garbage, forgery, an answer about
another key) is recorded for back-off and leaves the stored token in force.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Any

from license_client import exchange
from license_client.config import ClientConfig
from license_client.domains import is_development_host
from license_client.exceptions import (
    KeyFormatInvalid,
    LicenseClientError,
    StoreFailed,
    TokenInvalid,
    TokenMalformed,
)
from license_client.keys import held_key_hash, parse_key
from license_client.policy import Assessment, Limits, assess, next_refresh_at
from license_client.status import (
    Code,
    Notice,
    Outcome,
    State,
    Status,
    configuration_hint,
    message,
    render_notice,
)
from license_client.store import StoredState
from license_client.verify import TokenClaims, TokenVerifier

__all__ = ["LicenseClient"]

log = logging.getLogger(__name__)

Claims = TokenClaims | TokenInvalid | None
_GONE = (Code.DOMAIN_NOT_ACTIVATED, Code.NOT_FOUND)  # no seat to free any more


@dataclass(frozen=True, slots=True)
class _Cached:
    stamp: Hashable
    low: float
    high: float
    status: Status
    state: StoredState | None
    claims: Claims


class LicenseClient:
    """Keep one site's license for one theme; see the package README."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._verifier = TokenVerifier(
            config.pinned_keys,
            issuer=config.issuer,
            audience=config.product.rpartition("/")[2],  # aud: the slug
            domain=config.domain,
            clock_skew=config.clock_skew,
        )
        self._limits = Limits(
            config.clock_skew,
            config.rollback_tolerance,
            config.refresh_interval,
            config.refresh_margin,
            config.backoff_initial,
            config.backoff_max,
        )
        self._clock = config.clock
        self._stamp = config.store.stamp
        self._notice = render_notice(config.product_name, config.settings_url)
        self.development = is_development_host(config.domain, config.dev_patterns)
        self._cache: _Cached | None = None
        self._verified: tuple[str, Claims] | None = None
        self._lock = threading.RLock()  # serialises online calls and writes
        self._in_flight = threading.Lock()  # one background refresh at a time

    # -- offline ---------------------------------------------------------------

    def status(self) -> Status:
        """Return the license status from the stored, verified token (offline)."""
        try:
            return self._current(self._clock().timestamp()).status
        except Exception:  # a custom store or clock failing: untrusted, not a crash
            log.exception("license status unavailable")
            code = Code.STORE_ERROR
            return Status(State.UNKNOWN, code, message(code), self.config.domain)

    def notice(self, *, public: bool = False) -> Notice | None:
        """Return the notice unless the license is trusted valid; None otherwise.

        ``public=True`` asks for a public page: None unless the configuration shows
        the notice publicly, and always None on development hosts (PROTOCOL §6).
        """
        if public and (self.development or not self.config.show_notice_publicly):
            return None
        return None if self.status().valid else self._notice

    def next_refresh_at(self) -> float:
        """Return when re-validation is next due (epoch seconds; inf: never)."""
        now = self._clock().timestamp()
        cached = self._current(now)
        return next_refresh_at(
            cached.state, cached.claims, now=now, limits=self._limits
        )

    def refresh_due(self) -> bool:
        """Tell whether re-validation is due now."""
        return self._clock().timestamp() >= self.next_refresh_at()

    # -- online ----------------------------------------------------------------

    def activate(self, key: str, *, environment: str | None = None) -> Outcome:
        """Activate this domain with a license key typed by the site owner."""
        try:
            canonical = parse_key(key)
        except KeyFormatInvalid:
            return self._outcome(False, Code.INVALID_KEY_FORMAT)
        body: dict[str, Any] = {"license_key": canonical}
        if environment:
            body["environment"] = environment[:32]
        return self._signed_call("activate", body, canonical, count_failure=False)

    def refresh(self) -> Outcome:
        """Ask the server again (with a fresh nonce) about the stored license."""
        with self._lock:
            state = self._load()
            if state is None or not state.license_key:
                return self._outcome(False, Code.NO_LICENSE)
            body: dict[str, Any] = {"license_key": state.license_key}
            if self.config.theme_version:
                body["version"] = self.config.theme_version[:64]
            return self._signed_call("validate", body, state.license_key)

    def deactivate(self) -> Outcome:
        """Free this domain's seat on the server and forget the license here."""
        with self._lock:
            state = self._load()
            if state is None or not state.license_key:
                return self._outcome(False, Code.NO_LICENSE)
            body = {"license_key": state.license_key, "domain": self.config.domain}
            try:
                response, data = exchange.post(self.config, "deactivate", body)
                freed = response.status == 200 and data.get("deactivated") is True
                gone = response.status == 404 and data.get("code") in _GONE
                if not (freed or gone):
                    raise exchange.refusal(response, data)
                self._save(
                    StoredState(
                        server_time=state.server_time, last_error=Code.DEACTIVATED
                    )
                )
            except LicenseClientError as exc:
                return self._outcome(False, exc.code)
            return self._outcome(True, Code.DEACTIVATED)

    def revalidate_if_due(self) -> Outcome | None:
        """Refresh when due (near expiry, at most daily, backing off); else None."""
        try:
            return self.refresh() if self.refresh_due() else None
        except Exception:  # never let a bug here reach the host
            log.exception("license re-validation failed")
            return None

    def revalidate_in_background(self) -> bool:
        """Start a refresh in a daemon thread if one is due; return whether it began."""
        if not self.refresh_due() or not self._in_flight.acquire(blocking=False):
            return False

        def run() -> None:
            try:
                self.revalidate_if_due()
            finally:
                self._in_flight.release()

        threading.Thread(target=run, name="license-client-refresh", daemon=True).start()
        return True

    # -- internals -------------------------------------------------------------

    def _signed_call(
        self, endpoint: str, body: dict[str, Any], key: str, count_failure: bool = True
    ) -> Outcome:
        with self._lock:
            nonce = secrets.token_urlsafe(18)
            body.update(
                domain=self.config.domain, product=self.config.product, nonce=nonce
            )
            now = self._clock()
            try:
                response, data = exchange.post(self.config, endpoint, body)
                token = exchange.signed_token(response, data)
                claims = self._verifier.verify(
                    token, now=now, nonce=nonce, key_hash=held_key_hash(key)
                )
            except Exception as exc:  # no failure may reach the host's page
                code = exc.code if isinstance(exc, LicenseClientError) else "BAD_ANSWER"
                hint = configuration_hint(exc)
                if hint is None:
                    log.info("license %s failed: %r", endpoint, exc)
                else:  # the theme's own settings are wrong: say which, loudly
                    log.warning("license %s: %s (%s)", endpoint, hint, exc)
                if count_failure:
                    self._count_failure(code, now.timestamp())
                return self._outcome(False, code, hint)
            old = self._load() or StoredState()
            other = old.license_key not in (None, "", key)  # a refused new key
            if not claims.valid and other and self.status().valid:
                return self._outcome(False, claims.code)  # keeps the working one
            state = StoredState(
                license_key=key,
                token=token,
                server_time=max(old.server_time, claims.issued_at),
                checked_at=now.timestamp(),
            )
            try:
                self._save(state)
            except StoreFailed as exc:
                return self._outcome(False, exc.code)
            self._verified = (token, claims)
            return self._outcome(claims.valid, claims.code)

    def _count_failure(self, code: str, now: float) -> None:
        state = self._load()
        if state is None or not state.license_key:
            return
        failures = state.failures + 1
        failed = replace(state, checked_at=now, failures=failures, last_error=code)
        try:
            self._save(failed)
        except StoreFailed as exc:
            log.warning("%s", exc)

    def _outcome(self, ok: bool, code: str, hint: str | None = None) -> Outcome:
        text = message(code) if hint is None else f"{message(code)} {hint}"
        return Outcome(ok, code, text, self.status())

    def _load(self) -> StoredState | None:
        try:
            return self.config.store.load()
        except Exception as exc:  # a custom store's bug means "no state", not a crash
            log.warning("license state unreadable: %r", exc)
            return None

    def _save(self, state: StoredState) -> None:
        try:
            self.config.store.save(state)
        except StoreFailed:
            raise
        except Exception as exc:
            raise StoreFailed(f"cannot save license state: {exc!r}") from exc

    def _claims(self, token: str | None, license_key: str | None = None) -> Claims:
        if token is None:
            return None
        verified = self._verified
        if verified is not None and verified[0] == token:
            return verified[1]
        try:
            held = held_key_hash(license_key)
            claims: Claims = self._verifier.verify(token, now=None, key_hash=held)
        except TokenInvalid as exc:
            claims = exc
        except Exception as exc:  # whatever the cause, an unverifiable token
            claims = TokenMalformed(repr(exc))
        self._verified = (token, claims)
        return claims

    def _current(self, now: float) -> _Cached:
        stamp = self._stamp()
        cached = self._cache
        if cached and cached.stamp == stamp and cached.low <= now <= cached.high:
            return cached
        return self._evaluate(now, stamp)

    def _evaluate(self, now: float, stamp: Hashable) -> _Cached:
        state = self._load()
        token, held = (state.token, state.license_key) if state else (None, None)
        claims = self._claims(token, held)
        found: Assessment = assess(
            state, claims, domain=self.config.domain, now=now, limits=self._limits
        )
        cached = _Cached(stamp, found.low, found.high, found.status, state, claims)
        self._cache = cached
        return cached
