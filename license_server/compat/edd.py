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
from license_server.services import activations, common
from license_server.signing import SignerCache

_DISABLED = frozenset({"REVOKED", "SUSPENDED"})


@dataclass(frozen=True)
class Context:
    """What every EDD action needs from the request, and the vendor in scope."""

    keyring: Keyring
    signer: SignerCache
    now: datetime
    client_address: str | None
    last_seen_interval: int
    vendor_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Decision:
    """Our decision about a licence (on a site, when one is given)."""

    code: str
    site_active: bool
    seats_taken: int


def _decide(
    ctx: Context, license: License, site: str | None, *, counted: bool = False
) -> Decision:
    """Ask the validation service about ``license`` on ``site``: the one adapter.

    ``counted`` (``check_license``) runs the validate use case itself: signed,
    counted in stats, last-seen recorded. It reads on a pooled connection of its
    own, so the session's is handed back first (one connection per request, as on
    ``/v1/validate``). Activation and deactivation decide inside their session, as
    ``/v1/activate`` does. Without a site, only the licence's own state counts.
    """
    from license_server.services import validation

    if site is None:
        code = validation.license_state(license, license.product, ctx.now)
        if code is validation.ResultCode.VALID:
            code = validation.ResultCode.DOMAIN_NOT_ACTIVATED
        return Decision(str(code), False, validation.active_domain_count(license.id))
    if counted:
        db.session.close()
        answer = validation.validate(
            keyring=ctx.keyring,
            signer=ctx.signer,
            license_key=key_text(ctx, license),
            domain=site,
            product=license.product.slug,
            nonce=None,
            now=ctx.now,
            last_seen_interval=ctx.last_seen_interval,
        )
        seats = int((answer.lic or {}).get("active_domains", 0))
        return Decision(str(answer.code), answer.activation_id is not None, seats)
    decided = validation.decide(
        keyring=ctx.keyring,
        license_key=key_text(ctx, license),
        domain=site,
        product=license.product.slug,
        nonce=None,
        now=ctx.now,
    )
    active = validation.live_activation(license.id, site) is not None
    return Decision(
        str(decided.code), active, validation.active_domain_count(license.id)
    )


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


def _facts(license: License) -> EddLicense | None:
    return db.session.get(EddLicense, license.id)


def _live_sites(license: License) -> int:
    count = db.session.scalar(
        select(func.count())
        .select_from(Activation)
        .where(Activation.license_id == license.id, Activation.deactivated_at.is_(None))
    )
    return int(count or 0)


def expires_text(license: License, now: datetime) -> str:
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


def _limits(license: License, seats: int) -> dict[str, Any]:
    facts = _facts(license)
    if facts is not None and facts.unlimited:
        return {
            "license_limit": 0,
            "site_count": seats,
            "activations_left": "unlimited",
        }
    limit = license.seat_limit
    return {
        "license_limit": limit,
        "site_count": seats,
        "activations_left": max(0, limit - seats),
    }


