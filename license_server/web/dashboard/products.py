"""Products: list, create, change settings and development patterns, archive."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from license_server import errors
from license_server.compat import edd_items
from license_server.compat.edd_admin import EddItemsIn
from license_server.schemas import admin as schemas
from license_server.services import products
from license_server.web.common import forms
from license_server.web.dashboard import access, bp

NUMBERS = (
    "max_domains",
    "max_dev_domains",
    "max_deactivations",
    "token_ttl",
    "grace_period",
)


@bp.get("/products", endpoint="products")
@access.require("viewer")
def products_page() -> str:
    """List the vendor's products."""
    items = products.list_products(vendor_id=access.vendor_id())
    return render_template("dashboard/products.html", products=items)


def _form_values(form_errors: dict[str, list[str]], creating: bool) -> dict[str, Any]:
    raw: dict[str, Any] = {"name": forms.text("name")}
    if creating:
        raw["slug"] = forms.text("slug")
        raw["key_prefix"] = forms.text("key_prefix")
    for name in NUMBERS:
        value = forms.integer(name, form_errors)
        if value is not None or name == "max_dev_domains":
            raw[name] = value
    raw["expiry_policy"] = forms.text("expiry_policy") or "allow"
    patterns = request.form.get("dev_patterns", "")
    raw["dev_patterns"] = [
        line.strip() for line in patterns.splitlines() if line.strip()
    ]
    schema = schemas.ProductIn() if creating else schemas.ProductPatch()
    try:
        loaded: dict[str, Any] = schema.load(raw)
    except ValidationError as exc:
        form_errors.update({k: list(v) for k, v in exc.messages.items()})  # type: ignore[union-attr]
        return {}
    return loaded


def _render_form(
    product: Any,
    form_errors: dict[str, list[str]],
    status: int,
    edd_form: dict[str, str] | None = None,
) -> Any:
    mapping = None
    if product is not None:
        mapping = edd_items.get_mapping(
            vendor_id=access.vendor_id(), product_id=product.id
        )
    page = render_template(
        "dashboard/product_form.html",
        product=product,
        errors=form_errors,
        form=request.form if request.method == "POST" and edd_form is None else None,
        edd=mapping,
        edd_form=edd_form,
    )
    return page, status


@bp.route("/products/new", methods=["GET", "POST"])
@access.require("owner")
def product_new() -> Any:
    """Create a product and its licensing policy."""
    if request.method == "GET":
        return _render_form(None, {}, 200)
    form_errors: dict[str, list[str]] = {}
    values = _form_values(form_errors, creating=True)
    if form_errors:
        return _render_form(None, form_errors, 422)
    try:
        product = products.create_product(**access.scoped(), **values)
    except errors.ValidationFailed as exc:
        return _render_form(None, forms.field_errors(exc), 422)
    flash(f"Product {product.name} created.", "ok")
    return redirect(url_for("dashboard.product_page", product_id=product.id))


@bp.route("/products/<uuid:product_id>", methods=["GET", "POST"])
@access.require("viewer")
def product_page(product_id: uuid.UUID) -> Any:
    """Show a product's settings; owners change them here."""
    product = products.get_product(vendor_id=access.vendor_id(), product_id=product_id)
    if request.method == "GET":
        return _render_form(product, {}, 200)
    if not access.can("owner"):
        raise access.RoleForbidden()
    form_errors: dict[str, list[str]] = {}
    values = _form_values(form_errors, creating=False)
    if form_errors:
        return _render_form(product, form_errors, 422)
    try:
        products.update_product(
            product_id=product.id, changes=values, **access.scoped()
        )
    except errors.ValidationFailed as exc:
        return _render_form(product, forms.field_errors(exc), 422)
    flash("Settings saved.", "ok")
    return redirect(url_for("dashboard.product_page", product_id=product.id))


@bp.post("/products/<uuid:product_id>/archive")
@access.require("owner")
def product_archive(product_id: uuid.UUID) -> Any:
    """Archive a product (no new licences) or restore it."""
    archived = request.form.get("archived") == "yes"
    products.set_archived(product_id=product_id, archived=archived, **access.scoped())
    flash("Product archived." if archived else "Product restored.", "ok")
    return redirect(url_for("dashboard.product_page", product_id=product_id))


def _flatten(found: Any) -> list[str]:
    """Return marshmallow's nested messages (per list item) as one list."""
    if isinstance(found, dict):
        return [m for value in found.values() for m in _flatten(value)]
    if isinstance(found, list):
        return [m for value in found for m in _flatten(value)]
    return [str(found)]


def _edd_values(form_errors: dict[str, list[str]]) -> dict[str, Any]:
    ids: list[Any] = []
    for part in request.form.get("item_ids", "").replace(",", " ").split():
        try:
            ids.append(int(part))
        except ValueError:
            form_errors["item_ids"] = [f"{part!r} is not a number: give EDD post ids."]
    names = [
        line.strip()
        for line in request.form.get("item_names", "").splitlines()
        if line.strip()
    ]
    try:
        loaded: dict[str, Any] = EddItemsIn().load(
            {"item_ids": ids, "item_names": names}
        )
    except ValidationError as exc:
        for name, messages in exc.messages.items():  # type: ignore[union-attr]
            form_errors[name] = _flatten(messages)
        return {}
    return loaded


@bp.post("/products/<uuid:product_id>/edd")
@access.require("owner")
def product_edd(product_id: uuid.UUID) -> Any:
    """Set the EDD item ids and names this product answers for."""
    product = products.get_product(vendor_id=access.vendor_id(), product_id=product_id)
    form_errors: dict[str, list[str]] = {}
    values = _edd_values(form_errors)
    edd_form = {
        "item_ids": request.form.get("item_ids", ""),
        "item_names": request.form.get("item_names", ""),
    }
    if form_errors:
        return _render_form(product, form_errors, 422, edd_form)
    try:
        edd_items.set_mapping(product_id=product.id, **access.scoped(), **values)
    except errors.ValidationFailed as exc:
        return _render_form(product, forms.field_errors(exc), 422, edd_form)
    except edd_items.EddItemTaken as exc:
        return _render_form(product, {"item_ids": [exc.text]}, 409, edd_form)
    flash("EDD mapping saved.", "ok")
    return redirect(url_for("dashboard.product_page", product_id=product.id))
