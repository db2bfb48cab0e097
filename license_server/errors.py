"""One JSON error shape for every non-2xx answer (PROTOCOL §5).

``{"code": "...", "message": "...", "detail": {...}, "request_id": "..."}`` comes from
:class:`APIError` subclasses, from Werkzeug's HTTP exceptions (404, 405, 413, ...),
and from unexpected exceptions (500, logged with the request id, never with secrets).
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any, ClassVar

from flask import Flask, Response, g, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_RID_KEY = "license_server.request_id"


def sentence(text: str) -> str:
    """Return ``text`` as a sentence: a capital first letter and a final stop."""
    text = text.strip()
    if not text:
        return text
    if text[0].islower():
        text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


class APIError(Exception):
    """Base of every error the API answers on purpose."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    message: ClassVar[str] = "Bad request."

    def __init__(
        self,
        message: str | None = None,
        detail: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        # lower layers raise plain phrases ("a license key has ..."): answer sentences
        self.text = sentence(message or self.message)
        self.detail = detail or {}
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.text)


class MalformedJSON(APIError):
    status_code, code, message = 400, "MALFORMED_JSON", "The body is not valid JSON."


class InvalidKeyFormat(APIError):
    status_code, code, message = (
        400,
        "INVALID_KEY_FORMAT",
        "The license key is not well formed.",
    )


class InvalidDomain(APIError):
    status_code, code, message = 400, "INVALID_DOMAIN", "The domain is not valid."


class Unauthorized(APIError):
    status_code, code, message = 401, "UNAUTHORIZED", "A valid API key is required."


class Forbidden(APIError):
    status_code, code, message = 403, "FORBIDDEN", "This API key may not do that."


class NotFound(APIError):
    status_code, code, message = 404, "NOT_FOUND", "Not found."


class ProductNotFound(APIError):
    status_code, code, message = 404, "PRODUCT_NOT_FOUND", "No such product."


class Conflict(APIError):
    status_code, code, message = 409, "CONFLICT", "The request conflicts with the data."


class ValidationFailed(APIError):
    status_code, code, message = 422, "VALIDATION_ERROR", "The request is not valid."


class UnsupportedMediaType(APIError):
    status_code, code, message = (
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Send the body as application/json.",
    )


class RateLimited(APIError):
    status_code, code, message = (
        429,
        "RATE_LIMITED",
        "Too many requests; retry after the time in Retry-After.",
    )


class InternalError(APIError):
    status_code, code, message = 500, "INTERNAL_ERROR", "Internal server error."


class ServiceUnavailable(APIError):
    status_code, code, message = (
        503,
        "SERVICE_UNAVAILABLE",
        "The service is temporarily unavailable; retry later.",
    )


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    503: "SERVICE_UNAVAILABLE",
}


_MESSAGES = {
    404: "No such resource.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    422: "The request is not valid; see detail.fields.",
}


def request_id() -> str:
    """Return this request's id: the caller's sane ``X-Request-ID``, or a new one."""
    return request_id_of(request.environ)


def request_id_of(environ: dict[str, Any]) -> str:
    """Return the id of the request ``environ`` describes (kept in the environ)."""
    rid: str | None = environ.get(_RID_KEY)
    if rid is None:
        offered = environ.get("HTTP_X_REQUEST_ID", "")
        rid = offered if _REQUEST_ID.match(offered) else secrets.token_hex(16)
        environ[_RID_KEY] = rid
    return rid


def error_body(
    code: str,
    message: str,
    detail: dict[str, Any] | None,
    request_id: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the protocol's error body (``extra`` adds top-level members)."""
    return {
        **(extra or {}),
        "code": code,
        "message": message,
        "detail": detail or {},
        "request_id": request_id,
    }


def error_response(
    status: int,
    code: str,
    message: str,
    detail: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Render the protocol's error body (``extra`` adds top-level members)."""
    g.answer_code = code
    response = jsonify(error_body(code, message, detail, request_id(), extra))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_api_error(error: APIError) -> Response:
    """Render an :class:`APIError`."""
    return error_response(
        error.status_code,
        error.code,
        error.text,
        error.detail,
        error.headers,
        error.extra,
    )


def handle_http_exception(error: HTTPException) -> Response:
    """Render Werkzeug's and flask-smorest's HTTP errors in the protocol's shape."""
    status = error.code or 500
    detail: dict[str, Any] = {}
    data = getattr(error, "data", None)
    if isinstance(data, dict) and "messages" in data:
        detail = {"fields": _flatten_locations(data["messages"])}
    elif status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        detail = {"allowed": sorted(error.valid_methods)}  # type: ignore[attr-defined]
    code = _HTTP_CODES.get(status, "HTTP_ERROR")
    message = _MESSAGES.get(status) or error.description or error.name
    headers = {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(sorted(error.valid_methods))  # type: ignore[attr-defined]
    return error_response(status, code, message, detail, headers)


def _flatten_locations(messages: Any) -> Any:
    """Drop webargs' location level (``{"json": {...}}``) from field messages."""
    if isinstance(messages, dict) and len(messages) == 1:
        ((location, inner),) = messages.items()
        if location in {"json", "query", "headers", "view_args", "path"}:
            return inner
    return messages


def handle_unexpected(error: Exception) -> Response:
    """Answer an unexpected exception: 503 if the database is down, else 500."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    return handle_api_error(unexpected(error, request_id()))


def unexpected(error: Exception, request_id: str) -> APIError:
    """Return the answer to an exception no handler expected, and log it.

    The database out of reach is 503 with ``Retry-After`` (logged as a warning,
    by the exception's type only); anything else is a bug: 500, logged with its
    traceback and the request id.
    """
    if isinstance(error, OperationalError | PoolTimeout) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        log.warning("database unavailable: %s", type(error).__name__)
        return ServiceUnavailable(headers={"Retry-After": "5"})
    log.exception("unhandled error (request_id=%s)", request_id, exc_info=error)
    return InternalError()


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(APIError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)


class WebhookUrlRefused(APIError):
    status_code, code, message = (
        422,
        "WEBHOOK_URL_REFUSED",
        "Webhooks cannot be sent to this URL.",
    )


class WebhookSchemeMismatch(APIError):
    status_code, code, message = (
        409,
        "WEBHOOK_SCHEME_MISMATCH",
        "Only an endpoint signed with v1 (HMAC) has a secret to rotate.",
    )
