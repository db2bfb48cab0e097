"""The webhook POST's own timeout: a receiver that never answers is named as such."""

from __future__ import annotations

import ssl
import threading
from typing import Any

import pytest

from license_server.webhooks import transport
from license_server.webhooks.ssrf import Target
from tests.server.webhook_support import Receiver, Reply

pytestmark = pytest.mark.unit


class _LingeringTimer(threading.Timer):
    """A timer whose thread stays alive a while after its function ran.

    A busy machine does this on its own now and then; the delivery must still
    call the aborted POST a timeout, not the socket error the abort caused.
    """

    def run(self) -> None:
        super().run()
        threading.Event().wait(0.5)  # the function has run: linger


class _PatientSocket(transport._Connection):
    """A connection whose socket would wait far longer than the total timeout,
    so the watchdog's abort, not the socket's own timeout, ends the wait."""

    def __init__(self, target: Target, timeout: float, context: Any) -> None:
        super().__init__(target, timeout * 20, context)


def test_an_aborted_post_is_a_timeout_while_the_timer_lingers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport.threading, "Timer", _LingeringTimer)
    monkeypatch.setattr(transport, "_Connection", _PatientSocket)
    with Receiver(Reply(200, delay=3.0)) as receiver:
        port = receiver.server.server_address[1]
        target = Target("http", "127.0.0.1", port, "/hooks", "127.0.0.1")
        with pytest.raises(transport.DeliveryError) as refused:
            transport.post(target, body=b"{}", headers={}, timeout=0.3)
    assert str(refused.value) == "no answer within 0.3 s"


def test_a_receiver_that_answers_is_not_a_timeout() -> None:
    with Receiver(Reply(204, body=b"")) as receiver:
        port = receiver.server.server_address[1]
        target = Target("http", "127.0.0.1", port, "/hooks", "127.0.0.1")
        answer: Any = transport.post(target, body=b"{}", headers={}, timeout=2.0)
    assert answer.status == 204


def test_https_verifies_certificates_and_http_loads_no_ca_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used: list[ssl.SSLContext] = []

    class _Recording(transport._Connection):
        def __init__(self, target: Target, timeout: float, context: Any) -> None:
            used.append(context)
            super().__init__(target, timeout, context)

    monkeypatch.setattr(transport, "_Connection", _Recording)
    with Receiver(Reply(204, body=b"")) as receiver:
        port = receiver.server.server_address[1]
        plain = Target("http", "127.0.0.1", port, "/hooks", "127.0.0.1")
        assert transport.post(plain, body=b"{}", headers={}, timeout=2.0).status == 204
        tls = Target("https", "localhost", port, "/hooks", "127.0.0.1")
        with pytest.raises(transport.DeliveryError):  # a plain receiver: no TLS
            transport.post(tls, body=b"{}", headers={}, timeout=2.0)
    unused, verifying = used
    assert unused.cert_store_stats()["x509_ca"] == 0
    assert verifying.verify_mode == ssl.CERT_REQUIRED and verifying.check_hostname
    assert (
        verifying.cert_store_stats() == ssl.create_default_context().cert_store_stats()
    )
