"""EDD ``get_version``: which product a request means, and EDD's answer shape.

The item is resolved as EDD resolves it: by ``item_id``, else by ``item_name`` (or
the sample theme's ``name``) when no key is sent, else by the key's product; a key
of another product answers ``License key is not valid for …``. A batch
(``products[slug][…]``) answers one object per slug. Item ids and names are looked
up in the vendor's scope: the key's vendor, or the ``/edd/<vendor>/`` path's (a
keyless request on ``/`` cannot say which store's item it means, and is answered as
an unknown item).

Releases, their package URLs and the changelog page come from the updates work
(docs/EDD.md §6): until it is merged, :func:`latest_release` knows none, so every
answer offers no update (``new_version`` empty), which EDD's updaters read as
"nothing to install". Error answers carry ``banners: []``, ``icons: []`` (not
serialised) and ``sections: ''``, as EDD's do; the others carry them serialised.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_plus

from license_server.compat import edd_items, php
from license_server.compat.edd import Context, find_license
from license_server.compat.edd_request import EddRequest
from license_server.extensions import db
from license_server.models import Product


@dataclass(frozen=True)
class Release:
    """What EDD's answer says of a release (the updates work provides them)."""

    version: str
    changelog_html: str
    last_updated: str
    package: str


def latest_release(product: Product, *, beta: bool) -> Release | None:
    """Return the newest release the site may see (none until releases land)."""
    return None


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


def _single(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    license_text = _text(data, "license")
    item_id = php.absint(data.get("item_id")) if "item_id" in data else 0
    item_name = _text(data, "item_name", raw=True)
    if not item_name and not item_id:
        item_name = _text(data, "name", raw=True)
    if not item_id and not item_name:
        return _empty("No item provided")
    license = find_license(ctx, license_text) if license_text else None
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
    beta = not php.is_empty(data.get("beta"))
    answer = _answer(product, latest_release(product, beta=beta), data)
    if message:
        answer["msg"] = message
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
    product: Product, release: Release | None, data: dict[str, Any]
) -> dict[str, Any]:
    version = release.version if release else ""
    slug = _text(data, "slug") or product.slug
    return {
        "new_version": version,
        "stable_version": version,
        "name": product.name,
        "slug": slug,
        "url": "",
        "last_updated": release.last_updated if release else "",
        "homepage": "",
        "package": release.package if release else "",
        "download_link": release.package if release else "",
        "sections": php.serialize(
            {
                "description": "",
                "changelog": release.changelog_html if release else "",
            }
        ),
        "banners": php.serialize({"high": "", "low": ""}),
        "icons": php.serialize([]),
    }


def get_version(ctx: Context, request: EddRequest) -> dict[str, Any]:
    """Answer ``get_version``, single or batched (``products[slug][…]``)."""
    data = request.data
    try:
        if "products" not in data:
            return _single(ctx, data)
        products = data["products"]
        if php.is_empty(products) or not isinstance(products, dict):
            return {"msg": "No item provided"}
        return {
            str(slug): _single(ctx, item if isinstance(item, dict) else {})
            for slug, item in products.items()
        }
    finally:
        db.session.close()
