"""OpenAPI helpers: documented error answers, and the human docs page at ``/docs``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import current_app, render_template

from license_server.api.parsing import Blueprint
from license_server.schemas.errors import ErrorOut

ERROR_CODES = {
    400: "MALFORMED_JSON, INVALID_KEY_FORMAT, INVALID_DOMAIN, INVALID_IDEMPOTENCY_KEY",
    401: "UNAUTHORIZED: missing or unknown API key",
    403: "FORBIDDEN: the API key is read-only; or REVOKED/SUSPENDED/EXPIRED",
    404: "NOT_FOUND (another vendor's ids too), PRODUCT_NOT_FOUND",
    409: "a conflict: see the code (e.g. PRODUCT_EXISTS, INVALID_STATUS_TRANSITION)",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE: send application/json",
    422: "VALIDATION_ERROR with field messages in detail.fields",
    429: "RATE_LIMITED, with Retry-After",
    503: "SERVICE_UNAVAILABLE, with Retry-After",
}
ADMIN_ERRORS = (401, 404, 422, 429)
ADMIN_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 429)


def errors(blp: Blueprint, *statuses: int) -> Callable[[Any], Any]:
    """Document the error answers a route can give, in the protocol's shape."""

    def decorate(view: Any) -> Any:
        for status in statuses:
            view = blp.alt_response(
                status, schema=ErrorOut, description=ERROR_CODES[status]
            )(view)
        return view

    return decorate


page = FlaskBlueprint("docs", __name__)


def _operations(spec: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            ref = (body or {}).get("schema", {}).get("$ref", "")
            groups.setdefault(op.get("tags", ["other"])[0], []).append(
                {
                    "method": method,
                    "path": path,
                    "summary": op.get("summary", ""),
                    "parameters": op.get("parameters", []),
                    "body": ref.rsplit("/", 1)[-1],
                    "responses": [
                        (code, answer.get("description", ""))
                        for code, answer in sorted(op.get("responses", {}).items())
                    ],
                }
            )
    return sorted(groups.items())


@page.get("/docs")
def docs() -> str:
    """Render the OpenAPI document as a page for people."""
    from license_server.api import api_of

    spec = api_of(current_app).spec.to_dict()
    info = spec.get("info", {})
    return render_template(
        "docs.html",
        title=info.get("title", ""),
        version=info.get("version", ""),
        description=info.get("description", ""),
        groups=_operations(spec),
    )
