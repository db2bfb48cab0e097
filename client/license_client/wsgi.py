"""WSGI middleware that puts the notice bar right after ``<body>`` (PROTOCOL §6).

Admin pages (paths under ``admin_paths``, or whatever ``is_admin`` says) always
show the notice while the license is not trusted valid; public pages show it only
when the configuration asks and never on development hosts. Only ``text/html``
answers without a ``Content-Encoding`` are touched; ``Content-Length`` is fixed up;
a body larger than ``max_buffer`` passes through unchanged. The check costs one
warm ``status()`` per request; an admin request may also start a background
re-validation (never on a visitor's request).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeAlias

from license_client.client import LicenseClient

__all__ = ["NoticeMiddleware", "inject_notice"]

ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType]
StartResponse: TypeAlias = Callable[..., Callable[[bytes], object]]
WSGIApp: TypeAlias = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_BODY_TAG = re.compile(rb"<body\b[^>]*>", re.IGNORECASE)


def inject_notice(page: bytes, notice_html: str) -> bytes:
    """Insert ``notice_html`` after the first ``<body>`` tag; unchanged if none."""
    found = _BODY_TAG.search(page)
    if found is None:
        return page
    bar = notice_html.encode("ascii", "xmlcharrefreplace")
    return page[: found.end()] + bar + page[found.end() :]


def _is_html(headers: Sequence[tuple[str, str]]) -> bool:
    values = {name.lower(): value.lower() for name, value in headers}
    encoded = values.get("content-encoding", "identity") not in ("", "identity")
    return values.get("content-type", "").startswith("text/html") and not encoded


class NoticeMiddleware:
    """Wrap a WSGI app so its HTML pages carry the notice when they should."""

    def __init__(
        self,
        app: WSGIApp,
        client: LicenseClient,
        *,
        admin_paths: Sequence[str] = ("/admin",),
        is_admin: Callable[[dict[str, Any]], bool] | None = None,
        max_buffer: int = 4 * 1024 * 1024,
        revalidate_on_admin: bool = True,
    ) -> None:
        self.app = app
        self.client = client
        self.admin_paths = tuple(p.rstrip("/") for p in admin_paths)
        self.is_admin = is_admin or self._admin_path
        self.max_buffer = max_buffer
        self.revalidate_on_admin = revalidate_on_admin

    def _admin_path(self, environ: dict[str, Any]) -> bool:
        path = str(environ.get("PATH_INFO") or "/")
        return any(path == p or path.startswith(p + "/") for p in self.admin_paths)

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Serve the request, adding the notice to the page when it is due."""
        admin = self.is_admin(environ)
        if admin and self.revalidate_on_admin:
            self.client.revalidate_in_background()
        notice = self.client.notice(public=not admin)
        if notice is None or environ.get("REQUEST_METHOD") == "HEAD":
            return self.app(environ, start_response)
        captured: dict[str, Any] = {}
        written: list[bytes] = []

        def capture(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            if exc_info is not None and captured.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
            captured.update(status=status, headers=headers)
            return written.append

        result = self.app(environ, capture)
        return self._respond(result, captured, written, start_response, notice.html)

    def _respond(
        self,
        result: Iterable[bytes],
        captured: dict[str, Any],
        written: list[bytes],
        start_response: StartResponse,
        notice_html: str,
    ) -> Iterator[bytes]:
        iterator = iter(result)
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in iterator:
                chunks.append(chunk)
                size += len(chunk)
                if "status" in captured and not _is_html(captured["headers"]):
                    break
                if size > self.max_buffer:
                    break
            status, headers = captured["status"], captured["headers"]
            captured["sent"] = True
            if size > self.max_buffer or not _is_html(headers):
                start_response(status, headers)
                yield from written
                yield from chunks
                yield from iterator
                return
            page = inject_notice(b"".join(written) + b"".join(chunks), notice_html)
            headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
            headers.append(("Content-Length", str(len(page))))
            start_response(status, headers)
            yield page
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
