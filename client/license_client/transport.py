"""HTTP transports: an injectable interface and a standard-library default.

A transport sends one :class:`Request` and returns a :class:`Response` of any
status, or raises :class:`~license_client.exceptions.TransportFailed` (and its
subclasses). It must not raise anything else; the client catches those.

:class:`StdlibTransport` uses :mod:`http.client` (the engine under urllib) in a
worker thread, so the timeout is *hard*: it bounds DNS, connect, sending and
reading together, and a server that trickles bytes cannot hold the caller past it.
It follows no redirects and reads at most ``max_body`` bytes.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from license_client.exceptions import AnswerTooLarge, TransportFailed, TransportTimeout

__all__ = ["MAX_BODY", "Request", "Response", "StdlibTransport", "Transport"]

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Request:
    """One HTTP request."""

    method: str
    url: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """One HTTP response, whatever its status."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport(Protocol):
    """Send a request; raise only TransportFailed (or subclasses)."""

    def send(self, request: Request, *, timeout: float) -> Response:
        """Send ``request`` and return the response within ``timeout`` seconds."""
        ...


class _Exchange:
    """One request/response on its own connection, abortable from another thread."""

    def __init__(self, request: Request, timeout: float, max_body: int) -> None:
        self.request, self.timeout, self.max_body = request, timeout, max_body
        self.connection: http.client.HTTPConnection | None = None
        self.response: Response | None = None
        self.error: Exception | None = None
        self.done = threading.Event()

    def run(self) -> None:
        """Do the exchange (in the worker thread); keep the answer or the error."""
        try:
            self.response = self._send()
        except Exception as exc:  # handed over to the caller's thread
            self.error = exc
        finally:
            if self.connection is not None:
                self.connection.close()
            self.done.set()

    def abort(self) -> None:
        """Shut the socket down so a blocked read returns at once."""
        sock = self.connection.sock if self.connection is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                return

    def _send(self) -> Response:
        url = urllib.parse.urlsplit(self.request.url)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        if url.scheme == "https":
            context = ssl.create_default_context()
            self.connection = http.client.HTTPSConnection(
                url.netloc, timeout=self.timeout, context=context
            )
        elif url.scheme == "http":
            self.connection = http.client.HTTPConnection(
                url.netloc, timeout=self.timeout
            )
        else:
            raise TransportFailed(f"unsupported URL scheme {url.scheme!r}")
        headers = {"Content-Length": str(len(self.request.body))}
        headers.update(self.request.headers)
        self.connection.request(
            self.request.method, path, body=self.request.body, headers=headers
        )
        answer = self.connection.getresponse()
        try:
            length = answer.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                raise AnswerTooLarge(
                    f"answer of {length} bytes is over {self.max_body}"
                )
            body = answer.read(self.max_body + 1)
            if len(body) > self.max_body:
                raise AnswerTooLarge(f"answer is over {self.max_body} bytes")
            return Response(answer.status, body, dict(answer.getheaders()))
        finally:
            answer.close()  # the answer may own the socket (no keep-alive)


class StdlibTransport:
    """HTTP(S) with the standard library and a hard overall timeout."""

    def __init__(self, *, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body

    def send(self, request: Request, *, timeout: float) -> Response:
        """Send ``request``; raise TransportTimeout past ``timeout`` seconds."""
        exchange = _Exchange(request, timeout, self.max_body)
        worker = threading.Thread(
            target=exchange.run, name="license-client-http", daemon=True
        )
        worker.start()
        if not exchange.done.wait(timeout):
            exchange.abort()
            raise TransportTimeout(f"no answer within {timeout:g} s")
        if exchange.error is not None:
            error = exchange.error
            if isinstance(error, TransportFailed):
                raise error
            if isinstance(error, TimeoutError):
                raise TransportTimeout(f"no answer within {timeout:g} s") from None
            raise TransportFailed(f"{type(error).__name__}: {error}") from None
        if exchange.response is None:
            raise TransportFailed("the exchange ended without an answer")
        return exchange.response
