"""EDD ``get_version``: which product a request means, and EDD's answer shape.

The item is resolved as EDD resolves it: by ``item_id``, else by ``item_name`` (or
the sample theme's ``name``) when no key is sent, else by the key's product; a key
of another product answers ``License key is not valid for …``. A batch
(``products[slug][…]``) answers one object per slug. Item ids and names are looked
up in the vendor's scope: the key's vendor, or the ``/edd/<vendor>/`` path's (a
keyless request on ``/`` cannot say which store's item it means, and is answered as
an unknown item).

Releases come from the updates work through :mod:`license_server.compat.edd_offer`
(the update check's entitlement rules, its short-lived package URLs served on
``/edd-sl/package_download/<token>``); ``url`` is the changelog view
(``?changelog=1&download=<slug>`` on the path the request came to). Error answers
carry ``banners: []``, ``icons: []`` (not serialised) and ``sections: ''``, as
EDD's do; the others carry them serialised, as EDD sends them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_plus

from license_server.compat import edd_items, edd_offer, php
from license_server.compat.edd import Context
from license_server.compat.edd_found import canonical_site, find_for_item, key_text
from license_server.compat.edd_request import EddRequest
from license_server.extensions import db
from license_server.models import Product
from license_server.updates import UpdateRuntime


@dataclass(frozen=True)
class Links:
    """Where this request's answers point, and the update path's state."""

    updates: UpdateRuntime
    root: str  # this server's root URL, ending in /
    here: str  # the EDD path the request came to, ending in /
    fallback_url: str  # the request's url (or the User-Agent's site)


def _empty(msg: str) -> dict[str, Any]:
    return {
        "new_version": "",
        "stable_version": "",
        "sections": "",
        "license_check": "",
        "msg": msg,
        "homepage": "",
        "package": "",
        "icons": [],
        "banners": [],
    }


def _text(data: dict[str, Any], name: str, *, raw: bool = False) -> str:
    value = data.get(name)
    if value is None or isinstance(value, dict | list):
        return ""
    return (unquote if raw else unquote_plus)(str(value)).strip()


def _single(ctx: Context, data: dict[str, Any], links: Links) -> dict[str, Any]:
    license_text = _text(data, "license")
    item_id = php.absint(data.get("item_id")) if "item_id" in data else 0
    item_name = _text(data, "item_name", raw=True)
    if not item_name and not item_id:
        item_name = _text(data, "name", raw=True)
    if not item_id and not item_name:
        return _empty("No item provided")
    license = (
        find_for_item(ctx, license_text, item_id or None, item_name or None)
        if license_text
        else None
    )
    vendor_id: uuid.UUID | None = license.vendor_id if license else ctx.vendor_id
    product = _product(
        vendor_id, item_id, item_name, license, by_key=bool(license_text)
    )
    if product is None:
        what = "License key" if license_text else "Item name"
        return _empty(f"{what} provided does not match a valid Download")
    message = ""
    if not license_text:
        message = "No license key has been provided."
    elif (
        license is None
        or license.product_id != product.id
        or (item_name and not edd_items.name_matches(product, item_name))
    ):
        return _empty(f"License key is not valid for {item_name or product.name}")
    slug, name = product.slug, product.name
    key = key_text(ctx, license) if license is not None else None  # a child's, too
    url = _text(data, "url") or links.fallback_url
    db.session.close()  # the decision reads on the runtime's own connections
    offer = edd_offer.offer(
        ctx,
        links.updates,
        product=slug,
        license_key=key,
        site=canonical_site(url),
        installed=_text(data, "version"),
        beta=not php.is_empty(data.get("beta")),
        wp_version=_text(data, "wp_version"),
        php_version=_text(data, "php_version"),
        package_base=links.root,
    )
    answer = _answer(slug, name, offer, data, links)
    if message or offer.msg:
        answer["msg"] = message or offer.msg
    return answer


def _product(
    vendor_id: uuid.UUID | None,
    item_id: int,
    item_name: str,
    license: Any,
    *,
    by_key: bool,
) -> Product | None:
    if vendor_id is None:
        return None
    if item_id:
        return edd_items.product_for_item_id(vendor_id, item_id)
    if by_key:
        return license.product if license is not None else None
    return edd_items.product_for_item_name(vendor_id, item_name)


def _answer(
    slug: str,
    name: str,
    offer: edd_offer.Offer,
    data: dict[str, Any],
    links: Links,
) -> dict[str, Any]:
    icons: dict[str, str] | list[str] = {
        size: offer.icons[size] for size in ("1x", "2x") if offer.icons.get(size)
    }
    return {
        "new_version": offer.new_version,
        "stable_version": offer.stable_version,
        "name": name,
        "slug": _text(data, "slug") or slug,
        "url": f"{links.here}?changelog=1&download={slug}",
        "last_updated": offer.last_updated,
        "homepage": offer.homepage,
        "package": offer.package,
        "download_link": offer.package,
        "sections": php.serialize(
            {"description": offer.description, "changelog": offer.changelog}
        ),
        "banners": php.serialize(
            {
                "high": offer.banners.get("high", ""),
                "low": offer.banners.get("low", ""),
            }
        ),
        "icons": php.serialize(icons or []),
        "tested": offer.tested,
        "requires": offer.requires,
        "requires_php": offer.requires_php,
    }


def get_version(ctx: Context, request: EddRequest, links: Links) -> dict[str, Any]:
    """Answer ``get_version``, single or batched (``products[slug][…]``)."""
    data = request.data
    try:
        if "products" not in data:
            return _single(ctx, data, links)
        products = data["products"]
        if php.is_empty(products) or not isinstance(products, dict):
            return {"msg": "No item provided"}
        return {
            str(slug): _single(ctx, item if isinstance(item, dict) else {}, links)
            for slug, item in products.items()
        }
    finally:
        db.session.close()
