"""HTTP layer: thin routes over the services, documented by flask-smorest."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app
from flask_smorest import Api as _Api
from werkzeug.exceptions import HTTPException

from license_server import errors, logredact, metrics
from license_server import runtime as runtimes
from license_server.schemas.errors import ErrorOut


class Api(_Api):  # type: ignore[misc]
    """flask-smorest's Api, answering HTTP errors in the protocol's shape."""

    ERROR_SCHEMA = ErrorOut

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Render HTTP errors with :func:`errors.handle_http_exception`."""
        return errors.handle_http_exception(error)


def api_of(app: Flask) -> Api:
    """Return ``app``'s flask-smorest Api (where the extension keeps it)."""
    found: Api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return found


def init_app(app: Flask) -> None:
    """Register the blueprints and the OpenAPI document on ``app``."""
    from license_server.api import admin, docs, headers, ops, parsing, public, throttle

    api = Api(app, spec_kwargs=_spec_kwargs())
    api.register_blueprint(public.blp)
    api.register_blueprint(admin.blp)
    api.register_blueprint(ops.blp)
    app.register_blueprint(docs.page)
    app.before_request(parsing.check_request)
    throttle.init_app(app, (public.blp,))
    headers.init_app(app)
    logredact.install()
    metrics.init_app(app)
    app.after_request(_flush_due_buffers)


def _flush_due_buffers(response: Response) -> Response:
    """Write the runtime's buffers that are due (a cheap check on most requests)."""
    runtimes.of(current_app).flush_due()
    return response


def _spec_kwargs() -> dict[str, Any]:
    return {
        "info": {
            "description": "Theme licensing server: see docs/PROTOCOL.md.",
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
            }
        },
    }
