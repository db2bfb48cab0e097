"""Licences: search and filters, a licence's page and its actions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response as Redirect

from license_server import errors
from license_server.extensions import db
from license_server.models import Vendor
from license_server.schemas import admin as schemas
from license_server.services import activations, events, licenses, moves, products
from license_server.web.common import forms, sessions
from license_server.web.dashboard import access, bp
from license_server.web.portal import access as portal_access

PAGE = 25
# action -> (role, question, warning) ; a warning means "asks for confirmation"
STATUS_ACTIONS = {
    "suspend": ("support", "", ""),
    "reinstate": ("support", "", ""),
    "revoke": (
        "owner",
        "Revoke this licence?",
        "A revoked licence stops working on every site and cannot be reinstated.",
    ),
}


def _filter_args() -> dict[str, Any]:
    args = request.args
    narrowing: dict[str, Any] = {}
    if args.get("product"):
        narrowing["product"] = args["product"]
    if args.get("status") in {"active", "suspended", "revoked"}:
        narrowing["status"] = args["status"]
    if args.get("expiring") == "30":
        now = sessions.now()
        narrowing["expires_after"] = now
        narrowing["expires_before"] = now + timedelta(days=30)
    return narrowing


@bp.get("/licenses", endpoint="licenses")
@access.require("viewer")
def licenses_page() -> str:
    """Search licences by key, e-mail, domain or name; filter; page through."""
    query = request.args.get("q", "")
    where = licenses.search_filter(query, **_filter_args())
    try:
        page = licenses.list_licenses(
            keyring=sessions.keyring(),
            vendor_id=access.vendor_id(),
            where=where,
            cursor=request.args.get("cursor") or None,
            limit=PAGE,
        )
        problem = None
    except (errors.InvalidDomain, errors.InvalidKeyFormat, errors.APIError) as exc:
        page, problem = None, exc.text
    return render_template(
        "dashboard/licenses.html",
        page=page,
        problem=problem,
        query=query,
        products=products.list_products(vendor_id=access.vendor_id()),
        args=request.args,
        searched_by=_searched_by(where),
        first_url=_page_url(None),
        next_url=_page_url(page.next if page else None),
    )


def _page_url(cursor: str | None) -> str:
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "cursor"}
    if cursor:
        args["cursor"] = cursor
    return url_for("dashboard.licenses", **args)


def _searched_by(where: licenses.LicenseFilter) -> str:
    for name, label in (
        ("key", "licence key"),
        ("customer_email", "e-mail"),
        ("domain", "domain"),
        ("customer_name", "customer name"),
    ):
        if getattr(where, name):
            return label
    return ""


@bp.get("/licenses/<uuid:license_id>")
@access.require("viewer")
def license_page(license_id: uuid.UUID) -> str:
    """Show a licence: its fields, its activations, its events, its actions."""
    vendor = access.vendor_id()
    license = licenses.get_license(vendor_id=vendor, license_id=license_id)
    sites = activations.list_for_vendor(
        vendor_id=vendor, license_id=license.id, limit=100
    ).data
    history = events.license_timeline(vendor_id=vendor, license_id=license.id)
    return render_template(
        "dashboard/license.html",
        license=license,
        sites=sites,
        history=history,
        status_actions=STATUS_ACTIONS,
    )


def _confirmed() -> bool:
    return request.form.get("confirm") == "yes"


def _confirm_page(question: str, warning: str, button: str, back: str) -> str:
    return render_template(
        "dashboard/confirm.html",
        question=question,
        warning=warning,
        button=button,
        action=request.path,
        cancel=back,
        hidden={k: v for k, v in request.form.items() if k not in {"csrf_token"}},
    )


@bp.post("/licenses/<uuid:license_id>/status/<change>")
@access.require("support")
def license_status(license_id: uuid.UUID, change: str) -> Any:
    """Suspend, reinstate or revoke a licence (revoking asks first)."""
    if change not in STATUS_ACTIONS:
        raise errors.NotFound("No such action.")
    role, question, warning = STATUS_ACTIONS[change]
    if not access.can(role):
        raise access.RoleForbidden()
    back = url_for("dashboard.license_page", license_id=license_id)
    licenses.get_license(vendor_id=access.vendor_id(), license_id=license_id)
    if warning and not _confirmed():
        return _confirm_page(question, warning, f"Yes, {change}", back)
    licenses.change_status(license_id=license_id, change=change, **access.scoped())
    flash(f"Licence {change}d." if change != "revoke" else "Licence revoked.", "ok")
    return redirect(back)


@bp.post("/licenses/<uuid:license_id>/renew")
@access.require("support")
def license_renew(license_id: uuid.UUID) -> Redirect:
    """Extend a licence's expiry and updates by a number of days."""
    fields: dict[str, list[str]] = {}
    days = forms.integer("days", fields)
    if fields or days is None or not 1 <= days <= 3650:
        raise errors.ValidationFailed("Renew by 1 to 3,650 days.")
    licenses.renew_license(license_id=license_id, days=days, **access.scoped())
    flash(f"Licence renewed by {days} days.", "ok")
    return redirect(url_for("dashboard.license_page", license_id=license_id))


