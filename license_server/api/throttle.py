"""Rate limits on the public endpoints (PROTOCOL §2): which counters a request uses.

Three kinds of limit apply, each counted separately:

- **per client address and endpoint** (``RATELIMIT_ACTIVATE``, ``_VALIDATE``,
  ``_DEACTIVATE``, ``_JWKS``; for the update routes ``_UPDATE_CHECK`` (the check
  and the PUC metadata), ``_DOWNLOAD`` and ``_CHANGELOG``): every request counts;
- **per license key** (``RATELIMIT_LICENSE_KEY``): requests naming the same
  well-formed key count together, from any address (the key is in the JSON or
  form body, or, on the PUC metadata route, in the query);
- **failed lookups per client address** (``RATELIMIT_FAILED_LOOKUPS``), shared by
  activate, validate, deactivate, the update check and the PUC metadata: only
  answers that tell a key guesser "no" count
  (an unknown key, a malformed key, an unknown product). Once an address is over
  it, requests from there are refused **unless they name a key that this address
  has used successfully in the last day**: hundreds of WordPress sites behind one
  shared-hosting address keep validating while a guesser among them is stopped.
  JWKS, downloads (their URLs carry no key) and the changelog page are never held
  back by failed lookups.

Every counter is named by a keyed hash (of the address, or of the key's canonical
body), never by the address or the key. IPv6 addresses count by their /64, since
one host is given a whole /64. All the counters a request needs are read and
bumped in **one** storage round (:mod:`license_server.runtime.limiter`), which also
marks a key as used from this address when the request is within its limits (the
mark lifts the failed-lookup limit); an answer that turns out a failed lookup (or a
5xx) costs one more round, to count it and take the mark back.
"""

from __future__ import annotations

import hashlib
import ipaddress
import weakref
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request

from license_server import errors, keys
from license_server.api.parsing import parse_body_once
from license_server.keyring import Keyring
from license_server.runtime import Runtime, of
from license_server.runtime.limiter import (
    Limiter,
    Mark,
    Op,
    Rule,
    over,
    parse_rules,
    window,
)

# public endpoint -> setting holding its per-address limit
ENDPOINT_LIMITS = {
    "public.activate": "RATELIMIT_ACTIVATE",
    "public.validate": "RATELIMIT_VALIDATE",
    "public.deactivate": "RATELIMIT_DEACTIVATE",
    "public.jwks": "RATELIMIT_JWKS",
    "updates.update_check": "RATELIMIT_UPDATE_CHECK",
    "updates.puc_metadata": "RATELIMIT_UPDATE_CHECK",
    "updates.download": "RATELIMIT_DOWNLOAD",
    "edd_downloads.package_download": "RATELIMIT_DOWNLOAD",
    "updates.changelog": "RATELIMIT_CHANGELOG",
    "channels_inbound.receive_event": "RATELIMIT_CHANNEL_EVENTS",
}
# endpoints whose answers are lookups of a key (failed-lookup rules apply)
LOOKUP_ENDPOINTS = frozenset(
    {
        "public.activate",
        "public.validate",
        "public.deactivate",
        "updates.update_check",
        "updates.puc_metadata",
    }
)
LIMIT_SETTINGS = (
    *dict.fromkeys(ENDPOINT_LIMITS.values()),
    "RATELIMIT_LICENSE_KEY",
    "RATELIMIT_FAILED_LOOKUPS",
)
# answer codes that tell a key guesser "no such key" (or "this is no key at all")
FAILED_LOOKUP_CODES = frozenset(
    {"NOT_FOUND", "INVALID_KEY_FORMAT", "PRODUCT_NOT_FOUND"}
)
KNOWN_FOR = 86_400  # a key used successfully from an address stays known this long


@dataclass
class Plan:
    """The counters one request touched, kept for the after-answer step."""

    address: str
    key: str | None
    known: bool
    marked: bool = False  # this request's round marked the key as used here


