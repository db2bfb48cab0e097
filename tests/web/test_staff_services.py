"""Staff services without pages: link races, TOTP replay, charts, the CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from license_server import runtime
from license_server.cli import main
from license_server.extensions import db
from license_server.models.users import StaffToken, StaffUser
from license_server.services import staff_links, staff_signin
from license_server.web.common.charts import Series, bar_chart, nice_step
from tests.conftest import TEST_MASTER_KEY, VendorFixture
from tests.web.conftest import PASSWORD, add_staff


def test_a_link_checked_twice_is_used_once(app: Flask, vendor: VendorFixture) -> None:
    """Two requests may both find the link valid; only one may use it."""
    now = datetime.now(UTC)
    with app.app_context():
        _, token = staff_links.invite(
            keyring=runtime.of(app).keyring,
            vendor_id=vendor.new.vendor.id,
            email="race@example.com",
            role="viewer",
            actor="test",
            now=now,
        )
        first = staff_links.find(
            keyring=runtime.of(app).keyring, purpose="invite", token=token, now=now
        )
        second = db.session.get(StaffToken, first.id)
        assert second is not None
        staff_links._use(first, now)
        with pytest.raises(staff_links.LinkInvalid):
            staff_links._use(second, now)  # the stale copy still says "unused"


def test_links_are_stored_as_keyed_hashes(app: Flask, vendor: VendorFixture) -> None:
    with app.app_context():
        _, token = staff_links.invite(
            keyring=runtime.of(app).keyring,
            vendor_id=vendor.new.vendor.id,
            email="hash@example.com",
            role="viewer",
            actor="test",
            now=datetime.now(UTC),
        )
        stored = db.session.scalars(select(StaffToken)).one()
    assert token.encode() not in stored.token_hash and len(stored.token_hash) == 32


def test_totp_code_is_accepted_once(app: Flask, vendor: VendorFixture) -> None:
    add_staff(app, vendor, "totp@example.com", "owner")
    secret = pyotp.random_base32()
    now = datetime.now(UTC)
    with app.app_context():
        user = db.session.scalars(select(StaffUser)).one()
        code = pyotp.TOTP(secret).at(now)
        assert staff_signin.accept_code(user, pyotp.TOTP(secret), code, now)
        assert not staff_signin.accept_code(user, pyotp.TOTP(secret), code, now)
        assert not staff_signin.accept_code(user, pyotp.TOTP(secret), "000000", now)


@pytest.mark.parametrize(
    ("highest", "ticks"),
    [(0, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (37, [0, 10, 20, 30, 40])],
)
def test_chart_ticks_are_round_and_distinct(highest: int, ticks: list[int]) -> None:
    svg = bar_chart(
        chart_id="c",
        title="T <x>",
        labels=["2026-12-01", "2026-12-02"],
        series=[Series("A", [0, highest])],
        unit="sites",
    )
    shown = [int(v.replace(",", "")) for v in re.findall(r'end">([\d,]+)<', svg)]
    assert shown == ticks and nice_step(highest) == ticks[1] - ticks[0]
    assert "T &lt;x&gt;" in svg and "<script" not in svg
    assert "2 Dec" in svg


def test_cli_creates_the_first_owner(
    app: Flask,
    vendor: VendorFixture,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LICENSE_SERVER_DATABASE_URL", database_url)
    monkeypatch.setenv("LICENSE_SERVER_MASTER_KEY", TEST_MASTER_KEY)
    runner = CliRunner()
    args = ["users", "create", vendor.slug, "Boss@Example.com", "--role", "owner"]
    result = runner.invoke(main, [*args, "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "boss@example.com (owner)" in result.output
    again = runner.invoke(main, [*args, "--password", PASSWORD])
    assert again.exit_code != 0 and "STAFF_EXISTS" in again.output
    short = runner.invoke(main, [*args[:3], "x@example.com", "--password", "short"])
    assert short.exit_code != 0 and "12 characters" in short.output
    with app.app_context():
        user = db.session.scalars(
            select(StaffUser).where(StaffUser.email == "boss@example.com")
        ).one()
        assert user.password_hash.startswith("$argon2id$")


def test_signing_in_purges_dead_sessions(app: Flask, vendor: VendorFixture) -> None:
    from datetime import timedelta

    from license_server.models.users import WebSession
    from license_server.services.web_sessions import SessionPolicy

    add_staff(app, vendor, "purge@example.com", "viewer")
    policy = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=1))
    keyring = runtime.of(app).keyring
    with app.app_context():
        old = datetime.now(UTC) - timedelta(hours=2)
        staff_signin.sign_in(
            keyring=keyring,
            email="purge@example.com",
            password=PASSWORD,
            address=None,
            policy=policy,
            now=old,
        )
        staff_signin.sign_in(
            keyring=keyring,
            email="purge@example.com",
            password=PASSWORD,
            address=None,
            policy=policy,
            now=datetime.now(UTC),
        )
        left = db.session.scalars(select(WebSession)).all()
    assert len(left) == 1 and left[0].expires_at > datetime.now(UTC)


def test_a_password_keeps_the_cost_it_was_hashed_with(
    app: Flask, vendor: VendorFixture
) -> None:
    """A hash made at the production cost signs in on an app of a lower cost."""
    from argon2 import extract_parameters

    from license_server.services import staff
    from tests.web.conftest import sign_in

    with app.app_context():
        user = staff.create_user(  # no hasher passed: argon2-cffi's defaults
            keyring=runtime.of(app).keyring,
            vendor_id=vendor.new.vendor.id,
            email="costly@example.com",
            role="owner",
            password=PASSWORD,
            actor="test",
            now=datetime.now(UTC),
        )
        cost = extract_parameters(user.password_hash)
    assert (cost.time_cost, cost.memory_cost, cost.parallelism) == (3, 65536, 4)
    assert runtime.of(app).password_hasher.memory_cost == 64  # the tests' setting
    assert sign_in(app.test_client(), "costly@example.com").status_code == 302
    assert sign_in(app.test_client(), "costly@example.com", "x" * 12).status_code == 401
