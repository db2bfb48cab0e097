"""Where mail goes: an SMTP server, or (no SMTP configured) the instance folder.

``LICENSE_SERVER_SMTP_HOST`` selects SMTP; ``_SECURITY`` is ``starttls`` (the
default, port 587), ``tls`` (implicit TLS, port 465) or ``none`` (port 25, for a
relay on the same machine). ``_USER`` and ``_PASSWORD`` (or ``_PASSWORD_FILE``)
log in; ``_FROM`` is the sender address. A refusal of the recipient with a 5xx
answer is permanent; anything else (no connection, a timeout, a 4xx) is tried
again later. Log lines name the mail's id, template and a masked address, never
its content.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)
PORTS = {"starttls": 587, "tls": 465, "none": 25}


class MailNotSent(Exception):
    """A send that failed; ``permanent`` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Sender(Protocol):
    """Something that takes a finished message."""

    from_addr: str

    def send(self, message: EmailMessage) -> str:
        """Send ``message``; return a short note for the log (no secrets)."""


def masked(address: str) -> str:
    """Return ``a***@example.com`` for the log."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


@dataclass
class SmtpSender:
    """Send through an SMTP server."""

    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    from_addr: str
    timeout: float = 15.0
    tls: ssl.SSLContext | None = None

    def _connect(self) -> smtplib.SMTP:
        context = self.tls or ssl.create_default_context()
        if self.security == "tls":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            server.starttls(context=context)
        return server

    def send(self, message: EmailMessage) -> str:
        """Hand the message to the SMTP server."""
        try:
            with self._connect() as server:
                if self.user:
                    server.login(self.user, self.password or "")
                server.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = bool(codes) and all(500 <= code < 600 for code in codes)
            raise MailNotSent(
                f"recipient refused ({codes})", permanent=permanent
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise MailNotSent(f"SMTP {exc.smtp_code}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailNotSent(f"{type(exc).__name__}: {exc}"[:300]) from exc
        return f"sent through {self.host}:{self.port}"


@dataclass
class FolderSender:
    """Write each message to a file (the embedded default: no mail server needed)."""

    folder: Path
    from_addr: str

    def send(self, message: EmailMessage) -> str:
        """Write the message as ``<id>.eml`` (mode 0600)."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = str(message["X-Mail-Id"] or "mail") + ".eml"
        path = self.folder / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
        except OSError as exc:
            raise MailNotSent(f"cannot write {path}: {exc.strerror}") from exc
        return f"written to {path}"


def sender_from_config(config: Mapping[str, Any]) -> Sender:
    """Build the sender the configuration asks for."""
    instance = Path(str(config.get("INSTANCE_PATH") or "instance"))
    from_addr = str(config.get("SMTP_FROM") or "")
    host = config.get("SMTP_HOST")
    if not host:
        return FolderSender(instance / "mail", from_addr or "license-server@localhost")
    security = str(config.get("SMTP_SECURITY") or "starttls").lower()
    if security not in PORTS:
        raise ValueError("LICENSE_SERVER_SMTP_SECURITY is starttls, tls or none")
    if not from_addr:
        raise ValueError("LICENSE_SERVER_SMTP_FROM is needed with an SMTP host")
    return SmtpSender(
        host=str(host),
        port=int(config.get("SMTP_PORT") or PORTS[security]),
        security=security,
        user=config.get("SMTP_USER") or None,
        password=config.get("SMTP_PASSWORD") or None,
        from_addr=from_addr,
        timeout=float(config.get("SMTP_TIMEOUT") or 15),
    )
