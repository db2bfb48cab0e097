"""The API reference: Swagger UI at ``/docs``, served with every asset from here.

Swagger UI comes from the ``swagger-ui-bundle`` wheel (no CDN); the page's script
is ours, in ``static/``; the Content-Security-Policy allows this origin only (and
``data:`` images, which Swagger UI's stylesheet uses for its icons). The wire
contract, docs/PROTOCOL.md, is served at ``/docs/protocol`` and linked from the
reference; ``GET /`` points to both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
)

from license_server import errors as error_types
from license_server.api.parsing import Blueprint
from license_server.api.raises import blueprint_raises, raises
from license_server.schemas.public import RefusalOut
from license_server.services.activations import _REFUSAL_STATUS

# The assets of Swagger UI the page loads (its source maps too, for browsers' tools)
SWAGGER_ASSETS = {
    "swagger-ui.css",
    "swagger-ui.css.map",
    "swagger-ui-bundle.js",
    "swagger-ui-bundle.js.map",
    "favicon-32x32.png",
    "favicon-16x16.png",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
__all__ = ["SIGNED_REFUSALS", "errors", "page", "raises"]
STATIC = Path(__file__).resolve().parent.parent / "static"

# Kept for routes written before errors were derived: statuses are now documented
# from the error classes (see license_server.api.raises), so these add nothing.
ADMIN_ERRORS = (401, 404, 422, 429)
ADMIN_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 429)


def errors(blp: Blueprint, *statuses: int) -> Callable[[Any], Any]:
    """Do nothing (the old hand-written lists); declare classes with ``raises``."""

    def keep(view: Any) -> Any:
        return view

    return keep


def _signed_refusal(code: str, status: int) -> type[error_types.APIError]:
    """A documentation class for a refused activation that carries a signed token."""
    attributes = {
        "status_code": status,
        "code": code,
        "message": "Refused, with the signed negative answer (`valid`, `token`).",
        "doc_schema": RefusalOut,
        "doc_example": {
            "detail": {
                "license": None,
                "domain": "shop.example.com",
                "nonce": "n1",
                "ts": "2026-01-01T00:00:00Z",
            },
            "valid": False,
            "token": "eyJhbGciOiJFZERTQSIsInR5cCI6ImxpY2Vuc2Urand0In0...",
        },
    }
    return type(
        f"Refused{code.title().replace('_', '')}", (error_types.APIError,), attributes
    )


SIGNED_REFUSALS = tuple(
    _signed_refusal(str(code), status) for code, status in _REFUSAL_STATUS.items()
)

# The public layer: rate limits (license_server.ratelimit) and the database.
blueprint_raises("public", error_types.RateLimited, error_types.ServiceUnavailable)


page = FlaskBlueprint("docs", __name__)


@page.get("/docs")
def docs() -> Response:
    """Serve the interactive API reference (Swagger UI)."""
    from license_server.api import api_of

    info = api_of(current_app).spec.to_dict().get("info", {})
    html = render_template("docs.html", title=info.get("title", ""))
    return _strict(Response(html, mimetype="text/html"))


@page.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    """Serve one of Swagger UI's files, or the page's own script."""
    from swagger_ui_bundle import swagger_ui_path

    if name == "docs.js":
        return _strict(send_from_directory(STATIC, "docs.js", max_age=3600))
    if name not in SWAGGER_ASSETS:
        abort(404)
    return _strict(send_from_directory(str(swagger_ui_path), name, max_age=86400))


@page.get("/docs/protocol")
def protocol() -> Response:
    """Serve docs/PROTOCOL.md, the wire contract, as text."""
    return _strict(Response(protocol_text(), mimetype="text/markdown"))


def protocol_text() -> str:
    """Return PROTOCOL.md: shipped inside the package, or the checkout's."""
    for path in (
        STATIC / "PROTOCOL.md",
        Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md",
    ):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    abort(404)


@page.get("/")
def root() -> Any:
    """Point people to ``/docs`` and scripts to the documents."""
    if request.accept_mimetypes.accept_html:
        return redirect("/docs")
    return {
        "name": "license-server",
        "docs": "/docs",
        "openapi": "/openapi.json",
        "protocol": "/docs/protocol",
    }


def _strict(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
