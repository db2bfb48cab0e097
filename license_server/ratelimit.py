"""Rate limits on the public endpoints (PROTOCOL §2), with Flask-Limiter.

Three kinds of limit apply to every public endpoint, each counted separately:

- **per client address and endpoint** (``RATELIMIT_ACTIVATE``, ``_VALIDATE``,
  ``_DEACTIVATE``, ``_JWKS``): every request counts;
- **per license key and endpoint** (``RATELIMIT_LICENSE_KEY``): requests naming the
  same well-formed key count together, from any address. The counter is named by a
  keyed hash of the key's canonical body, never by the key;
- **failed lookups per client address** (``RATELIMIT_FAILED_LOOKUPS``), shared by all
  public endpoints: only answers that tell a key guesser "no" count (an unknown key,
  a malformed key, an unknown product), so a flood of guesses is held back long
  before good traffic from the same address would be.

Storage is ``RATELIMIT_STORAGE_URI`` (memory on the embedded default, Redis in
production). If the storage cannot be reached the limiter **fails open to memory**:
each process keeps counting in its own memory, so limits still hold per process, and
goes back to the shared storage when it answers again. A request never fails because
the rate-limit storage is down.

Client addresses are the peer's address, or the one a trusted proxy reports
(``TRUSTED_PROXIES``, see :mod:`license_server.proxy`). Addresses are hashed with the
keyring before they name a counter, like license keys.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from limits import parse_many
from werkzeug.exceptions import HTTPException

from license_server import errors, keys
from license_server.api import public
from license_server.api.parsing import parse_body_once
from license_server.keyring import Keyring

log = logging.getLogger(__name__)

# public endpoint -> setting holding its per-address limit
ENDPOINT_LIMITS = {
    "public.activate": "RATELIMIT_ACTIVATE",
    "public.validate": "RATELIMIT_VALIDATE",
    "public.deactivate": "RATELIMIT_DEACTIVATE",
    "public.jwks": "RATELIMIT_JWKS",
}
LIMIT_SETTINGS = (
    *ENDPOINT_LIMITS.values(),
    "RATELIMIT_LICENSE_KEY",
    "RATELIMIT_FAILED_LOOKUPS",
)
# answer codes that tell a key guesser "no such key" (or "this is no key at all")
FAILED_LOOKUP_CODES = frozenset(
    {"NOT_FOUND", "INVALID_KEY_FORMAT", "PRODUCT_NOT_FOUND"}
)
_COUNTED_BY = {"license-key": "license_key", "failed-lookups": "failed_lookups"}
_REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")
_NO_KEY = ""


def _keyring() -> Keyring:
    ring: Keyring = current_app.extensions["keyring"]
    return ring


def client_bucket() -> str:
    """Name the calling address's counters: a keyed hash of the address."""
    return "addr:" + _keyring().client_address(request.remote_addr or "unknown")


def license_key_bucket() -> str:
    """Name the counters of the license key in the body ("" when there is none).

    The body is read leniently here: a body that does not parse, or a key that is
    malformed, has no key bucket (the endpoint answers 400 on its own).
    """
    bucket: str | None = g.get("_ratelimit_key_bucket")
    if bucket is None:
        bucket = g._ratelimit_key_bucket = _key_bucket_of_body()
    return bucket


def _key_bucket_of_body() -> str:
    if request.method != "POST" or not request.is_json:
        return _NO_KEY
    try:
        body = parse_body_once()
        key = keys.parse_key(body.get("license_key"))
    except (errors.APIError, keys.InvalidKeyFormat, HTTPException):
        return _NO_KEY
    digest = _keyring().license_lookup(key.body)
    # one more hash, so the counter's name is not the database's lookup hash
    return "key:" + hashlib.sha256(b"ratelimit/v1:" + digest).hexdigest()[:32]


def _no_key_in_body() -> bool:
    return license_key_bucket() == _NO_KEY


def is_failed_lookup(response: Response) -> bool:
    """Return whether an answer tells the caller that its key is unknown or bad."""
    if response.status_code >= 500 or response.status_code == 429:
        return False
    return g.get("answer_code") in FAILED_LOOKUP_CODES


def _endpoint_limit() -> str:
    setting = ENDPOINT_LIMITS.get(request.endpoint or "")
    return str(current_app.config[setting] or "") if setting else ""


def _remember_reset(limit: RequestLimit) -> None:
    """Keep when the breached limit resets, for the ``Retry-After`` header."""
    try:
        g._ratelimit_retry_after = max(1, math.ceil(limit.window[0] - time.time()))
    except Exception:  # noqa: BLE001 - the storage may be down; use the window
        g._ratelimit_retry_after = limit.limit.get_expiry()


def handle_rate_limited(error: RateLimitExceeded) -> Response:
    """Answer 429 ``RATE_LIMITED`` in the protocol's shape, with ``Retry-After``."""
    retry_after = g.get("_ratelimit_retry_after") or error.limit.limit.get_expiry()
    counted = _COUNTED_BY.get(str(error.limit.scope or ""), "client_address")
    return errors.handle_api_error(
        errors.RateLimited(
            detail={
                "limit": str(error.limit.limit),
                "counted_by": counted,
                "retry_after": retry_after,
            },
            headers={"Retry-After": str(retry_after)},
        )
    )


def check_settings(config: dict[str, Any] | Any) -> None:
    """Refuse limit strings that do not parse (the message names the setting)."""
    from license_server.config import PREFIX, ConfigError

    for name in LIMIT_SETTINGS:
        value = config[name]
        try:
            if value:
                parse_many(str(value))
        except ValueError as exc:
            raise ConfigError(
                f"{PREFIX}{name}={value!r} is not a rate limit such as "
                "'60/minute' or '10/second;1000/day'"
            ) from exc


def _storage_options(uri: str) -> dict[str, Any]:
    if uri.startswith(_REDIS_SCHEMES):
        # a stalled Redis must not stall requests: give up quickly, then fail open
        return {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    return {}


def init_app(app: Flask) -> Limiter:
    """Give ``app`` its own limiter over the public blueprint; return it."""
    config = app.config
    check_settings(config)
    uri = str(config["RATELIMIT_STORAGE_URI"] or "memory://")
    limiter = Limiter(
        client_bucket,
        storage_uri=uri,
        storage_options=_storage_options(uri),
        strategy="fixed-window",
        key_prefix=str(config["RATELIMIT_KEY_PREFIX"] or "license-server"),
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        headers_enabled=False,
        on_breach=_remember_reset,
        enabled=bool(config["RATELIMIT_ENABLED"]),
    )
    limiter.init_app(app)
    limits = [
        limiter.limit(_endpoint_limit, override_defaults=False),
        limiter.limit(
            str(config["RATELIMIT_LICENSE_KEY"] or ""),
            key_func=license_key_bucket,
            scope="license-key",
            exempt_when=_no_key_in_body,
            override_defaults=False,
        ),
        limiter.shared_limit(
            str(config["RATELIMIT_FAILED_LOOKUPS"] or ""),
            scope="failed-lookups",
            deduct_when=is_failed_lookup,
            override_defaults=False,
        ),
    ]
    for limit in limits:
        limit(public.blp)
    app.register_error_handler(RateLimitExceeded, handle_rate_limited)
    app.extensions["license_limiter"] = limiter
    return limiter
