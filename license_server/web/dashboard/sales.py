"""The sales channels page: store connections, Envato settings, the inbound log."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from license_server import errors
from license_server.channels import connections, envato
from license_server.models.channels import Outcome
from license_server.web.dashboard import access, bp


@bp.get("/sales", endpoint="sales")
@access.require("viewer")
def sales_page() -> str:
    """Show the vendor's store connections and their inbound events, newest first."""
    vendor_id = access.vendor_id()
    outcome = request.args.get("outcome") or None
    if outcome not in {item.value for item in Outcome}:
        outcome = None
    page = connections.list_events(
        vendor_id=vendor_id,
        outcome=outcome,
        cursor=request.args.get("cursor") or None,
        limit=50,
    )
    args: dict[str, Any] = {"outcome": outcome} if outcome else {}
    next_url = url_for("dashboard.sales", **args, cursor=page.next) if page.next else ""
    stores = connections.list_connections(vendor_id=vendor_id)
    flagged = envato.list_products(vendor_id=vendor_id)
    slugs = connections.product_slugs(vendor_id, {row.product_id for row in flagged})
    return render_template(
        "dashboard/sales.html",
        stores=stores,
        names={store.id: store.name for store in stores},
        base=request.host_url.rstrip("/"),
        account=_account(vendor_id),
        flagged=[(slugs.get(row.product_id, "?"), row) for row in flagged],
        page=page,
        outcome=outcome,
        outcomes=[item.value for item in Outcome],
        next_url=next_url,
    )


def _account(vendor_id: Any) -> Any:
    try:
        return envato.get_account(vendor_id=vendor_id)
    except errors.NotFound:
        return None
