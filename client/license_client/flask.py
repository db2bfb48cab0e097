"""Flask integration: a ``license_notice()`` template helper, optional injection.

Flask is imported lazily, only when the extension is used, so the package does
not depend on it::

    notice = LicenseNotice(client)           # or LicenseNotice() + init_app(app, c)
    notice.init_app(app)                     # templates: {{ license_notice() }}
    LicenseNotice(client, app, inject=True)  # or let the middleware add the bar

``license_notice()`` decides by the request path (``admin_paths``) whether the
page is an admin page; ``license_notice(public=True)`` forces the public rule.
Admin requests also start a background re-validation when one is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from license_client.client import LicenseClient
from license_client.wsgi import NoticeMiddleware

if TYPE_CHECKING:
    from flask import Flask
    from markupsafe import Markup

__all__ = ["LicenseNotice"]

EXTENSION = "license_client"


class LicenseNotice:
    """Show the license notice in a Flask site."""

    def __init__(
        self,
        client: LicenseClient | None = None,
        app: Flask | None = None,
        *,
        admin_paths: Sequence[str] = ("/admin",),
        inject: bool = False,
    ) -> None:
        self.client = client
        self.admin_paths = tuple(p.rstrip("/") for p in admin_paths)
        self.inject = inject
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, client: LicenseClient | None = None) -> None:
        """Register the client, the template global and the admin hook on ``app``."""
        client = client or self.client
        if client is None:
            raise ValueError("LicenseNotice needs a LicenseClient")
        app.extensions[EXTENSION] = client
        app.add_template_global(self.license_notice, "license_notice")
        app.before_request(self._admin_hook)
        if self.inject:
            app.wsgi_app = NoticeMiddleware(  # type: ignore[method-assign]
                app.wsgi_app,
                client,
                admin_paths=self.admin_paths,
                revalidate_on_admin=False,
            )

    def current_client(self) -> LicenseClient:
        """Return the client registered on the current app."""
        from flask import current_app

        client: LicenseClient = current_app.extensions[EXTENSION]
        return client

    def is_admin_request(self) -> bool:
        """Tell whether the current request is for an admin page."""
        from flask import has_request_context, request

        if not has_request_context():
            return False
        path = request.path
        return any(path == p or path.startswith(p + "/") for p in self.admin_paths)

    def license_notice(self, public: bool | None = None) -> Markup:
        """Return the notice bar as markup, or empty markup when none is due."""
        from markupsafe import Markup

        if public is None:
            public = not self.is_admin_request()
        notice = self.current_client().notice(public=public)
        return Markup(notice.html if notice is not None else "")  # noqa: S704 - escaped

    def _admin_hook(self) -> None:
        if self.is_admin_request():
            self.current_client().revalidate_in_background()
