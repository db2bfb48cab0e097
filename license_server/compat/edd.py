"""EDD Software Licensing's remote actions, answered by our own services.

A theme that speaks EDD's protocol keeps working unchanged: each action answers
EDD's fields with EDD's words and error codes in EDD's order (docs/EDD.md has the
tables), while the decision underneath is ours: the key is found by its keyed hash,
the seat is per canonical domain and taken by ``services.activations`` (the same
atomic guard as ``/v1/activate``), deactivation frees it through the same service,
the licence's state comes from the validation decision (:func:`_decide`, the one
call into validation), and events and stats are recorded as for our own API.

EDD answers ``success`` true for every ``check_license`` status but ``invalid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from license_server import domains, errors, keys
from license_server.compat.edd_found import (
    Context,
    Found,
    canonical_site,
    find_license,
    gather,
    key_mismatch,
    limits,
)
from license_server.compat.edd_request import EddRequest
from license_server.services import activations

_DISABLED = frozenset({"REVOKED", "SUSPENDED"})


@dataclass(frozen=True)
class Decision:
    """Our decision about a licence (on a site, when one is given)."""

    code: str
    site_active: bool
    seats_taken: int


def _decide(
    ctx: Context, key: str, product: str, site: str | None, *, counted: bool = False
) -> Decision:
    """Ask validation about the licence with ``key`` on ``site``: the one adapter.

    ``counted`` (``check_license``) runs the validate use case itself: signed,
    counted in stats, last-seen recorded. Otherwise the same state row and the same
    ordered checks decide, without a token (activation then takes its seat through
    the activation service, which decides again under the licence's lock). Without
    a site, only the licence's own state counts.
    """
    from license_server.services import validation as use_case
    from license_server.validation import results

    runtime = ctx.runtime
    if counted and site is not None:
        answer = use_case.validate(
            runtime=runtime,
            license_key=key,
            domain=site,
            product=product,
            nonce=None,
            now=ctx.now,
        )
        seats = int((answer.lic or {}).get("active_domains", 0))
        return Decision(str(answer.code), answer.activation_id is not None, seats)
    item = runtime.reader.product(product)
    parsed = keys.parse_key(key)
    state = runtime.reader.state(
        runtime.keyring.license_lookup(parsed.body), site or ""
    )
    code = results.decide(state, item, ctx.now)
    if state is None:
        return Decision(str(code), False, 0)
    return Decision(str(code), state.activation_id is not None, state.active_domains)


def activate(ctx: Context, request: EddRequest) -> dict[str, Any]:
    """Answer ``activate_license``: checks in EDD's order, then our seat guard."""
    found, fields = gather(ctx, request)
    if found is None:
        return _answer(request, fields, {"success": False, "error": "missing"})
    site = canonical_site(request.url)
    decision = _decide(ctx, found.key, found.product, site)
    development = site is not None and domains.is_development_host(
        site, found.dev_patterns
    )
    error: str | None = None
    if found.bundle:  # EDD checks this after the URL, and it overrides missing_url
        error = "license_not_activable"
    elif site is None:
        error = "missing_url"
    elif decision.code in _DISABLED:
        error = "disabled"
    elif (
        not development
        and not found.unlimited
        and not decision.site_active
        and decision.seats_taken >= found.seat_limit
    ):
        error = "no_activations_left"
    elif decision.code == "EXPIRED":
        error = "expired"
    elif key_mismatch(request.license):
        error = "key_mismatch"
    else:
        error = found.item_error
    seats = decision.seats_taken
    if error is None and site is not None:
        error, seats = _take_seat(ctx, found, site, request.environment)
    result: dict[str, Any] = {"success": error is None}
    if error is not None:
        result["error"] = error
        if error == "no_activations_left":
            result["max_sites"] = seats  # EDD's max_sites is the site count
    elif development:
        result["is_local"] = True
    result.update(limits(found, seats))
    result["expires"] = found.expires
    result.update(found.customer)
    return _answer(request, fields, result)


def _take_seat(
    ctx: Context, found: Found, site: str, environment: str
) -> tuple[str | None, int]:
    """Activate through the activation service; map a refusal to EDD's error."""
    try:
        answer, _created = activations.activate(
            runtime=ctx.runtime,
            license_key=found.key,
            domain=site,
            product=found.product,
            nonce=None,
            environment=environment[:32],
            client_address=ctx.client_address,
            now=ctx.now,
        )
    except activations.ActivationRefused as refusal:
        seats = int((refusal.detail.get("license") or {}).get("active_domains", 0))
        refused = {
            "ACTIVATION_LIMIT_REACHED": "no_activations_left",
            "EXPIRED": "expired",
        }
        return refused.get(refusal.code, "disabled"), seats
    return None, int((answer.lic or {}).get("active_domains", 0))


def _answer(
    request: EddRequest, fields: dict[str, Any], result: dict[str, Any]
) -> dict[str, Any]:
    return {
        "success": bool(result["success"]),
        "license": "valid" if result["success"] else "invalid",
        **fields,
        **result,
        "checksum": request.checksum(),
    }


def deactivate(ctx: Context, request: EddRequest) -> dict[str, Any]:
    """Answer ``deactivate_license``: EDD's refusals, then our deactivation service."""
    found, fields = gather(ctx, request)
    removed = False
    if found is not None:
        site = canonical_site(request.url)
        decision = _decide(ctx, found.key, found.product, site)
        refused = (
            site is None
            or found.bundle
            or decision.code in _DISABLED
            or decision.code == "EXPIRED"
            or key_mismatch(request.license)
            or found.name_error is not None
        )
        if not refused and site is not None:
            removed = _free_seat(ctx, found, site)
    answer: dict[str, Any] = {
        "success": removed,
        "license": "deactivated" if removed else "failed",
        **fields,
        "checksum": request.checksum(),
    }
    if found is not None:
        answer["expires"] = found.expires_stamp
        answer.update(found.customer)
    return answer


def _free_seat(ctx: Context, found: Found, site: str) -> bool:
    try:
        activations.deactivate(
            keyring=ctx.keyring,
            license_key=found.key,
            domain=site,
            client_address=ctx.client_address,
            now=ctx.now,
        )
    except errors.APIError:
        return False
    return True


def check(ctx: Context, request: EddRequest) -> dict[str, Any]:
    """Answer ``check_license`` with EDD's status word, from our decision."""
    found, fields = gather(ctx, request)
    status, seats = "invalid", 0
    if found is not None and not key_mismatch(request.license):
        site = None if found.item_error else canonical_site(request.url)
        decision = _decide(ctx, found.key, found.product, site, counted=True)
        seats = decision.seats_taken
        status = found.item_error or _check_status(found, decision.code)
    answer: dict[str, Any] = {
        "success": status != "invalid",
        "license": status,
        **fields,
        "checksum": request.checksum(),
    }
    if status != "invalid" and found is not None:
        answer["expires"] = found.expires
        answer.update(found.customer)
        answer.update(limits(found, seats))
    return answer


def _check_status(found: Found, code: str) -> str:
    if code == "EXPIRED" or (code in _DISABLED and found.lapsed_restricted):
        return "expired"  # EDD checks expiry before the disabled state
    if code in _DISABLED:
        return "disabled"
    if code == "VALID":
        return "valid"
    return "site_inactive" if found.live_sites else "inactive"


__all__ = ["Context", "activate", "check", "deactivate", "find_license"]
