"""Server-rendered web pages: the vendor dashboard and the customer portal.

:mod:`license_server.web.common` holds what every web area shares: the signed cookie,
browser sessions, CSRF, security headers, the layout, the assets and the charts.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Set up the shared web machinery and register the dashboard."""
    from license_server.web import common, dashboard, portal

    common.init_app(app)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(portal.bp)
