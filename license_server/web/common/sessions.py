"""The signed cookie's view of a browser session, for any web area.

The cookie (Flask's signed session) holds a random session token per area; the
database holds its keyed hash (:mod:`license_server.services.web_sessions`).
Signing in clears the cookie first, so no token or CSRF secret planted before
sign-in survives it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from flask import current_app, g, request, session

from license_server import runtime
from license_server.keyring import Keyring
from license_server.models.users import WebSession
from license_server.services import web_sessions
from license_server.services.web_sessions import SessionPolicy


def now() -> datetime:
    """Return the current time, aware UTC (the runtime's clock)."""
    return runtime.of(current_app).now()


def keyring() -> Keyring:
    """Return the app's keyring."""
    return runtime.of(current_app).keyring


def password_hasher() -> PasswordHasher:
    """Return the app's argon2id hasher (``PASSWORD_HASH_COST``)."""
    return runtime.of(current_app).password_hasher


def policy() -> SessionPolicy:
    """Return the configured session lifetimes."""
    config = current_app.config
    return SessionPolicy(
        idle=timedelta(seconds=int(config.get("WEB_SESSION_IDLE", 1800))),
        lifetime=timedelta(seconds=int(config.get("WEB_SESSION_LIFETIME", 43200))),
    )


def client_address() -> str | None:
    """Return the client's address (after the trusted proxies, if any)."""
    return request.remote_addr


def _cookie_name(kind: str) -> str:
    return f"{kind}_session"


def current(kind: str) -> WebSession | None:
    """Return this request's live session of ``kind``, loading it once."""
    cache = f"web_session_{kind}"
    if cache in g:
        found: WebSession | None = g.get(cache)
        return found
    token = session.get(_cookie_name(kind))
    found = None
    if isinstance(token, str):
        found = web_sessions.load(
            keyring=keyring(), kind=kind, token=token, policy=policy(), now=now()
        )
        if found is None:
            session.pop(_cookie_name(kind), None)
    setattr(g, cache, found)
    return found


def remember(kind: str, token: str) -> None:
    """Put a new session's token in a fresh cookie (old contents dropped)."""
    session.clear()
    session[_cookie_name(kind)] = token
    session.permanent = False


def forget(kind: str) -> None:
    """End this browser's session of ``kind`` and clear the cookie."""
    token = session.get(_cookie_name(kind))
    if isinstance(token, str):
        web_sessions.end(keyring=keyring(), token=token)
    session.clear()
