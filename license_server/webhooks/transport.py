"""One webhook POST: to the vetted address, within a total deadline, no redirects.

The connection goes to the address :mod:`.ssrf` vetted, with the URL's host in the
``Host`` header and in TLS (SNI and certificate check). A watchdog closes the socket
when the total timeout passes, so a receiver that trickles its answer cannot hold
a worker longer. Only the status, ``Retry-After`` and the first 2 KB are kept.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from dataclasses import dataclass

from license_server.webhooks.ssrf import Target

KEEP_BYTES = 2048
USER_AGENT = "license-server-webhooks/1"


class DeliveryError(Exception):
    """The POST did not get an HTTP answer (refused, timed out, TLS failed...)."""


@dataclass(frozen=True)
class Answer:
    """What a receiver answered."""

    status: int
    retry_after: str | None
    body: str


class _Connection(http.client.HTTPSConnection):
    """An HTTP(S) connection to a fixed address, naming the URL's host."""

    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext):
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._target = target
        self._tls_context = context

    def connect(self) -> None:
        """Connect to the vetted address; wrap in TLS for https."""
        address = (self._target.address, self._target.port)
        self.sock = socket.create_connection(address, self.timeout)
        if self._target.scheme == "https":
            self.sock = self._tls_context.wrap_socket(
                self.sock, server_hostname=self._target.host
            )


def _abort(connection: _Connection, fired: threading.Event) -> None:
    # said before the socket goes: the blocked thread wakes as soon as it does, and
    # must know why (checking whether this timer's thread is still alive raced:
    # it still is while this function runs)
    fired.set()
    # shutdown, unlike close, wakes a recv blocked in another thread
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _unused_context() -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def post(
    target: Target,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    context: ssl.SSLContext | None = None,
) -> Answer:
    """POST ``body`` to ``target``; raise :class:`DeliveryError` without an answer."""
    if context is None:
        # the CA store is loaded only where TLS is spoken (some 50 ms of CPU a load);
        # a plain http connection never uses its context
        https = target.scheme == "https"
        context = ssl.create_default_context() if https else _unused_context()
    connection = _Connection(target, timeout, context)
    fired = threading.Event()
    watchdog = threading.Timer(timeout, _abort, (connection, fired))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        response = connection.getresponse()
        kept = response.read(KEEP_BYTES)
        return Answer(
            response.status,
            response.getheader("Retry-After"),
            kept.decode("utf-8", errors="replace"),
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if isinstance(exc, TimeoutError) or fired.is_set():
            raise DeliveryError(f"no answer within {timeout:g} s") from exc
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:300]) from exc
    finally:
        watchdog.cancel()
        connection.close()
