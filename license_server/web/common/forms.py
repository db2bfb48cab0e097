"""Form handling shared by the web areas: CSRF, clean values, field errors."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf.csrf import ValidationError, generate_csrf, validate_csrf

from license_server import errors

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CsrfRefused(errors.APIError):
    status_code, code, message = (
        400,
        "CSRF_FAILED",
        "This form is out of date or was not sent from this site. "
        "Go back, reload the page and send it again.",
    )


def protect() -> None:
    """Refuse a state-changing request without this session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        raise CsrfRefused() from exc
    for name, value in request.form.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise errors.ValidationFailed("Text may not contain NUL characters.")


def csrf_token() -> str:
    """Return the CSRF token for this session's forms."""
    return str(generate_csrf())


def text(name: str, default: str = "") -> str:
    """Return a trimmed form field."""
    return request.form.get(name, default).strip()


def optional(name: str) -> str | None:
    """Return a trimmed form field, or None when empty."""
    value = text(name)
    return value or None


def integer(name: str, fields: dict[str, list[str]]) -> int | None:
    """Return an integer form field (None when empty); note a bad value."""
    value = text(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        fields[name] = ["Enter a whole number."]
        return None


def field_errors(error: Exception) -> dict[str, Any]:
    """Return the field messages of a validation error, for the form to show."""
    detail = getattr(error, "detail", {}) or {}
    found = detail.get("fields") if isinstance(detail, dict) else None
    messages = getattr(error, "messages", None)
    return dict(found or messages or {})
