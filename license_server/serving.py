"""gunicorn settings of ``license-server serve``: its refusals in the protocol's shape.

gunicorn refuses some requests before the app sees them (a request line over
``--limit-request-line``, bad bytes in a header, a malformed request line) and
writes a small HTML page. Loaded with ``--config python:license_server.serving``,
this module's ``post_worker_init`` hook makes each worker write those refusals as
the protocol's JSON error (PROTOCOL §5) instead, with the security headers. The
message never echoes what the client sent (a request line may hold a key).
"""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

CODES = {
    400: "BAD_REQUEST",
    403: "FORBIDDEN",
    414: "REQUEST_LINE_TOO_LONG",
    417: "EXPECTATION_FAILED",
    431: "HEADERS_TOO_LARGE",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
}


def json_error(status: int, reason: str) -> bytes:
    """Return a whole HTTP/1.1 answer: the protocol's JSON error for ``status``."""
    body = json.dumps(
        {
            "code": CODES.get(status, "BAD_REQUEST"),
            "message": f"{reason}: the server refused the request before reading it.",
            "detail": {},
            "request_id": uuid.uuid4().hex,
        },
        separators=(",", ":"),
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Content-Security-Policy: frame-ancestors 'none'\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


def _write_json_error(sock: socket.socket, status: int, reason: str, _: str) -> None:
    from gunicorn import util

    util.write_nonblock(sock, json_error(int(status), str(reason)))


def post_worker_init(worker: Any) -> None:
    """gunicorn hook: answer the worker's own refusals in JSON."""
    from gunicorn import util

    # the workers call util.write_error for every refusal they write themselves
    util.write_error = _write_json_error