def check_settings(config: Any) -> dict[str, tuple[Rule, ...]]:
    """Parse every limit setting; refuse one that does not parse, naming it."""
    from license_server.config import PREFIX, ConfigError

    parsed: dict[str, tuple[Rule, ...]] = {}
    for name in LIMIT_SETTINGS:
        value = str(config[name] or "")
        try:
            parsed[name] = parse_rules(value)
        except ValueError as exc:
            raise ConfigError(
                f"{PREFIX}{name}={value!r} is not a rate limit such as "
                "'60/minute' or '10/second;1000/day'"
            ) from exc
    return parsed


# address -> bucket, per keyring (the hash depends on its key): the same few
# addresses ask again and again, and parsing plus HMAC cost more than a lookup
_ADDRESS_BUCKETS: weakref.WeakKeyDictionary[Keyring, dict[str, str]] = (
    weakref.WeakKeyDictionary()
)
_ADDRESS_BUCKETS_MAX = 4096  # then the memo starts again (a flood of addresses)


def address_bucket(keyring: Keyring, address: str | None) -> str:
    """Name an address's counters: a keyed hash of the address (IPv6: its /64)."""
    text = address or "unknown"
    memo = _ADDRESS_BUCKETS.get(keyring)
    if memo is None:
        memo = _ADDRESS_BUCKETS.setdefault(keyring, {})
    bucket = memo.get(text)
    if bucket is None:
        if len(memo) >= _ADDRESS_BUCKETS_MAX:
            memo.clear()
        bucket = memo[text] = _address_bucket(keyring, text)
    return bucket


def _address_bucket(keyring: Keyring, text: str) -> str:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        ip = None
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is not None:
            text = str(mapped)
        else:
            text = str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return "addr:" + keyring.client_address(text)


def key_bucket(keyring: Keyring) -> str | None:
    """Name the counters of the license key in the body (None when there is none).

    The body is read leniently here: a body that does not parse, or a key that is
    malformed, has no key bucket (the endpoint answers 400 on its own). A GET
    (the PUC metadata route) names its key in the query.
    """
    try:
        if request.method == "GET":
            text = request.args.get("license_key")
        elif request.method == "POST":
            text = parse_body_once().get("license_key")
        else:
            return None
    except (errors.APIError, Exception):  # noqa: BLE001
        return None
    return bucket_of_key(keyring, text)


def bucket_of_key(keyring: Keyring, text: Any) -> str | None:
    """Name the counters of the license key ``text`` (None when it is no key)."""
    if not text or not isinstance(text, str):
        return None
    try:
        key = keys.parse_key(text)
    except (keys.InvalidKeyFormat, Exception):  # noqa: BLE001
        return None
    return bucket_of_parsed(keyring, key)


def bucket_of_parsed(keyring: Keyring, key: keys.LicenseKey) -> str:
    """Name the counters of a parsed license key."""
    digest = keyring.license_lookup(key.body)
    # one more hash, so the counter's name is not the database's lookup hash
    return "key:" + hashlib.sha256(b"ratelimit/v1:" + digest).hexdigest()[:32]


def _refuse(rule: Rule, counted_by: str, retry_after: int) -> errors.RateLimited:
    return errors.RateLimited(
        detail={
            "limit": rule.text,
            "counted_by": counted_by,
            "retry_after": retry_after,
        },
        headers={"Retry-After": str(retry_after)},
    )


def _counter(
    limiter: Limiter, bucket: str, rule: Rule, now: float, add: int
) -> tuple[Op, int]:
    current = window(limiter.prefix, bucket, rule, now)
    ttl = rule.seconds + 1 if add else 0
    return Op(current.key, add, ttl, rule.amount), current.retry_after