@bp.post("/licenses/<uuid:license_id>/key")
@access.require("support")
def license_key(license_id: uuid.UUID) -> str:
    """Show a licence's key to support staff (to send it to the customer again)."""
    license = licenses.get_license(vendor_id=access.vendor_id(), license_id=license_id)
    key = licenses.reveal_key(keyring=sessions.keyring(), license=license)
    return render_template("dashboard/key_shown.html", license=license, key=key)


@bp.post("/licenses/<uuid:license_id>/regenerate-key")
@access.require("owner")
def license_regenerate(license_id: uuid.UUID) -> str:
    """Give a licence a new key (asks first: the old key stops working)."""
    back = url_for("dashboard.license_page", license_id=license_id)
    license = licenses.get_license(vendor_id=access.vendor_id(), license_id=license_id)
    if not _confirmed():
        return _confirm_page(
            "Give this licence a new key?",
            "The current key stops working at once; the customer needs the new one.",
            "Yes, make a new key",
            back,
        )
    license, key = licenses.regenerate_key(license_id=license.id, **access.scoped())
    return render_template("dashboard/key_shown.html", license=license, key=key)


@bp.post("/activations/<uuid:activation_id>/deactivate")
@access.require("support")
def activation_deactivate(activation_id: uuid.UUID) -> Any:
    """Deactivate a site (asks first); its seat is free at once."""
    site = activations.get_for_vendor(
        vendor_id=access.vendor_id(), activation_id=activation_id
    )
    back = url_for("dashboard.license_page", license_id=site.license_id)
    if not _confirmed():
        return _confirm_page(
            f"Deactivate {site.domain}?",
            "The site loses its licence at its next check and must be activated again.",
            "Yes, deactivate",
            back,
        )
    activations.deactivate_for_vendor(activation_id=site.id, **access.scoped())
    flash(f"{site.domain} is deactivated; its seat is free.", "ok")
    return redirect(back)


@bp.post("/activations/<uuid:activation_id>/move")
@access.require("support")
def activation_move(activation_id: uuid.UUID) -> Redirect:
    """Move a site to another domain in one step: the portal's move, by staff.

    One transaction, one ``activation.moved`` event (and webhook), the customer's
    ``domain_moved`` mail; it does not count against the licence's deactivation
    limit (docs/PORTAL.md, "Limits on cycling").
    """
    moved = moves.staff_move(
        activation_id=activation_id,
        domain=forms.text("domain"),
        portal_url=_portal_url(),
        **access.scoped(),
    )
    flash(f"Moved to {moved.new.domain}.", "ok")
    return redirect(url_for("dashboard.license_page", license_id=moved.new.license_id))


def _portal_url() -> str | None:
    """The customer portal's address for the vendor, for the mail (None: unknown)."""
    base = portal_access.public_url()
    vendor = db.session.get(Vendor, access.vendor_id())
    if base is None or vendor is None:
        return None
    return base.rstrip("/") + url_for("portal.licences", vendor_slug=vendor.slug)


@bp.post("/licenses/<uuid:license_id>/edit")
@access.require("support")
def license_edit(license_id: uuid.UUID) -> Redirect:
    """Change a licence's customer, seats or notes (empty clears a field)."""
    form_errors: dict[str, list[str]] = {}
    raw: dict[str, Any] = {
        name: forms.optional(name)
        for name in ("customer_email", "customer_name", "notes")
    }
    raw["max_domains"] = forms.integer("max_domains", form_errors)
    try:
        changes: dict[str, Any] = schemas.LicensePatch().load(raw)
    except ValidationError as exc:
        messages = "; ".join(
            f"{name}: {' '.join(map(str, texts))}"
            for name, texts in exc.messages.items()  # type: ignore[union-attr]
        )
        raise errors.ValidationFailed(f"Not saved: {messages}") from exc
    if form_errors:
        raise errors.ValidationFailed("Seats must be a whole number.")
    licenses.update_license(license_id=license_id, changes=changes, **access.scoped())
    flash("Licence saved.", "ok")
    return redirect(url_for("dashboard.license_page", license_id=license_id))
