"""The vendor dashboard under ``/dashboard``: staff sign in and run their business.

Pages call the same services as the admin API; each action is an event whose
actor is ``user:<id>``. Views live in one module per area.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "dashboard", __name__, url_prefix="/dashboard", template_folder="templates"
)

from license_server.web.dashboard import (  # noqa: E402
    access,
    auth,
    issue,
    keys,
    licenses,
    overview,
    products,
    sales,
    staff,
    timeline,
)

bp.before_request(access.before_request)
bp.register_error_handler(Exception, access.render_error)
bp.app_context_processor(access.template_globals)

__all__ = [
    "auth",
    "bp",
    "issue",
    "keys",
    "licenses",
    "overview",
    "products",
    "sales",
    "staff",
    "timeline",
]
