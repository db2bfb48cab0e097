"""Products: list, create, change settings and development patterns, archive."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from license_server import errors
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


def _render_form(product: Any, form_errors: dict[str, list[str]], status: int) -> Any:
    page = render_template(
        "dashboard/product_form.html",
        product=product,
        errors=form_errors,
        form=request.form if request.method == "POST" else None,
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
