"""What the EDD answers need of a licence, read before our services run.

Everything is read through the session first (the licence, EDD's facts about it,
the item checks, the store's time zone) and the session's connection is handed back
before the services run: they read on the runtime's own pooled connections (and
activation takes the licence's lock), so an EDD request holds one connection at a
time, as ``/v1/activate`` does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from license_server import domains, keys
from license_server.compat import edd_items
from license_server.compat.edd_request import EddRequest
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Activation, EddLicense, License
from license_server.runtime import Runtime
from license_server.services import common, licenses


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


def key_text(ctx: Context, license: License) -> str:
    """Return a licence's key, for the services that take one."""
    # sealed bound to its row: a ciphertext moved here does not open (409)
    return licenses.reveal_key(keyring=ctx.keyring, license=license)


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


def key_mismatch(text: str) -> bool:
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


def gather(ctx: Context, request: EddRequest) -> tuple[Found | None, dict[str, Any]]:
    """Read what the answer needs, then hand the session's connection back."""
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


def limits(found: Found, seats: int) -> dict[str, Any]:
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
