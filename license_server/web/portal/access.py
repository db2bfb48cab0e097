"""The portal's vendor (from the URL), its signed-in customer, and errors as pages.

Every portal request names a vendor by slug; an unknown one is a 404 page. A
session counts only on the portal of the vendor it was started for. Endpoints
outside :data:`PUBLIC` need a signed-in customer.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Response

from license_server import errors
from license_server.extensions import db
from license_server.models import Vendor
from license_server.services import portal
from license_server.web.common import forms, sessions

log = logging.getLogger(__name__)
KIND = portal.KIND
PUBLIC = {
    "portal.sign_in",
    "portal.sign_in_with_key",
    "portal.link",
}
VIA = "portal_via"  # "link" or "key": how this browser's session began
BROWSER = "portal_browser"  # the value a link waiting for this browser is bound to
sessions.owns(KIND, VIA, BROWSER)


def pull_vendor(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Take the vendor's slug out of the URL's values."""
    g.vendor_slug = (values or {}).pop("vendor_slug", None)


def add_vendor(endpoint: str, values: dict[str, Any]) -> None:
    """Put the current vendor's slug into the portal's URLs."""
    if "vendor_slug" not in values and g.get("vendor_slug"):
        values["vendor_slug"] = g.vendor_slug


def before_request() -> Response | None:
    """Find the vendor, check CSRF on writes, load the customer, guard the pages."""
    g.portal_vendor, g.customer = None, None
    slug = g.get("vendor_slug")
    vendor = (
        db.session.scalar(select(Vendor).where(Vendor.slug == slug)) if slug else None
    )
    if vendor is None:
        raise NotFound()
    g.portal_vendor = vendor
    forms.protect()
    found = sessions.current(KIND)
    if found is not None and found.vendor_id == vendor.id:
        g.customer = portal.customer_of(
            found, by_link=session.get(VIA) == "link", now=sessions.now()
        )
    if request.endpoint in PUBLIC or g.customer is not None:
        return None
    return redirect(url_for("portal.sign_in"))


def vendor() -> Vendor:
    """Return the portal's vendor."""
    found: Vendor = g.portal_vendor
    return found


def customer_or_none() -> portal.Customer | None:
    """Return the signed-in customer, if any."""
    found: portal.Customer | None = g.get("customer")
    return found


def customer() -> portal.Customer:
    """Return the signed-in customer."""
    found: portal.Customer = g.customer
    return found


def public_url() -> str | None:
    """Return the server's public root URL for links in mail (ends with '/').

    ``LICENSE_SERVER_PUBLIC_URL`` is required outside the embedded default: a link
    built from the request's Host header could point anywhere.
    """
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return str(configured).rstrip("/") + "/"
    if current_app.config.get("EMBEDDED"):
        return request.host_url
    return None


def template_globals() -> dict[str, Any]:
    """Give templates the vendor, the customer and the area's name."""
    shop = g.get("portal_vendor")
    return {
        "portal_vendor": shop,
        "customer": g.get("customer"),
        "area_name": f"{shop.name} licences" if shop is not None else "Licences",
    }


HINTS = {
    400: "Go back, reload the page and try again.",
    401: "Check what you typed, or ask for a sign-in link by e-mail.",
    403: "",
    404: "It may have been removed, or the address was mistyped.",
    409: "Reload the page to see the current state, then try again.",
    422: "Go back and correct the form.",
    429: "Wait a while, then try again.",
}


def render_error(error: Exception) -> tuple[str, int]:
    """Render any error of a portal page as a page that says what to do."""
    if isinstance(error, errors.APIError):
        status, message = error.status_code, error.text
    elif isinstance(error, HTTPException):
        status = error.code or 500
        message = (
            "There is no page at this address."
            if status == 404
            else (error.description or error.name)
        )
    else:
        if isinstance(error, SQLAlchemyError):
            db.session.rollback()
        log.exception("portal error (request_id=%s)", errors.request_id())
        status, message = 500, "Something went wrong on our side."
    hint = HINTS.get(status, "")
    wait = getattr(error, "headers", {}).get("Retry-After")
    if status == 429 and wait and wait.isdigit():
        hours, minutes = divmod(-(-int(wait) // 60), 60)
        hint = (
            f"Try again in {hours} h {minutes} min."
            if hours
            else (f"Try again in {minutes} min.")
        )
    if status >= 500:
        hint = f"Try again in a minute. Reference: {errors.request_id()}."
    back = None
    if g.get("portal_vendor") is not None:
        back = url_for("portal.licences" if g.get("customer") else "portal.sign_in")
    page = render_template(
        "portal/error.html",
        heading={403: "Not allowed", 404: "Not found"}.get(status, "Cannot do that"),
        message=message,
        hint=hint,
        back=back,
    )
    return page, status
