"""The default transport over real local sockets: hostile timing and sizes.

A raw socket server on 127.0.0.1 plays the hostile part: it never answers,
trickles bytes, sends 10 MB, sends HTML, hangs up, redirects. The hard timeout is
small (0.5 s) and the tests assert the caller got control back in time.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from license_client import (
    AnswerTooLarge,
    Request,
    State,
    StdlibTransport,
    TransportFailed,
    TransportTimeout,
)
from tests.client.conftest import FakeServer, fake_client

Behaviour = Callable[[socket.socket, threading.Event], None]
TIMEOUT = 0.5


@contextmanager
def raw_server(behaviour: Behaviour) -> Iterator[str]:
    """Run ``behaviour`` for each connection to a local port; yield its URL."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    handlers: list[threading.Thread] = []

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                behaviour(conn, stop)
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            worker = threading.Thread(target=handle, args=(conn,), daemon=True)
            handlers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        acceptor.join(2)
        for worker in handlers:
            worker.join(2)
        listener.close()


def never_answers(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(5)


def trickles(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    while not stop.wait(0.1):
        conn.sendall(b"X-Slow: 1\r\n")


def huge(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
    chunk = b'{"token": "' + b"e" * 65536
    for _ in range(160):  # 10 MB, no Content-Length
        if stop.is_set():
            return
        conn.sendall(chunk)


def huge_declared(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n{")


def html(conn: socket.socket, stop: threading.Event) -> None:
    page = b"<html><body><h1>It works!</h1></body></html>"
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(page)}"
    conn.sendall(head.encode() + b"\r\n\r\n" + page)


def hangs_up(conn: socket.socket, stop: threading.Event) -> None:
    conn.shutdown(socket.SHUT_RDWR)


def redirects(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:9/x\r\n"
        b"Content-Length: 0\r\n\r\n"
    )


def send(url: str) -> float:
    started = time.monotonic()
    StdlibTransport().send(
        Request("POST", url + "/v1/validate", b"{}"), timeout=TIMEOUT
    )
    return time.monotonic() - started


@pytest.mark.parametrize("behaviour", [never_answers, trickles])
def test_slow_answers_hit_the_hard_timeout(behaviour: Behaviour) -> None:
    with raw_server(behaviour) as url:
        started = time.monotonic()
        with pytest.raises(TransportTimeout):
            send(url)
        assert time.monotonic() - started < TIMEOUT + 0.5


@pytest.mark.parametrize("behaviour", [huge, huge_declared])
def test_huge_answers_are_cut_off(behaviour: Behaviour) -> None:
    with raw_server(behaviour) as url, pytest.raises(AnswerTooLarge):
        send(url)


def test_hang_up_is_a_transport_failure() -> None:
    with raw_server(hangs_up) as url, pytest.raises(TransportFailed):
        send(url)


def test_refused_connection_is_a_transport_failure() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(TransportFailed):
        send(f"http://127.0.0.1:{port}")


def test_redirects_are_not_followed() -> None:
    with raw_server(redirects) as url:
        request = Request("POST", url + "/v1/validate", b"{}")
        response = StdlibTransport().send(request, timeout=TIMEOUT)
    assert response.status == 307


@pytest.mark.parametrize(
    "behaviour",
    [never_answers, trickles, huge, huge_declared, html, hangs_up, redirects],
)
def test_site_survives_every_hostile_socket(
    fake_server: FakeServer, behaviour: Behaviour
) -> None:
    with raw_server(behaviour) as url:
        site = fake_client(
            fake_server, server_url=url, transport=StdlibTransport(), timeout=TIMEOUT
        )
        started = time.monotonic()
        outcome = site.activate("JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P")
        assert time.monotonic() - started < TIMEOUT + 0.5
    assert not outcome.ok
    assert outcome.code in {"NETWORK_ERROR", "BAD_ANSWER"}
    assert site.status().state is State.UNKNOWN and site.notice() is not None
