"""The signed cookie's view of a browser session, for any web area.

The cookie (Flask's signed session) holds a random session token per area; the
database holds its keyed hash (:mod:`license_server.services.web_sessions`).
Signing in clears the cookie first, so no token or CSRF secret planted before
sign-in survives it, except what another area keeps there: the dashboard (staff)
and the portal (customers) share the one cookie, and signing in to one, or out of
it, leaves the browser signed in to the other. Each area names the keys it keeps
besides its token with :func:`owns`. The CSRF secret is shared and renewed at
every sign-in: a form of the other area opened before it is refused once
(400 ``CSRF_FAILED``, "reload the page") and works when reloaded.
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


# the cookie keys each area keeps besides its session token (see :func:`owns`)
_OWNED: dict[str, set[str]] = {}


def _cookie_name(kind: str) -> str:
    return f"{kind}_session"


def owns(kind: str, *names: str) -> None:
    """Declare the cookie keys area ``kind`` keeps besides its session token."""
    _OWNED.setdefault(kind, set()).update(names)


def _keys_of(kind: str) -> set[str]:
    return {_cookie_name(kind), *_OWNED.get(kind, ())}


def _kept_for_others(kind: str) -> dict[str, object]:
    """Return the other areas' entries in the cookie (their tokens and own keys)."""
    kept: dict[str, object] = {}
    for other in _OWNED:
        if other != kind:
            kept.update({k: session[k] for k in _keys_of(other) if k in session})
    return kept


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
    """Put a new session's token in a fresh cookie; another area's sign-in stays.

    Everything else is dropped: the CSRF secret, and whatever was in the cookie
    before this sign-in, this area's values included.
    """
    kept = _kept_for_others(kind)
    session.clear()
    session.update(kept)
    session[_cookie_name(kind)] = token
    session.permanent = False


def drop(kind: str) -> None:
    """Take area ``kind``'s entries out of the cookie; keep the other areas'."""
    kept = _kept_for_others(kind)
    session.clear()
    session.update(kept)


def forget(kind: str) -> None:
    """End this browser's session of ``kind``; another area's sign-in stays."""
    token = session.get(_cookie_name(kind))
    if isinstance(token, str):
        web_sessions.end(keyring=keyring(), token=token)
    drop(kind)