def _customer(license: License) -> dict[str, Any]:
    facts = _facts(license)
    price = facts.price_id if facts is not None else None
    return {
        "payment_id": facts.payment_id if facts is not None else 0,
        "customer_name": license.customer_name or "",
        "customer_email": license.customer_email or "",
        "price_id": price if price is not None and price.isdigit() else False,
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
    license = find_license(ctx, request.license)
    if license is None:
        return _activation_answer(request, None, {"success": False, "error": "missing"})
    site = canonical_site(request.url)
    decision = _decide(ctx, license, site)
    development = site is not None and domains.is_development_host(
        site, license.product.dev_patterns or ()
    )
    unlimited = (facts := _facts(license)) is not None and facts.unlimited
    error: str | None = None
    if site is None:
        error = "missing_url"
    elif decision.code in _DISABLED:
        error = "disabled"
    elif (
        not development
        and not unlimited
        and not decision.site_active
        and decision.seats_taken >= license.seat_limit
    ):
        error = "no_activations_left"
    elif decision.code == "EXPIRED":
        error = "expired"
    elif _key_mismatch(request.license):
        error = "key_mismatch"
    else:
        error = _item_error(request, license, by_id=True)
    seats = decision.seats_taken
    if error is None and site is not None:
        error, seats = _take_seat(ctx, license, site, request.environment)
    result: dict[str, Any] = {"success": error is None}
    if error is not None:
        result["error"] = error
        if error == "no_activations_left":
            result["max_sites"] = seats  # EDD's max_sites is the site count
    elif development:
        result["is_local"] = True
    result.update(_limits(license, seats))
    return _activation_answer(request, license, result, ctx.now)


def _take_seat(
    ctx: Context, license: License, site: str, environment: str
) -> tuple[str | None, int]:
    """Activate through the activation service; map a refusal to EDD's error."""
    try:
        answer, _created = activations.activate(
            keyring=ctx.keyring,
            signer=ctx.signer,
            license_key=key_text(ctx, license),
            domain=site,
            product=license.product.slug,
            nonce=None,
            environment=environment[:32],
            client_address=ctx.client_address,
            now=ctx.now,
            last_seen_interval=ctx.last_seen_interval,
        )
    except activations.ActivationRefused as refusal:
        seats = int((refusal.detail.get("license") or {}).get("active_domains", 0))
        refused = {
            "ACTIVATION_LIMIT_REACHED": "no_activations_left",
            "EXPIRED": "expired",
        }
        return refused.get(refusal.code, "disabled"), seats
    return None, int((answer.lic or {}).get("active_domains", 0))


def _activation_answer(
    request: EddRequest,
    license: License | None,
    result: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    answer = {
        "success": bool(result["success"]),
        "license": "valid" if result["success"] else "invalid",
        **_item_fields(request, license),
        **result,
        "checksum": request.checksum(),
    }
    if license is not None and now is not None:
        answer["expires"] = expires_text(license, now)
        answer.update(_customer(license))
    return answer


def deactivate(ctx: Context, request: EddRequest) -> dict[str, Any]:
    """Answer ``deactivate_license``: EDD's refusals, then our deactivation service."""
    license = find_license(ctx, request.license)
    removed = False
    if license is not None:
        site = canonical_site(request.url)
        decision = _decide(ctx, license, site)
        refused = (
            site is None
            or decision.code in _DISABLED
            or decision.code == "EXPIRED"
            or _key_mismatch(request.license)
            or _item_error(request, license, by_id=False) is not None
        )
        if not refused and site is not None:
            removed = _free_seat(ctx, license, site)
    answer: dict[str, Any] = {
        "success": removed,
        "license": "deactivated" if removed else "failed",
        **_item_fields(request, license),
        "checksum": request.checksum(),
    }
    if license is not None:
        answer["expires"] = expires_stamp(license)
        answer.update(_customer(license))
    return answer


def _free_seat(ctx: Context, license: License, site: str) -> bool:
    try:
        activations.deactivate(
            keyring=ctx.keyring,
            license_key=key_text(ctx, license),
            domain=site,
            client_address=ctx.client_address,
            now=ctx.now,
        )
    except errors.APIError:
        db.session.rollback()
        return False
    return True


def check(ctx: Context, request: EddRequest) -> dict[str, Any]:
    """Answer ``check_license`` with EDD's status word, from our decision."""
    license = find_license(ctx, request.license)
    status, seats = "invalid", 0
    if license is not None and not _key_mismatch(request.license):
        item = _item_error(request, license, by_id=True)
        site = None if item else canonical_site(request.url)
        decision = _decide(ctx, license, site, counted=True)
        seats = decision.seats_taken
        status = item or _check_status(license, decision.code, ctx.now)
    answer: dict[str, Any] = {
        "success": status != "invalid",
        "license": status,
        **_item_fields(request, license),
        "checksum": request.checksum(),
    }
    if status != "invalid" and license is not None:
        answer["expires"] = expires_text(license, ctx.now)
        answer.update(_customer(license))
        answer.update(_limits(license, seats))
    return answer


def _check_status(license: License, code: str, now: datetime) -> str:
    lapsed = license.expires_at is not None and license.expires_at <= now
    if code == "EXPIRED" or (
        code in _DISABLED and lapsed and license.product.expiry_policy == "restrict"
    ):
        return "expired"  # EDD checks expiry before the disabled state
    if code in _DISABLED:
        return "disabled"
    if code == "VALID":
        return "valid"
    return "site_inactive" if _live_sites(license) else "inactive"


__all__ = ["Context", "activate", "check", "deactivate", "find_license"]
