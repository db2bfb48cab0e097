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

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from license_server import domains, errors, keys
from license_server.compat import edd_items
from license_server.compat.edd_request import EddRequest
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Activation, EddLicense, License
from license_server.runtime import Runtime
from license_server.services import activations, common

_DISABLED = frozenset({"REVOKED", "SUSPENDED"})


@dataclass(frozen=True)
class Context:
    """What every EDD action needs from the request, and the vendor in scope."""

    runtime: Runtime
    now: datetime
    client_address: str | None
    vendor_id: uuid.UUID | None = None

    @property
    def keyring(self) -> Keyring:
        """Return the app's keyring."""
        return self.runtime.keyring


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


def key_text(ctx: Context, license: License) -> str:
    """Return a licence's key, for the services that take one."""
    return ctx.keyring.open_license_key(license.key_sealed)


def find_license(ctx: Context, text: str) -> License | None:
    """Return the licence with this key (in the vendor's scope), or None."""
    try:
        key = keys.parse_key(text)
    except keys.InvalidKeyFormat:
        return None
    license = common.license_by_key(ctx.keyring, key)
    if license is None or (ctx.vendor_id and license.vendor_id != ctx.vendor_id):
        return None
    return license


def canonical_site(url: str) -> str | None:
    """Return the canonical domain of an EDD ``url`` (path dropped), or None."""
    if not url.strip():
        return None
    try:
        return domains.canonical_domain(url.strip())
    except domains.InvalidDomain:
        return None


def _key_mismatch(text: str) -> bool:
    # EDD finds keys case-insensitively (MySQL) and then compares them exactly
    return keys.parse_legacy_key(text) is not None and text.strip() != text.lower()


def _item_error(request: EddRequest, license: License, *, by_id: bool) -> str | None:
    if request.item_id and by_id:
        mapped = edd_items.product_for_item_id(license.vendor_id, request.item_id)
        if mapped is None or mapped.id != license.product_id:
            return "invalid_item_id"
        return None
    if request.item_id:  # deactivation: EDD's item id check always passes
        return None
    if edd_items.name_matches(license.product, request.item_name or ""):
        return None
    return "item_name_mismatch"


@dataclass(frozen=True)
class Found:
    """What the answers need of a licence, read before the services run.

    Everything is read through the session first, and the session's connection is
    handed back before the services run: they read on the runtime's own pooled
    connections (and activation takes the licence's lock), so a request holds one
    connection at a time, as on ``/v1/activate``.
    """

    key: str
    product: str
    seat_limit: int
    unlimited: bool
    dev_patterns: tuple[str, ...]
    lapsed_restricted: bool
    expires: str
    expires_stamp: int | str
    customer: dict[str, Any]
    item_error: str | None
    name_error: str | None
    live_sites: int


def _gather(ctx: Context, request: EddRequest) -> tuple[Found | None, dict[str, Any]]:
    license = find_license(ctx, request.license)
    fields = _item_fields(request, license)
    if license is None:
        db.session.close()
        return None, fields
    facts = db.session.get(EddLicense, license.id)
    price = facts.price_id if facts is not None else None
    expires_at = license.expires_at
    found = Found(
        key=key_text(ctx, license),
        product=license.product.slug,
        seat_limit=license.seat_limit,
        unlimited=facts is not None and facts.unlimited,
        dev_patterns=tuple(license.product.dev_patterns or ()),
        lapsed_restricted=expires_at is not None
        and expires_at <= ctx.now
        and license.product.expiry_policy == "restrict",
        expires=expires_text(license),
        expires_stamp=expires_stamp(license),
        customer={
            "payment_id": facts.payment_id if facts is not None else 0,
            "customer_name": license.customer_name or "",
            "customer_email": license.customer_email or "",
            "price_id": price if price is not None and price.isdigit() else False,
        },
        item_error=_item_error(request, license, by_id=True),
        name_error=_item_error(request, license, by_id=False),
        live_sites=_live_sites(license),
    )
    db.session.close()
    return found, fields


def _live_sites(license: License) -> int:
    count = db.session.scalar(
        select(func.count())
        .select_from(Activation)
        .where(Activation.license_id == license.id, Activation.deactivated_at.is_(None))
    )
    return int(count or 0)


def expires_text(license: License) -> str:
    """Return EDD's ``expires``: ``lifetime`` or the store's local ``Y-m-d H:i:s``."""
    if license.expires_at is None:
        return "lifetime"
    offset = edd_items.store_offset(license.vendor_id, license.expires_at)
    local = license.expires_at + timedelta(seconds=offset)
    return local.strftime("%Y-%m-%d %H:%M:%S")


def expires_stamp(license: License) -> int | str:
    """Return EDD's deactivation ``expires``: a local-time timestamp, or lifetime."""
    if license.expires_at is None:
        return "lifetime"
    offset = edd_items.store_offset(license.vendor_id, license.expires_at)
    return int(license.expires_at.timestamp()) + offset


def _limits(found: Found, seats: int) -> dict[str, Any]:
    if found.unlimited:
        return {
            "license_limit": 0,
            "site_count": seats,
            "activations_left": "unlimited",
        }
    return {
        "license_limit": found.seat_limit,
        "site_count": seats,
        "activations_left": max(0, found.seat_limit - seats),
    }


def _item_fields(request: EddRequest, license: License | None) -> dict[str, Any]:
    name: str | None = request.item_name
    if not name:
        # EDD answers get_the_title(item_id): the mapped product's name, or ''
        product = None
        if request.item_id and license is not None:
            product = edd_items.product_for_item_id(license.vendor_id, request.item_id)
        name = product.name if product is not None else ""
    return {"item_id": request.item_id_arg, "item_name": name}


def activate(ctx: Context, request: EddRequest) -> dict[str, Any]:
    """Answer ``activate_license``: checks in EDD's order, then our seat guard."""
    found, fields = _gather(ctx, request)
    if found is None:
        return _answer(request, fields, {"success": False, "error": "missing"})
    site = canonical_site(request.url)
    decision = _decide(ctx, found.key, found.product, site)
    development = site is not None and domains.is_development_host(
        site, found.dev_patterns
    )
    error: str | None = None
    if site is None:
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
    elif _key_mismatch(request.license):
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
    result.update(_limits(found, seats))
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
    found, fields = _gather(ctx, request)
    removed = False
    if found is not None:
        site = canonical_site(request.url)
        decision = _decide(ctx, found.key, found.product, site)
        refused = (
            site is None
            or decision.code in _DISABLED
            or decision.code == "EXPIRED"
            or _key_mismatch(request.license)
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
    found, fields = _gather(ctx, request)
    status, seats = "invalid", 0
    if found is not None and not _key_mismatch(request.license):
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
        answer.update(_limits(found, seats))
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
