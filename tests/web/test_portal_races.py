"""Races on PostgreSQL: a link spent twice at once, a mail claimed by two workers,
two moves of one licence at once.

Each test fails with its guard taken out: ``used_at IS NULL`` in the UPDATE of
``portal.use_link``; ``FOR UPDATE SKIP LOCKED`` in ``mail.delivery._claim``; the
licence row lock in ``moves._lock``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server import mail, runtime
from license_server.extensions import db
from license_server.mail import delivery
from license_server.models import Activation
from license_server.models.portal import MailMessage, MailState
from license_server.services import moves, portal
from license_server.services.web_sessions import SessionPolicy
from tests.conftest import VendorFixture, make_app
from tests.web.portal_support import PUBLIC_URL, Shop, ask_link, build_shop, link_path

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
POLICY = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = make_app(database_url, tmp_path / "instance", PUBLIC_URL=PUBLIC_URL)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def shop(app: Flask, client: FlaskClient, vendor: VendorFixture) -> Shop:
    return build_shop(app, client, vendor)


def _together(app: Flask, work: Callable[[], Any], count: int = 2) -> list[Any]:
    """Run ``work`` in ``count`` threads with their own sessions; return outcomes."""
    outcomes: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(index: int) -> None:
        with app.app_context():
            start.wait()
            try:
                outcomes[index] = work()
            except Exception as exc:  # noqa: BLE001 - the outcome under test
                outcomes[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_a_link_spent_twice_at_once_signs_in_once(
    app: Flask, client: FlaskClient, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    ask_link(client, shop.slug, "ann@example.com")
    token = link_path(app).rsplit("/", 1)[1]
    with client.session_transaction() as cookie:
        browser = cookie["portal_browser"]
    found = portal.find_link
    both_found = threading.Barrier(2)

    def slow_find(**kwargs: Any) -> Any:
        link = found(**kwargs)
        both_found.wait()  # both requests saw the link unused
        return link

    monkeypatch.setattr(portal, "find_link", slow_find)
    keyring = runtime.of(app).keyring
    outcomes = _together(
        app,
        lambda: portal.use_link(
            keyring=keyring,
            vendor_id=shop.vendor.new.vendor.id,
            token=token,
            browser=browser,
            policy=POLICY,
            now=datetime.now(UTC),
        ),
    )
    kinds = sorted(type(outcome).__name__ for outcome in outcomes)
    assert kinds == ["LinkInvalid", "tuple"], outcomes


class SlowSender:
    """Takes every message, slowly (the SMTP talk of a real server)."""

    from_addr = "licenses@acme.example"

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> str:
        time.sleep(0.5)
        self.sent.append(message)
        return "taken"


def test_two_workers_never_send_one_mail_twice(
    app: Flask, vendor: VendorFixture
) -> None:
    with app.app_context():
        mail.enqueue(
            db.session,
            vendor_id=vendor.new.vendor.id,
            to="ann@example.com",
            template="license_delivered",
            context={"license_key": "JAN-X", "product_name": "Jannah"},
        )
        db.session.commit()
    sender = SlowSender()
    keyring = runtime.of(app).keyring
    later = datetime.now(UTC) + timedelta(seconds=1)
    outcomes = _together(
        app,
        lambda: delivery.deliver_one(
            keyring=keyring, sender=sender, clock=lambda: later
        ),
    )
    assert sorted(outcomes) == [False, True]
    assert len(sender.sent) == 1
    with app.app_context():
        (row,) = db.session.scalars(select(MailMessage))
        assert (row.state, row.tries) == (MailState.SENT, 1)


def test_two_moves_at_once_cannot_both_pass_a_limit_of_one(
    app: Flask, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    once = app.test_client().patch(
        f"/v1/admin/products/{shop.product_id}", json={"max_deactivations": 1},
        headers=shop.vendor.headers,
    )  # fmt: skip
    assert once.status_code == 200, once.get_json()
    ended = moves.end_counted

    def slow_end(*args: Any, **kwargs: Any) -> None:
        ended(*args, **kwargs)
        time.sleep(0.5)  # widen the window between the count and the commit

    monkeypatch.setattr(moves, "end_counted", slow_end)
    with app.app_context():
        sites = {
            a.domain: a.id
            for a in db.session.scalars(
                select(Activation).where(
                    Activation.license_id == uuid.UUID(shop.ann["id"])
                )
            )
        }
    keyring = runtime.of(app).keyring
    pairs = iter([("old-site.com", "one.com"), ("second-site.com", "two.com")])
    lock = threading.Lock()

    def move() -> Any:
        with lock:
            source, target = next(pairs)
        return moves.move(
            keyring=keyring,
            vendor_id=shop.vendor.new.vendor.id,
            email="ann@example.com",
            license_id=uuid.UUID(shop.ann["id"]),
            activation_id=sites[source],
            domain=target,
            actor="test",
            portal_url=None,
            now=datetime.now(UTC),
        )

    outcomes = _together(app, move)
    kinds = sorted(type(outcome).__name__ for outcome in outcomes)
    assert kinds == ["DeactivationLimitReached", "Moved"], outcomes
