"""Issuing licences: one (its key shown once) or a batch (a CSV of the new keys)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, render_template, request
from marshmallow import ValidationError

from license_server.schemas import admin as schemas
from license_server.services import licenses, products
from license_server.web.common import forms
from license_server.web.dashboard import access, bp


def _license_fields(form_errors: dict[str, list[str]]) -> dict[str, Any]:
    raw: dict[str, Any] = {"product": forms.text("product")}
    for name in ("customer_email", "customer_name", "notes"):
        if forms.optional(name):
            raw[name] = forms.optional(name)
    for name in ("expires_at", "updates_until"):
        if forms.optional(name):
            raw[name] = f"{forms.text(name)}T23:59:59+00:00"
    seats = forms.integer("max_domains", form_errors)
    if seats is not None:
        raw["max_domains"] = seats
    try:
        loaded: dict[str, Any] = schemas.LicenseIn().load(raw)
    except ValidationError as exc:
        form_errors.update({k: list(v) for k, v in exc.messages.items()})  # type: ignore[union-attr]
        return {}
    return loaded


@bp.route("/licenses/new", methods=["GET", "POST"])
@access.require("support")
def license_new() -> Any:
    """Issue one licence (its key shown once) or a batch (a CSV of the new keys)."""
    items = products.list_products(vendor_id=access.vendor_id())
    if request.method == "GET":
        return render_template("dashboard/license_new.html", products=items, errors={})
    form_errors: dict[str, list[str]] = {}
    count = forms.integer("count", form_errors) or 1
    fields = _license_fields(form_errors)
    if not 1 <= count <= licenses.MAX_BATCH:
        form_errors["count"] = [f"Issue 1 to {licenses.MAX_BATCH:,} at once."]
    if form_errors:
        page = render_template(
            "dashboard/license_new.html",
            products=items,
            errors=form_errors,
            form=request.form,
        )
        return page, 422
    issued = licenses.create_licenses(count=count, **access.scoped(), **fields)
    if count == 1:
        license, key = issued[0]
        return render_template("dashboard/key_shown.html", license=license, key=key)
    return _keys_csv(issued)


def _keys_csv(issued: list[tuple[Any, str]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "key", "product", "customer_email", "expires_at"])
    for license, key in issued:
        expires = license.expires_at.isoformat() if license.expires_at else ""
        writer.writerow(
            [
                license.id,
                key,
                license.product.slug,
                license.customer_email or "",
                expires,
            ]
        )
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="new-licences.csv"'},
    )
