"""Security headers on every answer, JSON or HTML, error or not (issue 17, item 24).

Every answer says: do not sniff the media type (``X-Content-Type-Options``), send
no referrer onwards (``Referrer-Policy``) and never render inside a frame
(``frame-ancestors 'none'``, with ``X-Frame-Options`` for old browsers). A page that
is meant to be framed (a release's changelog, shown by WordPress in a thickbox
iframe) marks its view with :func:`frameable`, or sets its own ``frame-ancestors``;
it keeps the first two headers. :func:`license_server.api.hooks.after` calls the hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response

F = TypeVar("F", bound=Callable[..., Any])
NO_FRAMES = "frame-ancestors 'none'"
_FRAMEABLE = "license_server_frameable"


def frameable(view: F) -> F:
    """Mark a view whose page may be shown in a frame (the changelog page)."""
    setattr(view, _FRAMEABLE, True)
    return view


def is_frameable(app: Flask, endpoint: str | None) -> bool:
    """Return whether ``endpoint``'s view is marked :func:`frameable`."""
    view = app.view_functions.get(endpoint or "")
    return bool(getattr(view, _FRAMEABLE, False))


_OURS = frozenset(
    {"x-content-type-options", "referrer-policy", "content-security-policy"}
)
# what a JSON answer of the API carries (the fast lane adds them as they are)
API_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", NO_FRAMES),
    ("X-Frame-Options", "DENY"),
)


def add_security_headers(
    response: Response, *, frameable: bool, request_id: str | None = None
) -> Response:
    """Add the security headers (and ``X-Request-ID``, if given) to one answer."""
    headers = response.headers
    # the usual answer (JSON from the API) sets none of them and is not framed: add
    # all in one call (one pass over the headers, no lookups of missing ones)
    if not frameable and not any(name.lower() in _OURS for name, _ in headers.items()):
        if request_id is None:
            headers.extend(API_HEADERS)
        else:
            headers.extend((("X-Request-ID", request_id), *API_HEADERS))
        return response
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if frameable:
        return response
    policy = headers.get("Content-Security-Policy")
    if policy is None:
        policy = NO_FRAMES
    elif "frame-ancestors" not in policy:
        policy = f"{policy.rstrip('; ')}; {NO_FRAMES}"
    headers["Content-Security-Policy"] = policy
    if NO_FRAMES in policy:  # a page that allows some framers decided for itself
        headers.setdefault("X-Frame-Options", "DENY")
    return response