def count(
    runtime: Runtime, endpoint: str, address: str | None, key: str | None
) -> Plan | None:
    """Count one request to ``endpoint`` against its limits, in one storage round.

    ``key`` is the bucket of the license key the request names
    (:func:`bucket_of_key`), for the lookup endpoints. The same round reads
    whether this address has used the key successfully, and, if it has not and
    the request is within its limits, marks the key as used (undone by
    :func:`settle` if the answer is a failed lookup). Returns what :func:`settle`
    needs, or None when the endpoint is not limited; raises
    :class:`errors.RateLimited` (429) when a limit is exceeded.
    """
    setting = ENDPOINT_LIMITS.get(endpoint)
    limiter = runtime.limiter
    if setting is None or not limiter.enabled:
        return None
    now = limiter.clock()
    bucket = address_bucket(runtime.keyring, address)
    lookup = endpoint in LOOKUP_ENDPOINTS
    if not lookup:
        key = None
    checks: list[tuple[Rule, str, Op, int]] = []
    for rule in limiter.rules[setting]:
        op, retry = _counter(limiter, f"{bucket}:{endpoint}", rule, now, 1)
        checks.append((rule, "client_address", op, retry))
    if key is not None:
        for rule in limiter.rules["RATELIMIT_LICENSE_KEY"]:
            op, retry = _counter(limiter, key, rule, now, 1)
            checks.append((rule, "license_key", op, retry))
    if lookup:
        for rule in limiter.rules["RATELIMIT_FAILED_LOOKUPS"]:
            op, retry = _counter(limiter, f"{bucket}:failed", rule, now, 0)
            checks.append((rule, "failed_lookups", op, retry))
    ops = [op for _, _, op, _ in checks]
    mark = None
    if key is not None:
        known_key = _known(limiter, bucket, key)
        ops.append(Op(known_key, 0, 0))
        mark = Mark(known_key, KNOWN_FOR, exempt=len(ops) - 1)
    counts = limiter.apply(ops, mark)
    known = mark is not None and counts[mark.exempt] > 0
    marked = mark is not None and counts[-1] == 1
    for (rule, counted_by, op, retry), count_ in zip(checks, counts, strict=False):
        if over(op, count_, known):
            raise _refuse(rule, counted_by, retry)
    return Plan(bucket, key, known, marked)


def settle(
    runtime: Runtime, plan: Plan | None, status: int, answer_code: str | None
) -> None:
    """Count a failed lookup (and forget the key :func:`count` marked as used).

    An answer that failed (5xx) or was refused (429) counts nothing, but does not
    leave its key marked either.
    """
    if plan is None:
        return
    limiter = runtime.limiter
    undo = []
    if plan.marked and plan.key is not None:
        undo.append(Op(_known(limiter, plan.address, plan.key), -1, KNOWN_FOR))
    if status >= 500 or status == 429:
        if undo:
            limiter.apply(undo)
        return
    if answer_code in FAILED_LOOKUP_CODES:
        now = limiter.clock()
        limiter.apply(
            [
                _counter(limiter, f"{plan.address}:failed", rule, now, 1)[0]
                for rule in limiter.rules["RATELIMIT_FAILED_LOOKUPS"]
            ]
            + undo
        )


def _known(limiter: Limiter, address: str, key: str) -> str:
    return f"{limiter.prefix}:known:{address}:{key}"


def before_request() -> None:
    """Count this request against its limits; answer 429 when one is exceeded."""
    endpoint = request.endpoint or ""
    runtime = of(current_app)
    if endpoint not in ENDPOINT_LIMITS or not runtime.limiter.enabled:
        return
    key = key_bucket(runtime.keyring) if endpoint in LOOKUP_ENDPOINTS else None
    g._throttle = count(runtime, endpoint, request.remote_addr, key)


def after_request(response: Response) -> Response:
    """Settle this request's counters once its answer is known."""
    plan: Plan | None = g.pop("_throttle", None)
    settle(of(current_app), plan, response.status_code, g.get("answer_code"))
    return response


def init_app(app: Flask, blueprints: tuple[Any, ...]) -> None:
    """Limit ``blueprints``' routes of ``app`` with the app's runtime limiter."""
    for blueprint in blueprints:
        name = blueprint.name
        app.before_request_funcs.setdefault(name, []).insert(0, before_request)
        app.after_request_funcs.setdefault(name, []).append(after_request)
