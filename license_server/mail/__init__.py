"""Mail to site owners: an outbox written with the change, sent by the worker.

:func:`enqueue` adds a row to the caller's session (its transaction decides: a
committed change always has its mail, a rolled-back one never does). The worker
(:mod:`license_server.webhooks.runner`) sends due mails through SMTP, or, with no
``LICENSE_SERVER_SMTP_HOST``, writes them to the instance folder's ``mail/``; a mail
that fails is tried again with backoff until the mail server takes it.

The secret values of a mail's context (``link``, ``license_key``) are sealed with a
master-derived key bound to the vendor and the mail's row, and dropped once sent.
Templates (:mod:`license_server.mail.templates`) are the shipped defaults unless the
vendor set its own.
"""

from __future__ import annotations

import json
import uuid
import weakref
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

from license_server.keyring import Keyring
from license_server.models.portal import MailMessage, MailState

# template name -> the context values it needs (others are optional)
TEMPLATES: dict[str, tuple[str, ...]] = {
    "signin_link": ("link", "expires_minutes"),
    "license_delivered": ("license_key", "product_name"),
    "license_expiring": ("product_name", "key_hint", "expires_at"),
    "domain_moved": ("product_name", "key_hint", "old_domain", "new_domain"),
}
# context values stored sealed and dropped after sending
SECRET_FIELDS = frozenset({"link", "license_key"})

# The keyring of each app's engine, so that enqueue needs only the session (one
# entry per app, set when the app is built; weak, so a discarded app leaves none).
_KEYRINGS: weakref.WeakKeyDictionary[Engine, Keyring] = weakref.WeakKeyDictionary()


def register(engine: Engine, keyring: Keyring) -> None:
    """Let sessions bound to ``engine`` seal mail secrets with ``keyring``."""
    _KEYRINGS[engine] = keyring


def keyring_of(session: Session | scoped_session[Any]) -> Keyring:
    """Return the keyring of the app whose engine ``session`` uses."""
    bind = session.get_bind()
    engine = bind.engine if not isinstance(bind, Engine) else bind
    try:
        return _KEYRINGS[engine]
    except KeyError:
        raise RuntimeError("mail.register was not called for this engine") from None


def _check(to: str, template: str, context: dict[str, Any]) -> None:
    if template not in TEMPLATES:
        raise ValueError(
            f"unknown mail template {template!r}; one of {list(TEMPLATES)}"
        )
    missing = [name for name in TEMPLATES[template] if context.get(name) in (None, "")]
    if missing:
        raise ValueError(f"mail template {template!r} needs {missing}")
    local, at, domain = to.rpartition("@")
    if not (local and at and "." in domain) or any(c in to for c in "\r\n<>, "):
        raise ValueError("the recipient is not a plain e-mail address")
    json.dumps(context)  # a TypeError now, not in the worker


def enqueue(
    session: Session | scoped_session[Any],
    *,
    vendor_id: uuid.UUID,
    to: str,
    template: str,
    context: dict[str, Any],
) -> None:
    """Queue one mail in ``session``'s transaction; the worker sends it after commit.

    ``template`` is one of :data:`TEMPLATES`; ``context`` holds the values the
    template shows (JSON types). ``link`` and ``license_key`` are stored sealed.
    """
    _check(to, template, context)
    mail_id = uuid.uuid4()
    secrets_ = {k: v for k, v in context.items() if k in SECRET_FIELDS}
    plain = {k: v for k, v in context.items() if k not in SECRET_FIELDS}
    sealed = None
    if secrets_:
        payload = json.dumps(secrets_).encode()
        sealed = keyring_of(session).seal_mail_secret(
            payload, vendor_id=vendor_id, mail_id=mail_id
        )
    now = datetime.now(UTC)
    session.add(
        MailMessage(
            id=mail_id,
            vendor_id=vendor_id,
            to_addr=to,
            template=template,
            context=plain,
            secret_sealed=sealed,
            state=MailState.PENDING,
            tries=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


__all__ = ["SECRET_FIELDS", "TEMPLATES", "enqueue", "register"]
