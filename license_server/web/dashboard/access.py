"""Who is signed in, what their role allows, and errors as pages.

Every dashboard request runs :func:`before_request`: CSRF on writes, then the
session; endpoints outside :data:`PUBLIC` need a signed-in user whose second
factor is done. :func:`require` guards a view by role.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from license_server import errors
from license_server.extensions import db
from license_server.models.users import ROLE_RANK, StaffRole, StaffUser
from license_server.services import staff
from license_server.web.common import forms, sessions

log = logging.getLogger(__name__)
KIND = staff.KIND
NEXT, TOTP_PENDING = "next", "totp_pending"  # the cookie keys besides the token
sessions.owns(KIND, NEXT, TOTP_PENDING)
PUBLIC = {
    "dashboard.login",
    "dashboard.accept_invitation",
    "dashboard.reset_password",
}
SECOND_FACTOR = {"dashboard.second_factor", "dashboard.logout"}
# forms that carry a release package: their body may be as large as one
UPLOADS = {"dashboard.release_create", "dashboard.release_package"}
View = TypeVar("View", bound=Callable[..., Any])


class RoleForbidden(errors.APIError):
    status_code, code, message = (
        403,
        "ROLE_FORBIDDEN",
        "Your role does not allow this. Ask an owner of your team if you need it.",
    )


def before_request() -> Response | None:
    """Check CSRF on writes, load the session, send strangers to sign in."""
    found = sessions.current(KIND)
    user = db.session.get(StaffUser, found.subject_id) if found else None
    if user is not None and user.disabled_at is not None:
        user = None
    g.staff_session, g.staff_user = (found, user) if user else (None, None)
    if request.endpoint in UPLOADS and found and not found.pending_second_factor:
        # only a signed-in owner may send a body as large as a package
        if can("owner"):
            from license_server.web.dashboard import releases

            releases.allow_upload()
    forms.protect()
    if request.endpoint in PUBLIC:
        return None
    if user is None or found is None:
        if request.method == "GET":
            return redirect(url_for("dashboard.login", next=request.full_path))
        return redirect(url_for("dashboard.login"))
    if found.pending_second_factor and request.endpoint not in SECOND_FACTOR:
        return redirect(url_for("dashboard.second_factor"))
    return None


def user() -> StaffUser:
    """Return the signed-in staff user."""
    found: StaffUser = g.staff_user
    return found


def can(role: str) -> bool:
    """Return whether the signed-in user's role includes ``role``."""
    current = g.get("staff_user")
    if current is None:
        return False
    return ROLE_RANK[StaffRole(current.role)] >= ROLE_RANK[StaffRole(role)]


def require(role: str) -> Callable[[View], View]:
    """Guard a view: only users whose role includes ``role`` may use it."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not can(role):
                raise RoleForbidden()
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def scoped() -> dict[str, Any]:
    """Keyword arguments every write service takes: keyring, vendor, actor, time."""
    current = user()
    return {
        "keyring": sessions.keyring(),
        "vendor_id": current.vendor_id,
        "actor": staff.actor_of(current),
        "now": sessions.now(),
    }


def vendor_id() -> Any:
    """Return the signed-in user's vendor id."""
    return user().vendor_id


def template_globals() -> dict[str, Any]:
    """Give templates the user, role checks and the CSRF token."""
    return {
        "staff_user": g.get("staff_user"),
        "can": can,
        "csrf_token": forms.csrf_token,
        "area_name": "Vendor dashboard",
    }


HINTS = {
    400: "Go back, reload the page and try again.",
    403: "Ask an owner of your team if you need this.",
    404: "It may belong to another team, or it was mistyped.",
    409: "Reload the page to see the current state, then try again.",
    422: "Go back and correct the form.",
    429: "Wait a while, then try again.",
}


def render_error(error: Exception) -> tuple[str, int]:
    """Render any error of a dashboard page as a page that says what to do."""
    if isinstance(error, errors.APIError):
        status, message = error.status_code, error.text
    elif isinstance(error, HTTPException):
        status = error.code or 500
        message = error.description or error.name
    else:
        if isinstance(error, SQLAlchemyError):
            db.session.rollback()
        log.exception("dashboard error (request_id=%s)", errors.request_id())
        status, message = 500, "Something went wrong on our side."
    if status >= 500:
        hint = f"Try again in a minute. Reference: {errors.request_id()}."
    else:
        hint = HINTS.get(status, "")
    page = render_template(
        "dashboard/error.html",
        heading={403: "Not allowed", 404: "Not found"}.get(status, "Cannot do that"),
        message=message,
        hint=hint,
        back=url_for("dashboard.overview" if can("viewer") else "dashboard.login"),
    )
    return page, status
