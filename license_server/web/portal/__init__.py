"""The customer portal under ``/portal/<vendor>/``: site owners see their licences.

Sign-in is by a one-time link mailed to the licences' e-mail (or a licence key and
its e-mail); the pages list the customer's licences and sites, free a seat, move a
site to another domain in one step, show the key after a fresh sign-in, and hand
out the download of the newest release the licence covers. Same stack and rules
as the dashboard (:mod:`license_server.web.common`): no script needed, CSP, CSRF.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates")

from license_server.web.portal import access, auth, licences  # noqa: E402

bp.url_value_preprocessor(access.pull_vendor)
bp.url_defaults(access.add_vendor)
bp.before_request(access.before_request)
bp.register_error_handler(Exception, access.render_error)
bp.context_processor(access.template_globals)

__all__ = ["auth", "bp", "licences"]
