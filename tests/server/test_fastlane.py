"""The validate fast lane answers exactly as Flask alone does (api/fastlane.py).

Each request is sent twice on one app with the clock frozen: through the fast lane
(the app's WSGI entry) and straight to Flask (the lane's ``inner``). Ed25519 is
deterministic, so the signed answers, like every header and every error body, must
be the same bytes. A counter on ``inner`` proves which requests the lane served
itself, so the comparison cannot pass by the lane handing everything on.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError
from werkzeug.test import EnvironBuilder, run_wsgi_app

from license_server.api.fastlane import FastLane, read_args
from license_server.keys import generate_key
from license_server.runtime import of as runtime_of
from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    make_app,
    new_vendor,
)

FROZEN = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RID = "fastlane-test-0001"
Answer = tuple[str, list[tuple[str, str]], bytes]


class Counting:
    """Wrap a WSGI app and count the requests it is given."""

    def __init__(self, inner: Callable[..., Iterable[bytes]]) -> None:
        self.inner = inner
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start: Any) -> Iterable[bytes]:
        self.calls += 1
        return self.inner(environ, start)


def _lane(app: Flask) -> FastLane:
    lane = app.wsgi_app
    assert isinstance(lane, FastLane)
    return lane


def _send(wsgi: Any, data: bytes | str, **options: Any) -> Answer:
    options.setdefault("content_type", "application/json")
    headers = {"X-Request-ID": RID, **options.pop("headers", {})}
    builder = EnvironBuilder(
        path=options.pop("path", "/v1/validate"),
        method=options.pop("method", "POST"),
        data=data,
        headers=headers,
        **options,
    )
    app_iter, status, response_headers = run_wsgi_app(
        wsgi, builder.get_environ(), buffered=True
    )
    return status, sorted(response_headers.items()), b"".join(app_iter)


@pytest.fixture
def seeded(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """A vendor with a product, a live license on a domain, and lapsed ones."""
    vendor: VendorFixture = new_vendor(app)
    create_product(client, vendor, max_domains=2, expiry_policy="restrict")
    live = create_license(client, vendor)
    expired = create_license(client, vendor, expires_at="2026-01-01T00:00:00+00:00")
    revoked = create_license(client, vendor)
    response = client.post(
        f"/v1/admin/licenses/{revoked['id']}/revoke", headers=vendor.headers
    )
    assert response.status_code == 200, response.get_json()
    for key in (live["key"], expired["key"]):
        answer = client.post(
            "/v1/activate",
            json={"license_key": key, "domain": "shop.example", "product": "jannah"},
        )
        assert answer.status_code in (200, 201, 403), answer.get_json()
    runtime_of(app).clock = lambda: FROZEN
    return {"live": live, "expired": expired, "revoked": revoked, "vendor": vendor}


def _body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def _common(seeded: dict[str, Any]) -> dict[str, bytes]:
    """Requests the lane serves itself (positive, negative and error answers)."""
    live, expired, revoked = seeded["live"], seeded["expired"], seeded["revoked"]
    key = live["key"]
    return {
        "valid": _body(license_key=key, domain="shop.example", product="jannah"),
        "valid, nonce and version": _body(
            license_key=key,
            domain="https://WWW.Shop.Example/x",
            product="acme-themes/jannah",
            nonce="n-1",
            version="1.2.3",
        ),
        "null nonce": _body(
            license_key=key, domain="shop.example", product="jannah", nonce=None
        ),
        "not activated here": _body(
            license_key=key, domain="other.example", product="jannah"
        ),
        "unknown key": _body(
            license_key=str(generate_key("JAN")),
            domain="shop.example",
            product="jannah",
        ),
        "expired": _body(
            license_key=expired["key"], domain="shop.example", product="jannah"
        ),
        "revoked": _body(
            license_key=revoked["key"], domain="shop.example", product="jannah"
        ),
        "unknown product": _body(
            license_key=key, domain="shop.example", product="acme-themes/nope"
        ),
        "malformed key": _body(
            license_key="not a key", domain="shop.example", product="jannah"
        ),
        "unusable domain": _body(
            license_key=key, domain="exa mple..com", product="jannah"
        ),
        "unicode domain": _body(
            license_key=key, domain="bücher.example", product="jannah"
        ),
        "charset parameter": _body(
            license_key=key, domain="shop.example", product="jannah"
        ),
    }


FALL_THROUGH: dict[str, tuple[bytes | str, dict[str, Any]]] = {
    "unknown field": (
        b'{"license_key":"K","domain":"d.example","product":"jannah","x":1}',
        {},
    ),
    "field twice": (
        b'{"license_key":"K","license_key":"L","domain":"d.example","product":"p"}',
        {},
    ),
    "missing field": (b'{"license_key":"K","domain":"d.example"}', {}),
    "number": (b'{"license_key":1,"domain":"d.example","product":"jannah"}', {}),
    "null key": (b'{"license_key":null,"domain":"d.example","product":"jannah"}', {}),
    "too long": (_body(license_key="K" * 201, domain="d.example", product="p"), {}),
    "bad product": (_body(license_key="K", domain="d.example", product="a/b/c"), {}),
    "empty nonce": (
        _body(license_key="K", domain="d.example", product="p", nonce=""),
        {},
    ),
    "nul in domain": (
        b'{"license_key":"K","domain":"d\\u0000.example","product":"p"}',
        {},
    ),
    "lone surrogate": (
        b'{"license_key":"K\\ud800","domain":"d.example","product":"p"}',
        {},
    ),
    "pairs as an array": (
        b'[["license_key","K"],["domain","d.example"],["product","p"]]',
        {},
    ),
    "not json": (b"{nope", {}),
    "empty": (b"", {}),
    "latin-1": (
        '{"license_key":"K","domain":"d\xe9","product":"p"}'.encode("latin-1"),
        {},
    ),
    "utf-16": (
        '{"license_key":"K","domain":"d.example","product":"p"}'.encode("utf-16"),
        {},
    ),
    "huge number": (b'{"license_key":' + b"9" * 5000 + b"}", {}),
    "form body": (
        "license_key=K&domain=d.example&product=jannah",
        {"content_type": "application/x-www-form-urlencoded"},
    ),
    "text/plain": (b'{"license_key":"K"}', {"content_type": "text/plain"}),
    "too large": (b'{"license_key":"' + b"K" * 70_000 + b'"}', {}),
    "nul in the query": (
        _body(license_key="K", domain="d.example", product="p"),
        {"query_string": "a=%00"},
    ),
    "headers too large": (
        _body(license_key="K", domain="d.example", product="p"),
        {"headers": {"X-Big": "x" * 20_000}},
    ),
    "GET": (b"", {"method": "GET", "content_type": None}),
    "trailing slash": (
        _body(license_key="K", domain="d.example", product="p"),
        {"path": "/v1/validate/"},
    ),
}


def test_the_lane_serves_the_common_requests_as_flask_does(
    app: Flask, seeded: dict[str, Any]
) -> None:
    lane = _lane(app)
    counting = Counting(lane.inner)
    lane.inner = counting
    for name, data in _common(seeded).items():
        content_type = "application/json; charset=utf-8"
        if name != "charset parameter":
            content_type = "application/json"
        fast = _send(lane, data, content_type=content_type)
        assert counting.calls == 0, f"{name}: the lane handed it to Flask"
        flask_only = _send(counting.inner, data, content_type=content_type)
        assert fast == flask_only, name
    codes = {
        name: json.loads(_send(lane, data)[2])["code"]
        for name, data in _common(seeded).items()
    }
    assert codes["valid"] == "VALID"
    assert codes["not activated here"] == "DOMAIN_NOT_ACTIVATED"
    assert codes["unknown key"] == "NOT_FOUND"
    assert codes["expired"] == "EXPIRED"
    assert codes["revoked"] == "REVOKED"
    assert codes["unknown product"] == "PRODUCT_NOT_FOUND"
    assert codes["malformed key"] == "INVALID_KEY_FORMAT"
    assert codes["unusable domain"] == "INVALID_DOMAIN"


@pytest.mark.parametrize("name", sorted(FALL_THROUGH))
def test_every_other_request_goes_to_flask_with_its_body(
    app: Flask, seeded: dict[str, Any], name: str
) -> None:
    data, options = FALL_THROUGH[name]
    lane = _lane(app)
    counting = Counting(lane.inner)
    lane.inner = counting
    through = _send(lane, data, **dict(options))
    assert counting.calls == 1, "the lane answered a request it must hand on"
    flask_only = _send(counting.inner, data, **dict(options))
    assert through == flask_only
    status = int(through[0].split()[0])
    assert 400 <= status < 500, through
    assert json.loads(through[2])["request_id"] == RID


def test_a_purchase_code_goes_to_flask(app: Flask, seeded: dict[str, Any]) -> None:
    lane = _lane(app)
    counting = Counting(lane.inner)
    lane.inner = counting
    code = "3f6b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    _send(lane, _body(license_key=code, domain="d.example", product="jannah"))
    assert counting.calls == 1


@pytest.mark.parametrize(
    "failure", [OperationalError("SELECT", {}, Exception("gone")), RuntimeError("bug")]
)
def test_failures_answer_as_the_error_handlers_do(
    app: Flask,
    seeded: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(runtime_of(app).reader, "state", broken)
    lane = _lane(app)
    data = _body(
        license_key=seeded["live"]["key"], domain="d.example", product="jannah"
    )
    with caplog.at_level(logging.WARNING):
        fast = _send(lane, data)
        flask_only = _send(lane.inner, data)
    assert fast == flask_only
    body = json.loads(fast[2])
    if isinstance(failure, OperationalError):
        assert (fast[0], body["code"]) == (
            "503 SERVICE UNAVAILABLE",
            "SERVICE_UNAVAILABLE",
        )
        assert ("Retry-After", "5") in fast[1]
    else:
        assert (fast[0], body["code"]) == (
            "500 INTERNAL SERVER ERROR",
            "INTERNAL_ERROR",
        )
        logged = [r for r in caplog.records if "unhandled error" in r.getMessage()]
        assert len(logged) == 2 and all(r.exc_info for r in logged)


def test_the_lane_counts_limits_and_metrics(database_url: str, tmp_path: Path) -> None:
    app = make_app(
        database_url,
        tmp_path / "instance",
        RATELIMIT_VALIDATE="2/minute",
        TRUSTED_PROXIES=1,
    )
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    lane = app.wsgi_app.app  # type: ignore[attr-defined] # under ProxyFix
    assert isinstance(lane, FastLane)
    counting = Counting(lane.inner)
    lane.inner = counting
    body = {"license_key": key, "domain": "shop.example", "product": "jannah"}
    before = {status: _requests(status) for status in ("200", "429")}
    results_before = _results("DOMAIN_NOT_ACTIVATED")

    def validate(address: str) -> Any:
        return client.post(
            "/v1/validate", json=body, headers={"X-Forwarded-For": address}
        )

    assert [validate("192.0.2.1").status_code for _ in range(3)] == [200, 200, 429]
    refused = validate("192.0.2.1")
    assert refused.headers["Retry-After"].isdigit()
    assert refused.get_json()["code"] == "RATE_LIMITED"
    assert refused.get_json()["detail"]["counted_by"] == "client_address"
    # another address behind the same proxy has its own counter
    assert validate("192.0.2.2").status_code == 200
    assert counting.calls == 0
    after = {status: _requests(status) for status in ("200", "429")}
    assert (after["200"] - before["200"], after["429"] - before["429"]) == (3, 2)
    assert _results("DOMAIN_NOT_ACTIVATED") - results_before == 3  # 429s are no answer


def _requests(status: str) -> float:
    labels = {"method": "POST", "endpoint": "public.validate", "status": status}
    return REGISTRY.get_sample_value("license_server_requests_total", labels) or 0.0


def _results(code: str) -> float:
    labels = {"operation": "validate", "code": code}
    return REGISTRY.get_sample_value("license_server_results_total", labels) or 0.0


def test_read_args_takes_exactly_what_the_schema_takes() -> None:
    good = b'{"license_key":"K","domain":"d","product":"p"}'
    assert read_args(good) == {
        "license_key": "K",
        "domain": "d",
        "product": "p",
        "nonce": None,
        "version": None,
    }
    assert read_args(b'{"license_key":"K","domain":"d"}') is None
    assert (
        read_args(b'{"license_key":"K","domain":"d","product":"p","nonce":""}') is None
    )
    assert read_args(b'{"license_key":"K","domain":{"a":"b"},"product":"p"}') is None


@pytest.mark.postgresql
def test_a_database_gone_under_the_hot_path_is_503(tmp_path: Path) -> None:
    """Its pooled connection dies and a new one is refused: 503, not a 500."""
    import psycopg

    from license_server import migrate
    from tests.conftest import postgres_url_or_skip

    base = postgres_url_or_skip()
    name = f"ls_test_gone_{uuid.uuid4().hex[:8]}"
    admin_url = base.rpartition("/")[0].replace("+psycopg", "") + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{base.rpartition('/')[0]}/{name}"
        migrate.upgrade(url)
        app = make_app(url, tmp_path / "instance")
        client = app.test_client()
        vendor = new_vendor(app)
        create_product(client, vendor)
        key = create_license(client, vendor)["key"]
        body = {"license_key": key, "domain": "shop.example", "product": "jannah"}
        assert client.post("/v1/validate", json=body).status_code == 200
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        answer = client.post("/v1/validate", json=body)
        assert answer.status_code == 503, answer.get_json()
        assert answer.get_json()["code"] == "SERVICE_UNAVAILABLE"
        assert answer.headers["Retry-After"] == "5"
        runtime_of(app).engine.dispose()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
