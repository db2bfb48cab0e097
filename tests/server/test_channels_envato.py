"""Envato purchase codes accepted as licence keys, against a local Envato.

``FakeEnvato`` (tests/server/channel_support.py) is a real HTTP server on loopback
answering with the shapes Envato's author sale API documents: a sale (200), no such
sale (404, also what a refunded or reversed sale becomes), 429 with Retry-After,
and down (connections refused).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_client import MemoryStore
from license_server.channels import envato
from license_server.channels.envato_api import EnvatoApi
from license_server.extensions import db
from license_server.keyring import new_master_key
from license_server.models import License
from license_server.models.channels import PurchaseCode
from license_server.runtime import of as runtime_of
from tests.client.conftest import FlaskTransport, real_client
from tests.conftest import (
    TEST_MASTER_KEY,
    VendorFixture,
    create_product,
    make_app,
    new_vendor,
    public_call,
)
from tests.server.channel_support import (
    ADMIN,
    FakeEnvato,
    connect,
    envato_sale,
    fake_envato,
    generic_order,
    license_count,
    send_event,
)
from tests.server.test_rekey import rotate
from tests.server.test_seat_races import race

CODE = "8f3c2a1b-4d5e-4f60-9a7b-1c2d3e4f5a6b"
ITEM = 2819356


@pytest.fixture
def envato_server() -> Iterator[FakeEnvato]:
    with fake_envato() as fake:
        yield fake


@pytest.fixture
def envato_app(
    database_url: str, tmp_path: Path, envato_server: FakeEnvato
) -> Iterator[Flask]:
    application = make_app(
        database_url, tmp_path / "instance", ENVATO_API_URL=envato_server.url
    )
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def setup(
    envato_app: Flask, envato_server: FakeEnvato
) -> tuple[Flask, FlaskClient, VendorFixture]:
    """A vendor with a product taking codes of ITEM, and its token saved."""
    client = envato_app.test_client()
    vendor = new_vendor(envato_app)
    product = create_product(client, vendor, max_domains=1)
    saved = client.put(
        f"{ADMIN}/envato", json={"token": envato_server.token}, headers=vendor.headers
    )
    assert saved.status_code == 200 and saved.get_json()["token_hint"] == "TEST"
    flagged = client.put(
        f"{ADMIN}/envato/products/{product['id']}",
        json={"item_id": ITEM, "regular_seats": 1, "extended_seats": 3},
        headers=vendor.headers,
    )
    assert flagged.status_code == 200, flagged.get_json()
    return envato_app, client, vendor


def _activate(client: FlaskClient, code: str = CODE, domain: str = "buyer.com") -> Any:
    return client.post(
        "/v1/activate",
        json={"license_key": code, "domain": domain, "product": "jannah"},
    )


def test_a_purchase_code_activates_a_domain_and_the_client_trusts_the_token(
    setup: tuple[Flask, FlaskClient, VendorFixture], envato_server: FakeEnvato
) -> None:
    app, client, vendor = setup
    envato_server.answers[CODE] = (200, envato_sale(), {})
    theme = real_client(
        vendor, FlaskTransport(app), domain="buyer.com", store=MemoryStore()
    )
    outcome = theme.activate(CODE.upper())  # typed as the buyer copied it
    assert outcome.ok and outcome.code == "VALID"
    assert theme.status().valid
    assert [code for code, _ in envato_server.requests] == [CODE]
    with app.app_context():
        (license,) = db.session.scalars(select(License)).all()
        assert license.max_domains == 1 and license.customer_name == "themebuyer"
        assert license.updates_until == datetime(2027, 5, 19, 14, 54, 28, tzinfo=UTC)
        (purchase,) = db.session.scalars(select(PurchaseCode)).all()
        assert purchase.license_type == "Regular License"
        assert CODE.encode() not in purchase.code_sealed  # sealed, not in clear
        assert purchase.code_hash != CODE.encode()
    # later uses go through the stored licence: Envato is not asked again
    assert theme.refresh().code == "VALID"
    status, answer = public_call(
        client, "validate", license_key=CODE, domain="buyer.com", product="jannah"
    )
    assert (status, answer["code"]) == (200, "VALID")
    assert len(envato_server.requests) == 1
    # a regular licence holds one domain
    refused = _activate(client, domain="second.com")
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "ACTIVATION_LIMIT_REACHED"


def test_an_extended_licence_gets_the_extended_seats(
    setup: tuple[Flask, FlaskClient, VendorFixture], envato_server: FakeEnvato
) -> None:
    app, client, _ = setup
    envato_server.answers[CODE] = (200, envato_sale(license="Extended License"), {})
    for domain in ("a.com", "b.com", "c.com"):
        assert _activate(client, domain=domain).status_code == 201
    assert _activate(client, domain="d.com").status_code == 409


def test_an_unknown_code_or_another_item_is_not_found(
    setup: tuple[Flask, FlaskClient, VendorFixture], envato_server: FakeEnvato
) -> None:
    app, client, _ = setup
    answer = _activate(client)  # FakeEnvato answers 404 (its documented body)
    assert (answer.status_code, answer.get_json()["code"]) == (404, "NOT_FOUND")
    envato_server.answers[CODE] = (200, envato_sale(item_id=999), {})
    answer = _activate(client)
    assert (answer.status_code, answer.get_json()["code"]) == (404, "NOT_FOUND")
    assert license_count(app) == 0


def test_rate_limited_at_first_use_is_a_429_with_envatos_retry_after(
    setup: tuple[Flask, FlaskClient, VendorFixture], envato_server: FakeEnvato
) -> None:
    app, client, _ = setup
    envato_server.answers[CODE] = (429, {"error": 429}, {"Retry-After": "42"})
    for answer in (
        _activate(client),
        client.post(
            "/v1/validate",
            json={"license_key": CODE, "domain": "buyer.com", "product": "jannah"},
        ),
    ):
        assert answer.status_code == 429
        assert answer.get_json()["code"] == "ENVATO_RATE_LIMITED"
        assert answer.headers["Retry-After"] == "42"
        assert "valid" not in answer.get_json()
    assert license_count(app) == 0
    envato_server.answers[CODE] = (200, envato_sale(), {})
    assert _activate(client).status_code == 201  # the retry succeeds


@pytest.mark.parametrize("down", ["refused", "500", "bad token", "odd answer"])
def test_envato_unreachable_at_first_use_is_a_retryable_503(
    setup: tuple[Flask, FlaskClient, VendorFixture],
    envato_server: FakeEnvato,
    down: str,
) -> None:
    app, client, _ = setup
    if down == "refused":
        envato_server.stop()
    elif down == "500":
        envato_server.answers[CODE] = (500, {"error": 500}, {})
    elif down == "odd answer":  # 200, but not a sale's shape
        envato_server.answers[CODE] = (200, {"item": {"id": 2**60}, "license": 1}, {})
    else:
        envato_server.token = "another-token"  # noqa: S105 - Envato refuses ours: 403
    answer = _activate(client)
    assert answer.status_code == 503
    assert answer.get_json()["code"] == "ENVATO_UNAVAILABLE"
    assert int(answer.headers["Retry-After"]) > 0
    assert license_count(app) == 0


def test_a_product_without_the_flag_never_asks_envato(
    envato_app: Flask, envato_server: FakeEnvato
) -> None:
    client = envato_app.test_client()
    vendor = new_vendor(envato_app)
    create_product(client, vendor)
    client.put(
        f"{ADMIN}/envato", json={"token": envato_server.token}, headers=vendor.headers
    )
    envato_server.answers[CODE] = (200, envato_sale(), {})
    answer = _activate(client)
    assert (answer.status_code, answer.get_json()["code"]) == (404, "NOT_FOUND")
    assert envato_server.requests == []


def test_first_uses_racing_make_one_licence(
    setup: tuple[Flask, FlaskClient, VendorFixture], envato_server: FakeEnvato
) -> None:
    app, _, _ = setup
    envato_server.answers[CODE] = (200, envato_sale(license="Extended License"), {})
    bodies = [
        {"license_key": CODE, "domain": f"site{i}.com", "product": "jannah"}
        for i in range(6)
    ]
    results = race(app, bodies)
    assert Counter(results) == Counter(
        {(201, "VALID"): 3, (409, "ACTIVATION_LIMIT_REACHED"): 3}
    )
    assert license_count(app) == 1


def _recheck(app: Flask, at: datetime) -> envato.RecheckReport:
    with app.app_context():
        return envato.recheck_due(
            keyring=runtime_of(app).keyring,
            api=EnvatoApi.from_config(app.config),
            now=at,
        )


def test_the_daily_check_revokes_a_refunded_sale(
    setup: tuple[Flask, FlaskClient, VendorFixture], envato_server: FakeEnvato
) -> None:
    app, client, _ = setup
    envato_server.answers[CODE] = (200, envato_sale(), {})
    assert _activate(client).status_code == 201
    now = datetime.now(UTC)
    # not due within a day of the first check
    assert _recheck(app, now + timedelta(hours=23)).checked == 0
    # a day later, Envato still knows the sale (support extended): kept, updated
    extended = envato_sale(supported_until="2028-01-01T00:00:00+00:00")
    envato_server.answers[CODE] = (200, extended, {})
    report = _recheck(app, now + timedelta(days=1, minutes=1))
    assert (report.checked, report.revoked) == (1, 0)
    with app.app_context():
        (license,) = db.session.scalars(select(License)).all()
        assert license.updates_until == datetime(2028, 1, 1, tzinfo=UTC)
    # Envato rate-limits: nothing changes, and the worker is told how long to wait
    envato_server.answers[CODE] = (429, {"error": 429}, {"Retry-After": "120"})
    report = _recheck(app, now + timedelta(days=2, minutes=2))
    assert (report.checked, report.retry_after) == (0, 120)
    # the sale was refunded: Envato answers 404 for its code; the licence is revoked
    del envato_server.answers[CODE]
    report = _recheck(app, now + timedelta(days=2, minutes=3))
    assert (report.checked, report.revoked) == (1, 1)
    status, answer = public_call(
        client, "validate", license_key=CODE, domain="buyer.com", product="jannah"
    )
    assert (status, answer["code"], answer["valid"]) == (200, "REVOKED", False)
    # revoked ones are not asked again
    assert _recheck(app, now + timedelta(days=5)).checked == 0


def test_a_master_key_rotation_keeps_codes_tokens_and_store_secrets(
    setup: tuple[Flask, FlaskClient, VendorFixture],
    envato_server: FakeEnvato,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, client, vendor = setup
    envato_server.answers[CODE] = (200, envato_sale(), {})
    assert _activate(client).status_code == 201
    connection = connect(client, vendor, "generic")
    old_file = tmp_path / "old.key"
    old_file.write_text(TEST_MASTER_KEY + "\n")
    with app.app_context():
        db.engine.dispose()
    new = new_master_key()
    done = rotate(monkeypatch, database_url, new, old_file)
    assert done.exit_code == 0, done.output
    report = json.loads(
        done.output[done.output.index("{") : done.output.rindex("}") + 1]
    )
    assert report["counts"]["purchase_codes"] == 1
    assert report["counts"]["envato_tokens"] == 1
    assert report["counts"]["store_connection_secrets"] == 1
    rotated = make_app(
        database_url,
        tmp_path / "rotated",
        MASTER_KEY=new,
        ENVATO_API_URL=envato_server.url,
    )
    try:
        http = rotated.test_client()
        status, answer = public_call(
            http, "validate", license_key=CODE, domain="buyer.com", product="jannah"
        )
        assert (status, answer["code"]) == (200, "VALID")
        status, answer = send_event(http, connection, generic_order())
        assert (status, answer["outcome"]) == (200, "unmapped")  # verified, no mapping
        later = datetime.now(UTC) + timedelta(days=2)
        assert _recheck(rotated, later).checked == 1  # code and token open
    finally:
        with rotated.app_context():
            db.engine.dispose()
