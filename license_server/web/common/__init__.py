"""What every web area shares: cookie, sessions, CSRF, headers, layout, assets."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, render_template, request
from werkzeug.exceptions import NotFound

from license_server import errors

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/web/static",
)
# Path prefixes of the web areas: their answers get the headers below.
WEB_PREFIXES = ("/dashboard", "/portal", "/web/")
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)


def security_headers(response: Response) -> Response:
    """Give web answers a strict CSP and keep pages out of caches and frames."""
    path = request.path  # one lookup: this hook runs on every answer
    if not path.startswith(WEB_PREFIXES):
        return response
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not path.startswith("/web/static"):
        response.headers["Cache-Control"] = "no-store"
    return response


def not_found(error: NotFound) -> Any:
    """Answer an unknown web address with a page; elsewhere, the JSON error."""
    if request.path.startswith(WEB_PREFIXES):
        page = render_template("common/not_found.html", home=request.path.split("/")[1])
        return page, 404
    return errors.handle_http_exception(error)


def init_app(app: Flask) -> None:
    """Derive the cookie secret, set cookie and CSRF policy, register the assets."""
    from license_server import runtime

    app.secret_key = runtime.of(app).keyring.web_cookie_secret
    secure = app.config.get("WEB_COOKIE_SECURE")
    if secure is None:  # plain http only on the embedded default (make run)
        secure = not app.config.get("EMBEDDED", False)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(int(secure)),
        # the CSRF token lives as long as the browser session that holds it
        WTF_CSRF_TIME_LIMIT=None,
    )
    from license_server.web.common import forms

    # a global, so that imported macros (which see no context) have it too
    app.jinja_env.globals["csrf_token"] = forms.csrf_token
    app.register_blueprint(bp)
    app.after_request(security_headers)
    app.register_error_handler(NotFound, not_found)
