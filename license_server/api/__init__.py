"""HTTP layer: thin routes over the services, documented by flask-smorest."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask_smorest import Api as _Api
from werkzeug.exceptions import HTTPException

from license_server import errors, logredact, web
from license_server.schemas.errors import ErrorOut


class Api(_Api):  # type: ignore[misc]
    """flask-smorest's Api, answering HTTP errors in the protocol's shape."""

    ERROR_SCHEMA = ErrorOut
    # every error answer is listed per status from what the route raises (raises.py)
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Render HTTP errors with :func:`errors.handle_http_exception`."""
        return errors.handle_http_exception(error)


def api_of(app: Flask) -> Api:
    """Return ``app``'s flask-smorest Api (where the extension keeps it)."""
    found: Api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return found


def init_app(app: Flask) -> None:
    """Register the blueprints and the OpenAPI document on ``app``."""
    from license_server import updates
    from license_server.api import admin, docs, hooks, ops, public, throttle, webhooks
    from license_server.channels import api as channels_api
    from license_server.compat import edd_admin, edd_api  # noqa: F401 - admin routes

    api = Api(app, spec_kwargs=_spec_kwargs())
    api.register_blueprint(public.blp)
    api.register_blueprint(admin.blp)
    api.register_blueprint(ops.blp)
    edd_api.init_app(app)
    api.register_blueprint(webhooks.blp)
    api.register_blueprint(channels_api.blp)
    api.register_blueprint(channels_api.inbound_blp)
    updates.init_app(app, api)
    app.register_blueprint(docs.page)
    hooks.init_app(app)
    throttle.init_app(app, (public.blp,))
    web.init_app(app)
    logredact.install()


DESCRIPTION = """Theme licensing server. The wire contract, what every field and
result code means, is [PROTOCOL.md](/docs/protocol).

- **public**: what a theme calls (no authentication): activate, validate,
  deactivate, and a vendor's public keys. Well-formed answers are signed.
- **admin**: what a vendor's scripts call, with `Authorization: Bearer lsk_...`
  (`license-server vendors create` prints the first key, `license-server api-keys
  create` more). A read-scoped key may only GET. POSTs accept an `Idempotency-Key`
  header (replayed for 24 hours).
- **ops**: liveness, readiness, metrics.

Every error answers `{"code", "message", "detail", "request_id"}`; each operation
lists the codes it can answer, by status.
"""


def _spec_kwargs() -> dict[str, Any]:
    return {
        "info": {"description": DESCRIPTION},
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
            }
        },
    }
