"""Read an admin API key from an ``Authorization`` header, saying what is wrong.

The answers tell a caller what to fix in the header (none, no scheme, not Bearer, a
malformed key) but never whether a well-formed key is unknown or revoked: both are
"not valid", so a stolen revoked key teaches nothing.
"""

from __future__ import annotations

import re

from license_server import errors

API_KEY_PREFIX = "lsk_"
_API_KEY = re.compile(r"^lsk_[A-Za-z0-9_-]{43}$")  # lsk_ + 32 random bytes, base64url
_EXAMPLE = "Authorization: Bearer lsk_..."


def unauthorized(reason: str, message: str) -> errors.Unauthorized:
    """Return a 401 with ``WWW-Authenticate`` and the reason in ``detail``."""
    return errors.Unauthorized(
        message,
        detail={"reason": reason},
        headers={"WWW-Authenticate": 'Bearer realm="admin"'},
    )


def bearer_token(header: str | None) -> str:
    """Return the well-formed API key of a ``Bearer`` header, or raise a clear 401."""
    if header is None or not header.strip():
        raise unauthorized("missing", f"No Authorization header: send {_EXAMPLE}.")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if not token:
        raise unauthorized(
            "no_scheme", f"The Authorization header has no scheme: send {_EXAMPLE}."
        )
    if scheme.lower() != "bearer":
        shown = scheme[:20] if scheme.isascii() and scheme.isprintable() else "?"
        raise unauthorized(
            "not_bearer",
            f"The Authorization scheme is {shown!r}, not Bearer: send {_EXAMPLE}.",
        )
    if _API_KEY.match(token) is None:
        raise unauthorized(
            "malformed",
            "The API key is malformed: an admin API key is lsk_ and 43 characters "
            "of A-Z, a-z, 0-9, - and _.",
        )
    return token


def invalid_key() -> errors.Unauthorized:
    """Return the one 401 for a well-formed key that is unknown or revoked."""
    return unauthorized("invalid", "The API key is not valid (unknown or revoked).")
