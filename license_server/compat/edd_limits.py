"""Rate limits on the EDD endpoint, with the public endpoints' settings and counters.

An EDD request counts per client address and action (``RATELIMIT_ACTIVATE`` for
activation, ``RATELIMIT_DEACTIVATE``, ``RATELIMIT_VALIDATE`` for checks,
``RATELIMIT_UPDATE_CHECK`` for ``get_version``, ``RATELIMIT_CHANGELOG`` for the
changelog view), per licence key (``RATELIMIT_LICENSE_KEY``: the same counter as
the key's requests to ``/v1/…``), and against the address's failed lookups
(``RATELIMIT_FAILED_LOOKUPS``, the counter the public endpoints share; an answer
that says the key is unknown adds to it). Counters are named by keyed hashes, all
read and bumped in one storage round by the app's limiter, which fails open.

A limited request answers **429** ``RATE_LIMITED`` with ``Retry-After`` in our
error shape, not EDD's HTTP 200: EDD's updaters treat a non-200 answer as "try
again later" and keep the licence status they stored, where a 200 ``invalid``
would make the site show itself unlicensed.
"""

from __future__ import annotations

import hashlib

from flask import request

from license_server import errors, keys
from license_server.api.throttle import address_bucket
from license_server.runtime import Runtime
from license_server.runtime.limiter import Op, Rule, window

_ACTION_SETTING = {
    "activate_license": "RATELIMIT_ACTIVATE",
    "deactivate_license": "RATELIMIT_DEACTIVATE",
    "check_license": "RATELIMIT_VALIDATE",
    "get_version": "RATELIMIT_UPDATE_CHECK",
    "changelog": "RATELIMIT_CHANGELOG",
}


def _key_bucket(runtime: Runtime, text: str) -> str | None:
    try:
        key = keys.parse_key(text)
    except keys.InvalidKeyFormat:
        return None
    digest = runtime.keyring.license_lookup(key.body)
    # the same name as the public endpoints give this key's counters
    return "key:" + hashlib.sha256(b"ratelimit/v1:" + digest).hexdigest()[:32]


def check(runtime: Runtime, action: str, license_text: str) -> None:
    """Count this request; raise ``RATE_LIMITED`` when a limit is exceeded."""
    limiter = runtime.limiter
    if not limiter.enabled:
        return
    now = limiter.clock()
    address = address_bucket(runtime.keyring, request.remote_addr)
    key = _key_bucket(runtime, license_text)
    planned: list[tuple[Rule, str, int]] = []
    for rule in limiter.rules[_ACTION_SETTING.get(action, "RATELIMIT_VALIDATE")]:
        planned.append((rule, f"{address}:edd.{action}", 1))
    if key is not None:
        for rule in limiter.rules["RATELIMIT_LICENSE_KEY"]:
            planned.append((rule, key, 1))
    for rule in limiter.rules["RATELIMIT_FAILED_LOOKUPS"]:
        planned.append((rule, f"{address}:failed", 0))
    windows = [window(limiter.prefix, bucket, rule, now) for rule, bucket, _ in planned]
    ops = [
        Op(current.key, add, rule.seconds + 1 if add else 0)
        for (rule, _, add), current in zip(planned, windows, strict=True)
    ]
    counts = limiter.apply(ops)
    for (rule, _, add), current, count in zip(planned, windows, counts, strict=True):
        if (count > rule.amount) if add else (count >= rule.amount):
            raise errors.RateLimited(
                detail={"limit": rule.text, "retry_after": current.retry_after},
                headers={"Retry-After": str(current.retry_after)},
            )


def failed_lookup(runtime: Runtime) -> None:
    """Count an answer that told the caller its key is unknown."""
    limiter = runtime.limiter
    if not limiter.enabled:
        return
    now = limiter.clock()
    address = address_bucket(runtime.keyring, request.remote_addr)
    ops = []
    for rule in limiter.rules["RATELIMIT_FAILED_LOOKUPS"]:
        current = window(limiter.prefix, f"{address}:failed", rule, now)
        ops.append(Op(current.key, 1, rule.seconds + 1))
    limiter.apply(ops)
