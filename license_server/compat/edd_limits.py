"""Rate limits on the EDD endpoint, with the settings of the public endpoints.

EDD requests count in their own counters (prefix ``edd``) against the same
settings: per client address and action (``RATELIMIT_ACTIVATE`` for activation,
``RATELIMIT_DEACTIVATE``, ``RATELIMIT_VALIDATE`` for checks and ``get_version``),
per licence key (``RATELIMIT_LICENSE_KEY``, named by a keyed hash of the key), and
failed lookups per address (``RATELIMIT_FAILED_LOOKUPS``: only answers that say the
key is unknown count). A limited request answers **429** ``RATE_LIMITED`` with
``Retry-After`` in our error shape, not EDD's HTTP 200: EDD's updaters treat a
non-200 answer as "try again later" and keep the licence status they stored, where
a 200 ``invalid`` would make the site show itself unlicensed. If the limiter's
storage cannot be reached the request goes through (fail open, like the public
endpoints).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import current_app, request
from limits import RateLimitItem, parse_many

from license_server import errors, keys
from license_server.keyring import Keyring

log = logging.getLogger(__name__)

_ACTION_SETTING = {
    "activate_license": "RATELIMIT_ACTIVATE",
    "deactivate_license": "RATELIMIT_DEACTIVATE",
    "check_license": "RATELIMIT_VALIDATE",
    "get_version": "RATELIMIT_VALIDATE",
}


def _limits(setting: str) -> list[RateLimitItem]:
    value = current_app.config.get(setting) or ""
    return list(parse_many(str(value))) if value else []


def _address(keyring: Keyring) -> str:
    return "addr:" + keyring.client_address(request.remote_addr or "unknown")


def _key_bucket(keyring: Keyring, text: str) -> str | None:
    try:
        key = keys.parse_key(text)
    except keys.InvalidKeyFormat:
        return None
    digest = keyring.license_lookup(key.body)
    return "key:" + hashlib.sha256(b"ratelimit/v1:" + digest).hexdigest()[:32]


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED"))


def _refuse(item: RateLimitItem, strategy: object, ids: tuple[str, ...]) -> None:
    try:
        reset = strategy.get_window_stats(item, *ids).reset_time  # type: ignore[attr-defined]
        retry = max(1, math.ceil(reset - time.time()))
    except Exception:  # noqa: BLE001 - storage trouble: use the window length
        retry = item.get_expiry()
    raise errors.RateLimited(
        detail={"limit": str(item), "retry_after": retry},
        headers={"Retry-After": str(retry)},
    )


def check(keyring: Keyring, action: str, license_text: str) -> None:
    """Count this request; raise ``RATE_LIMITED`` when a limit is exceeded."""
    if not _enabled():
        return
    strategy = current_app.extensions["license_limiter"].limiter
    prefix = str(current_app.config.get("RATELIMIT_KEY_PREFIX") or "license-server")
    address = _address(keyring)
    counters: list[tuple[RateLimitItem, tuple[str, ...], bool]] = []
    setting = _ACTION_SETTING.get(action, "RATELIMIT_VALIDATE")
    for item in _limits(setting):
        counters.append((item, (prefix, "edd", action, address), True))
    bucket = _key_bucket(keyring, license_text)
    if bucket is not None:
        for item in _limits("RATELIMIT_LICENSE_KEY"):
            counters.append((item, (prefix, "edd", action, bucket), True))
    for item in _limits("RATELIMIT_FAILED_LOOKUPS"):
        counters.append((item, (prefix, "edd", "failed", address), False))
    try:
        for item, ids, counts in counters:
            allowed = strategy.hit(item, *ids) if counts else strategy.test(item, *ids)
            if not allowed:
                _refuse(item, strategy, ids)
    except errors.RateLimited:
        raise
    except Exception:  # noqa: BLE001 - fail open, as the public endpoints do
        log.warning("EDD rate-limit storage unavailable; request not limited")


def failed_lookup(keyring: Keyring) -> None:
    """Count an answer that told the caller its key is unknown."""
    if not _enabled():
        return
    strategy = current_app.extensions["license_limiter"].limiter
    prefix = str(current_app.config.get("RATELIMIT_KEY_PREFIX") or "license-server")
    try:
        for item in _limits("RATELIMIT_FAILED_LOOKUPS"):
            strategy.hit(item, prefix, "edd", "failed", _address(keyring))
    except Exception:  # noqa: BLE001 - fail open
        log.warning("EDD rate-limit storage unavailable; failure not counted")
