"""A real SMTP server on loopback (aiosmtpd) for the mail and portal tests.

Addresses starting ``nobody@`` are refused with ``550`` (a permanent refusal);
the server can be stopped and started again on the same port (an outage).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from license_server.mail.transport import SmtpSender


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Inbox:
    """What the SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait until ``count`` messages arrived; return them."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, self.messages
        return self.messages

    @staticmethod
    def text(message: EmailMessage) -> str:
        """Return a message's plain-text body."""
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())


class SmtpServer:
    """aiosmtpd on 127.0.0.1, stoppable and restartable on its port."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = _free_port()
        self._controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, ready_timeout=10
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def sender(self, from_addr: str = "licenses@acme.example") -> SmtpSender:
        """A sender to this server (plain SMTP on loopback)."""
        return SmtpSender(
            host="127.0.0.1",
            port=self.port,
            security="none",
            user=None,
            password=None,
            from_addr=from_addr,
            timeout=5,
        )

    def config(self) -> dict[str, Any]:
        """The app settings that send through this server."""
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": self.port,
            "SMTP_SECURITY": "none",
            "SMTP_FROM": "licenses@acme.example",
            "SMTP_TIMEOUT": 5,
        }


@pytest.fixture(name="smtp")
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server on loopback; skips without aiosmtpd (unless CI)."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        if os.environ.get("REQUIRE_SMTP") == "1":
            pytest.fail("aiosmtpd is not installed; REQUIRE_SMTP=1 forbids skipping")
        pytest.skip("aiosmtpd is not installed (pip install -e '.[dev]')")
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
