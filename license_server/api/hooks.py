"""What every request pays: one hook before it and one after, kept cheap.

Before: the start time, the header-size limit and the NUL check, read straight
from the WSGI environ (no header objects built). After: the metrics, the
``X-Request-ID`` header, the security headers (:mod:`license_server.api.headers`),
and the runtime's buffers when one is due. One hook each
way, because Flask pays for every registered hook on every request.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, current_app, request

from license_server import errors, metrics
from license_server import runtime as runtimes
from license_server.api.headers import add_security_headers, is_frameable
from license_server.api.parsing import HeadersTooLarge, NulCharacter

_STARTED = "license_server.started"


def before() -> None:
    """Start the clock; refuse oversized headers and NUL in the path or query."""
    environ = request.environ
    environ[_STARTED] = time.perf_counter()
    limit: int = current_app.config["MAX_HEADER_BYTES"]
    if header_bytes(environ) > limit:
        raise HeadersTooLarge(detail={"limit": limit})
    if nul_in_target(environ):
        raise NulCharacter()


def header_bytes(environ: dict[str, Any]) -> int:
    """Return the size of a request's headers, roughly as they were sent."""
    size = 0
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            size += len(name) - 1 + len(value) + 4  # "Name: value\r\n", roughly
    return size


def nul_in_target(environ: dict[str, Any]) -> bool:
    """Return whether the path or query holds NUL (no database stores it in text)."""
    query = environ.get("QUERY_STRING", "")
    return "\x00" in environ.get("PATH_INFO", "") or "%00" in query or "\x00" in query


def after(response: Response) -> Response:
    """Count the request, echo its id, add the security headers, flush what is due."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    environ = current.environ
    endpoint = current.endpoint
    started = environ.get(_STARTED)
    if started is not None:
        metrics.observe(
            environ["REQUEST_METHOD"],
            endpoint or "unmatched",
            response.status_code,
            time.perf_counter() - started,
        )
    add_security_headers(
        response,
        frameable=is_frameable(app, endpoint),
        request_id=errors.request_id_of(environ),
    )
    runtimes.of(app).flush_due()
    return response


def init_app(app: Flask) -> None:
    """Register the two hooks on ``app``."""
    app.before_request(before)
    app.after_request(after)
