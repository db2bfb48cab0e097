"""The app's Flask class: Flask, minus two costs every request paid for nothing.

- **Sessions open lazily**: Flask opens its signed-cookie session on every request,
  building an ``itsdangerous`` serializer even when the request sends no cookie (an
  API call, a health check). :class:`CookieSessions` hands such a request an empty
  session at once; a request with a cookie is opened as Flask would, and writing a
  session (a sign-in) works the same.
- **Hooks are checked for ``async`` once**: Flask asks ``inspect`` whether each
  hook and view is a coroutine function on every call; :class:`LicenseServerApp`
  remembers the ones that are not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, opened only when the request has cookies."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Return an empty session for a request without cookies, else Flask's."""
        if "HTTP_COOKIE" not in request.environ and app.secret_key:
            return self.session_class()
        return super().open_session(app, request)


class LicenseServerApp(Flask):
    """Flask with lazily opened sessions and remembered sync hooks."""

    session_interface = CookieSessions()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known_sync: set[Callable[..., Any]] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``func`` as Flask would, asking ``inspect`` once per function."""
        try:
            if func in self._known_sync:
                return func
        except TypeError:  # an unhashable callable: ask every time
            return super().ensure_sync(func)
        result = super().ensure_sync(func)
        if result is func:
            self._known_sync.add(func)
        return result
