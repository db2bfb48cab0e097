"""Releases and licence-gated updates (docs/UPDATES.md).

``init_app`` builds the package storage once per app and registers the public and
admin blueprints on the app's API.
"""

from __future__ import annotations

from flask import Flask, Response

from license_server.updates import storage


def init_app(app: Flask, api: object) -> None:
    """Give ``app`` its package storage and the update routes."""
    from license_server.updates import admin_api
    from license_server.updates import api as public_api

    app.extensions["release_storage"] = storage.from_config(app.config)
    api.register_blueprint(public_api.blp)  # type: ignore[attr-defined]
    api.register_blueprint(admin_api.blp)  # type: ignore[attr-defined]
    app.after_request(_no_framing)


def _no_framing(response: Response) -> Response:
    """Refuse framing unless a route allowed it (only the changelog page does)."""
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    if "frame-ancestors *" not in response.headers["Content-Security-Policy"]:
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response
