"""Users (owners only): invite by link, change roles, disable, reset links."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from license_server import errors
from license_server.models.users import StaffRole
from license_server.services import staff, staff_links
from license_server.web.common import forms
from license_server.web.dashboard import access, bp

ROLES = [str(role) for role in StaffRole]


@bp.get("/users")
@access.require("owner")
def users() -> str:
    """List the team and the invitation form."""
    team = staff.list_users(vendor_id=access.vendor_id())
    return render_template("dashboard/users.html", team=team, roles=ROLES)


def _link_page(title: str, email: str, url: str, expires: Any) -> str:
    return render_template(
        "dashboard/link_shown.html",
        title=title,
        email=email,
        url=url,
        expires=expires,
    )


@bp.post("/users/invite")
@access.require("owner")
def user_invite() -> str:
    """Create an invitation link (shown once) for a new team member."""
    role = forms.text("role")
    if role not in ROLES:
        raise errors.ValidationFailed("Choose a role.")
    link, token = staff_links.invite(
        email=forms.text("email"),
        role=role,
        **access.scoped(),
    )
    url = url_for("dashboard.accept_invitation", token=token, _external=True)
    return _link_page("Invitation link", link.email, url, link.expires_at)


@bp.post("/users/<uuid:user_id>/reset-link")
@access.require("owner")
def user_reset_link(user_id: uuid.UUID) -> str:
    """Create a password reset link (shown once) for a team member."""
    link, token = staff_links.reset_link(user_id=user_id, **access.scoped())
    url = url_for("dashboard.reset_password", token=token, _external=True)
    return _link_page("Password reset link", link.email, url, link.expires_at)


@bp.post("/users/<uuid:user_id>/role")
@access.require("owner")
def user_role(user_id: uuid.UUID) -> Response:
    """Give a team member another role."""
    role = forms.text("role")
    if role not in ROLES:
        raise errors.ValidationFailed("Choose a role.")
    staff.change_role(user_id=user_id, role=role, **access.scoped())
    flash("Role changed.", "ok")
    return redirect(url_for("dashboard.users"))


@bp.post("/users/<uuid:user_id>/disable")
@access.require("owner")
def user_disable(user_id: uuid.UUID) -> Response:
    """Disable a team member (signed out at once) or enable them again."""
    disabled = request.form.get("disabled") == "yes"
    staff.set_disabled(user_id=user_id, disabled=disabled, **access.scoped())
    flash("User disabled." if disabled else "User enabled.", "ok")
    return redirect(url_for("dashboard.users"))
