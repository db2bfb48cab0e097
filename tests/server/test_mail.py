"""The mail outbox: written with the change, sent by the worker, never lost.

A real SMTP server on loopback (aiosmtpd) takes the mails. Secrets are sealed in
the outbox and dropped once sent; a send during an outage is retried until the
server is back; a rolled-back change queues nothing; the embedded default writes
mail to the instance folder and logs no secret.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from license_server import mail, runtime
from license_server.extensions import db
from license_server.mail import templates
from license_server.mail.transport import FolderSender, sender_from_config
from license_server.models.portal import MailMessage, MailState
from license_server.webhooks.runner import Runner
from tests.conftest import VendorFixture, make_app, new_vendor
from tests.mail_support import Inbox, SmtpServer, smtp_server  # noqa: F401
from tests.server.webhook_support import Clock

KEY = "JAN-MEHPS-R7VX2-CSPBY-XC0T2-DX7DJ"


def _queue(app: Flask, vendor: VendorFixture, **context: Any) -> None:
    with app.app_context():
        mail.enqueue(
            db.session,
            vendor_id=vendor.new.vendor.id,
            to=context.pop("to", "ann@example.com"),
            template=context.pop("template", "license_delivered"),
            context={"license_key": KEY, "product_name": "Jannah", **context},
        )
        db.session.commit()


def _mails(app: Flask) -> list[MailMessage]:
    with app.app_context():
        found = list(db.session.scalars(select(MailMessage)))
        db.session.expunge_all()
        return found


def _clock() -> Clock:
    """A hand-moved clock a second ahead (enqueue stamps the real time)."""
    return Clock(datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1))


def _runner(app: Flask, server: SmtpServer, clock: Clock) -> Runner:
    return Runner(app, clock=clock, mail_sender=server.sender())


def test_queued_mail_is_sealed_then_sent_and_its_secret_dropped(
    app: Flask, vendor: VendorFixture, smtp: SmtpServer
) -> None:
    _queue(app, vendor, customer_name="Ann Lee")
    (queued,) = _mails(app)
    assert queued.state == MailState.PENDING
    assert "license_key" not in queued.context
    assert queued.secret_sealed is not None
    with app.app_context():  # the key is nowhere in the row, as stored
        raw = db.session.execute(text("SELECT * FROM mail_outbox")).one()
        assert KEY not in repr(raw) and KEY.encode() not in bytes(raw.secret_sealed)
    clock = _clock()
    assert _runner(app, smtp, clock).tick() >= 1
    (message,) = smtp.inbox.wait_for(1)
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Your Jannah licence key"
    assert "Acme Themes" in message["From"]
    assert KEY in Inbox.text(message)
    assert "Hello Ann Lee," in Inbox.text(message)
    (sent,) = _mails(app)
    assert (sent.state, sent.tries, sent.secret_sealed) == (MailState.SENT, 1, None)


def test_a_rolled_back_change_queues_no_mail(app: Flask, vendor: VendorFixture) -> None:
    with app.app_context():
        mail.enqueue(
            db.session,
            vendor_id=vendor.new.vendor.id,
            to="ann@example.com",
            template="domain_moved",
            context={
                "product_name": "Jannah",
                "key_hint": "DX7DJ",
                "old_domain": "a.com",
                "new_domain": "b.com",
            },
        )
        db.session.rollback()
    assert _mails(app) == []


def test_mail_sent_during_an_outage_goes_once_the_server_is_back(
    app: Flask, vendor: VendorFixture, smtp: SmtpServer
) -> None:
    _queue(app, vendor)
    smtp.stop()
    clock = _clock()
    runner = _runner(app, smtp, clock)
    runner.tick()
    (waiting,) = _mails(app)
    assert waiting.state == MailState.PENDING and waiting.tries == 1
    assert waiting.last_error and KEY not in waiting.last_error
    assert waiting.secret_sealed is not None  # kept until it is sent
    assert (waiting.next_attempt_at - clock.now).total_seconds() == 10
    clock.advance(5)
    runner.tick()  # not due yet
    assert _mails(app)[0].tries == 1
    clock.advance(6)
    runner.tick()  # due, the server still down: 30 s more
    assert _mails(app)[0].tries == 2
    smtp.start()
    clock.advance(31)
    runner.tick()
    (message,) = smtp.inbox.wait_for(1)
    assert KEY in Inbox.text(message)
    (sent,) = _mails(app)
    assert (sent.state, sent.tries, sent.secret_sealed) == (MailState.SENT, 3, None)


def test_a_permanent_refusal_ends_the_mail_as_failed(
    app: Flask, vendor: VendorFixture, smtp: SmtpServer
) -> None:
    _queue(app, vendor, to="nobody@example.com")
    _runner(app, smtp, _clock()).tick()
    (failed,) = _mails(app)
    assert failed.state == MailState.FAILED and failed.secret_sealed is None
    assert "550" in (failed.last_error or "")
    assert smtp.inbox.messages == []


def test_a_vendor_template_replaces_the_default_and_bad_ones_are_refused(
    app: Flask, vendor: VendorFixture, smtp: SmtpServer
) -> None:
    vendor_id = vendor.new.vendor.id
    with app.app_context():
        templates.set_template(
            vendor_id=vendor_id,
            name="license_delivered",
            text="Subject: {{ product_name }} for you\n\nKey: {{ license_key }}\n",
            now=datetime.now(UTC),
        )
        for bad in (
            "no subject line\n\nbody",
            "Subject: x\n\n{{ license_key",  # syntax
            "Subject: x\n\n{{ no_such_value }}",  # unknown value
            "Subject: x\n\n{{ ''.__class__.__mro__ }}",  # sandbox
        ):
            with pytest.raises(templates.TemplateInvalid):
                templates.set_template(
                    vendor_id=vendor_id,
                    name="license_delivered",
                    text=bad,
                    now=datetime.now(UTC),
                )
    other = new_vendor(app, "Other Shop")
    _queue(app, vendor)
    _queue(app, other)
    _runner(app, smtp, _clock()).tick()
    subjects = sorted(m["Subject"] for m in smtp.inbox.wait_for(2))
    assert subjects == ["Jannah for you", "Your Jannah licence key"]


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("no_such_template", {}),
        ("signin_link", {"expires_minutes": 15}),  # the link is missing
        ("license_delivered", {"license_key": KEY}),  # product_name missing
    ],
)
def test_enqueue_refuses_unknown_templates_and_missing_values(
    app: Flask, vendor: VendorFixture, template: str, context: dict[str, Any]
) -> None:
    with app.app_context(), pytest.raises(ValueError):
        mail.enqueue(
            db.session,
            vendor_id=vendor.new.vendor.id,
            to="ann@example.com",
            template=template,
            context=context,
        )


@pytest.mark.parametrize("to", ["ann", "ann@example.com\r\nBcc: x@y.z", "a b@c.de"])
def test_enqueue_refuses_addresses_that_are_not_plain(
    app: Flask, vendor: VendorFixture, to: str
) -> None:
    with app.app_context(), pytest.raises(ValueError):
        mail.enqueue(
            db.session,
            vendor_id=vendor.new.vendor.id,
            to=to,
            template="license_delivered",
            context={"license_key": KEY, "product_name": "Jannah"},
        )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_smtp_mail_goes_to_the_instance_folder_and_logs_no_secret(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(database_url, tmp_path / "instance")
    vendor = new_vendor(app)
    sender = sender_from_config(app.config)
    assert isinstance(sender, FolderSender)
    assert sender.folder == tmp_path / "instance" / "mail"
    _queue(app, vendor)
    with caplog.at_level(logging.DEBUG):
        Runner(app, clock=_clock()).tick()
    (written,) = (tmp_path / "instance" / "mail").glob("*.eml")
    assert written.stat().st_mode & 0o077 == 0
    assert KEY in written.read_text(encoding="utf-8")
    lines = [r.getMessage() for r in caplog.records if "mail" in r.getMessage()]
    assert any(str(written) in line for line in lines), lines
    assert not any(KEY in r.getMessage() for r in caplog.records)
    assert "ann@example.com" not in " ".join(lines)  # the address is masked


def test_smtp_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    from license_server.config import resolve

    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n")
    settings = resolve(
        environ={
            "LICENSE_SERVER_SMTP_HOST": "smtp.example.com",
            "LICENSE_SERVER_SMTP_SECURITY": "tls",
            "LICENSE_SERVER_SMTP_USER": "mailer",
            "LICENSE_SERVER_SMTP_PASSWORD_FILE": str(secret),
            "LICENSE_SERVER_SMTP_FROM": "licenses@example.com",
        }
    )
    sender = sender_from_config(settings)
    assert (sender.host, sender.port, sender.security) == (  # type: ignore[attr-defined]
        "smtp.example.com",
        465,
        "tls",
    )
    assert sender.password == "s3cret"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="SMTP_FROM"):
        sender_from_config({**settings, "SMTP_FROM": None})


def test_mail_ids_bind_the_sealed_secret(app: Flask, vendor: VendorFixture) -> None:
    """A sealed secret moved to another row (or vendor) does not open."""
    from cryptography.exceptions import InvalidTag

    keyring = runtime.of(app).keyring
    vendor_id, mail_id = vendor.new.vendor.id, uuid.uuid4()
    sealed = keyring.seal_mail_secret(b"{}", vendor_id=vendor_id, mail_id=mail_id)
    assert keyring.open_mail_secret(sealed, vendor_id=vendor_id, mail_id=mail_id)
    for other in ({"vendor_id": uuid.uuid4(), "mail_id": mail_id},
                  {"vendor_id": vendor_id, "mail_id": uuid.uuid4()}):  # fmt: skip
        with pytest.raises(InvalidTag):
            keyring.open_mail_secret(sealed, **other)


def test_expiring_soon_queues_the_expiry_mail_once_and_old_mail_is_purged(
    app: Flask, vendor: VendorFixture
) -> None:
    from tests.conftest import create_license, create_product

    client = app.test_client()
    create_product(client, vendor)
    soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    create_license(client, vendor, customer_email="ann@example.com", expires_at=soon)
    create_license(client, vendor, expires_at=soon)  # no e-mail: no mail
    from license_server.webhooks import jobs

    with app.app_context():
        now = datetime.now(UTC)
        jobs.run(keyring=runtime.of(app).keyring, now=now, expiring_soon_days=7)
        jobs.run(
            keyring=runtime.of(app).keyring,
            now=now + timedelta(hours=1),
            expiring_soon_days=7,
        )  # once only
    (queued,) = _mails(app)
    assert (queued.template, queued.to_addr) == ("license_expiring", "ann@example.com")
    assert queued.context["product_name"] == "Jannah"
    with app.app_context():
        row = db.session.get_one(MailMessage, queued.id)
        row.state, row.finished_at = MailState.SENT, datetime.now(UTC)
        db.session.commit()
        jobs.run(
            keyring=runtime.of(app).keyring,
            now=datetime.now(UTC) + timedelta(days=29),
            expiring_soon_days=0,
        )
        assert db.session.scalars(select(MailMessage)).all() != []
        jobs.run(
            keyring=runtime.of(app).keyring,
            now=datetime.now(UTC) + timedelta(days=31),
            expiring_soon_days=0,
        )
        assert db.session.scalars(select(MailMessage)).all() == []
