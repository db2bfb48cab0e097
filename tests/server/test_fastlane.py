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
from tests.server.updates_support import publish

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


def _counted(app: Flask) -> tuple[FastLane, Counting]:
    """The app's lane, with a counter on what it hands to Flask."""
    lane = _lane(app)
    counting = Counting(lane.inner)
    lane.inner = counting
    return lane, counting


def _handed_on(app: Flask, data: bytes | str, options: dict[str, Any]) -> Answer:
    """Send through the lane: Flask answers it, as Flask alone does, with a 4xx."""
    lane, counting = _counted(app)
    through = _send(lane, data, **dict(options))
    assert counting.calls == 1, "the lane answered a request it must hand on"
    flask_only = _send(counting.inner, data, **dict(options))
    assert through == flask_only
    status = int(through[0].split()[0])
    assert 400 <= status < 500, through
    return through


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
    product = create_product(client, vendor, max_domains=2, expiry_policy="restrict")
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
    return {
        "live": live,
        "expired": expired,
        "revoked": revoked,
        "vendor": vendor,
        "product": product,
    }


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
    lane, counting = _counted(app)
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
    through = _handed_on(app, data, options)
    assert json.loads(through[2])["request_id"] == RID


def test_a_purchase_code_goes_to_flask(app: Flask, seeded: dict[str, Any]) -> None:
    lane, counting = _counted(app)
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


# the update check (POST /v1/updates/check) --------------------------------------


@pytest.fixture
def released(client: FlaskClient, seeded: dict[str, Any]) -> dict[str, Any]:
    """``seeded`` with release 1.1.0 of the product published."""
    publish(client, seeded["vendor"], seeded["product"]["id"], "1.1.0")
    return seeded


def _check_body(**fields: Any) -> bytes:
    return json.dumps({"product": "jannah", "version": "1.0.0", **fields}).encode()


def _common_checks(seeded: dict[str, Any]) -> dict[str, bytes]:
    """Update checks the lane serves itself (offers, refusals, errors)."""
    key = seeded["live"]["key"]
    here = {"license_key": key, "domain": "shop.example"}
    return {
        "entitled": _check_body(**here),
        "every field": _check_body(
            **here,
            channel="stable",
            wp_version="6.6.2",
            php_version="8.2.12",
            locale="de_DE",
            nonce="n-1",
        ),
        "nulls": _check_body(**here, wp_version=None, nonce=None, locale=None),
        "up to date": _check_body(**here, version="1.1.0"),
        "beta channel": _check_body(**here, channel="beta"),
        "not activated here": _check_body(license_key=key, domain="other.example"),
        "unknown key": _check_body(
            license_key=str(generate_key("JAN")), domain="shop.example"
        ),
        "expired": _check_body(
            license_key=seeded["expired"]["key"], domain="shop.example"
        ),
        "revoked": _check_body(
            license_key=seeded["revoked"]["key"], domain="shop.example"
        ),
        "unknown product": _check_body(**here, product="acme-themes/nope"),
        "malformed key": _check_body(license_key="not a key", domain="shop.example"),
        "unusable domain": _check_body(license_key=key, domain="exa mple..com"),
    }


def test_the_lane_serves_update_checks_as_flask_does(
    app: Flask, released: dict[str, Any]
) -> None:
    lane, counting = _counted(app)
    path = "/v1/updates/check"
    answers = {}
    for name, data in _common_checks(released).items():
        for options in (
            {},
            {"base_url": "https://licenses.example:8443/prefix/"},
        ):
            fast = _send(lane, data, path=path, **options)
            assert counting.calls == 0, f"{name}: the lane handed it to Flask"
            flask_only = _send(counting.inner, data, path=path, **options)
            assert fast == flask_only, (name, options)
            answers[name, bool(options)] = json.loads(fast[2])
    entitled, prefixed = answers["entitled", False], answers["entitled", True]
    assert entitled["code"] == "VALID" and entitled["new_version"] == "1.1.0"
    assert entitled["package"].startswith("http://localhost/v1/downloads/")
    assert prefixed["package"].startswith(
        "https://licenses.example:8443/prefix/v1/downloads/"
    )
    assert answers["up to date", False]["update_available"] is False
    assert answers["not activated here", False]["package"] is None
    assert answers["unknown key", False]["code"] == "NOT_FOUND"
    assert answers["revoked", False]["code"] == "REVOKED"
    assert answers["unknown product", False]["code"] == "PRODUCT_NOT_FOUND"
    assert answers["malformed key", False]["code"] == "INVALID_KEY_FORMAT"
    assert answers["unusable domain", False]["code"] == "INVALID_DOMAIN"


def test_the_lane_answers_304_to_a_matching_etag_as_flask_does(
    app: Flask, released: dict[str, Any]
) -> None:
    lane, counting = _counted(app)
    path = "/v1/updates/check"
    data = _check_body(license_key=released["live"]["key"], domain="shop.example")
    etag = dict(_send(lane, data, path=path)[1])["ETag"]
    for sent in (etag, f'"other", W/{etag}', '"other"'):
        headers = {"If-None-Match": sent}
        fast = _send(lane, data, path=path, headers=headers)
        flask_only = _send(counting.inner, data, path=path, headers=headers)
        assert fast == flask_only, sent
        expected = "200 OK" if sent == '"other"' else "304 NOT MODIFIED"
        assert fast[0] == expected and (fast[2] == b"") == (expected != "200 OK")
    assert counting.calls == 0  # the lane served every one itself


UPDATE_FALL_THROUGH: dict[str, tuple[bytes, dict[str, Any]]] = {
    "unknown field": (_check_body(license_key="K", domain="d.example", x="1"), {}),
    "no version": (
        b'{"license_key":"K","domain":"d.example","product":"jannah"}',
        {},
    ),
    "null channel": (_check_body(license_key="K", domain="d", channel=None), {}),
    "bad channel": (_check_body(license_key="K", domain="d", channel="x y"), {}),
    "long version": (_check_body(license_key="K", domain="d", version="1" * 65), {}),
    "form body": (
        b"license_key=K&domain=d.example&product=jannah&version=1.0.0",
        {"content_type": "application/x-www-form-urlencoded"},
    ),
}


@pytest.mark.parametrize("name", sorted(UPDATE_FALL_THROUGH))
def test_every_other_update_check_goes_to_flask(
    app: Flask, seeded: dict[str, Any], name: str
) -> None:
    data, options = UPDATE_FALL_THROUGH[name]
    _handed_on(app, data, {"path": "/v1/updates/check", **options})


def test_an_update_check_without_a_plain_host_goes_to_flask(
    app: Flask, released: dict[str, Any]
) -> None:
    """The package URL needs the host: a missing, odd or checked one is Flask's."""
    lane, counting = _counted(app)
    data = _check_body(license_key=released["live"]["key"], domain="shop.example")

    def through(host: str | None) -> Answer:
        environ = EnvironBuilder(
            path="/v1/updates/check",
            method="POST",
            data=data,
            content_type="application/json",
            headers={"X-Request-ID": RID},
        ).get_environ()
        if host is None:
            del environ["HTTP_HOST"]
        else:
            environ["HTTP_HOST"] = host
        app_iter, status, headers = run_wsgi_app(lane, environ, buffered=True)
        return status, sorted(headers.items()), b"".join(app_iter)

    assert through(None)[0] == "200 OK"  # Flask uses SERVER_NAME:SERVER_PORT
    assert counting.calls == 1
    through("bad host\x01")
    assert counting.calls == 2
    app.config["TRUSTED_HOSTS"] = ["licenses.example"]
    assert through("licenses.example")[0] == "200 OK"
    assert counting.calls == 3
    app.config["TRUSTED_HOSTS"] = None
    answer = through("licenses.example")
    assert counting.calls == 3  # served by the lane again
    assert b"http://licenses.example/v1/downloads/" in answer[2]


def test_the_lane_counts_update_checks_against_their_limits(
    database_url: str, tmp_path: Path
) -> None:
    app = make_app(
        database_url,
        tmp_path / "instance",
        RATELIMIT_UPDATE_CHECK="2/minute",
        RATELIMIT_FAILED_LOOKUPS="1/minute",
    )
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    lane, counting = _counted(app)
    body = {"license_key": key, "domain": "shop.example", "product": "jannah"}
    body["version"] = "1.0.0"
    before = _update_requests("429")
    codes = [client.post("/v1/updates/check", json=body).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    # an unknown key is a failed lookup: one is allowed, then the address is held
    other = client.post(
        "/v1/updates/check",
        json={**body, "license_key": str(generate_key("JAN"))},
        environ_overrides={"REMOTE_ADDR": "192.0.2.9"},
    )
    assert other.get_json()["code"] == "NOT_FOUND"
    held = client.post(
        "/v1/updates/check",
        json={**body, "license_key": str(generate_key("JAN"))},
        environ_overrides={"REMOTE_ADDR": "192.0.2.9"},
    )
    assert held.status_code == 429
    assert held.get_json()["detail"]["counted_by"] == "failed_lookups"
    assert counting.calls == 0
    assert _update_requests("429") - before == 2


def _update_requests(status: str) -> float:
    labels = {"method": "POST", "endpoint": "updates.update_check", "status": status}
    return REGISTRY.get_sample_value("license_server_requests_total", labels) or 0.0


# activation (POST /v1/activate) ---------------------------------------------------


class _Ids:
    """Activation ids in a fixed order, so two databases' answers can be compared."""

    def __init__(self) -> None:
        self.next = 0

    def uuid4(self) -> uuid.UUID:
        self.next += 1
        return uuid.UUID(int=self.next)


def _activations(seeded: dict[str, Any]) -> dict[str, bytes]:
    """Activations, in order: new seats, reuse, refusals and errors."""
    key = seeded["live"]["key"]
    return {
        "new seat": _body(license_key=key, domain="one-shop.com", product="jannah"),
        "the same again": _body(
            license_key=key, domain="ONE-shop.com", product="jannah"
        ),
        "every field": _body(
            license_key=key,
            domain="https://two-shop.com/wp",
            product="acme-themes/jannah",
            nonce="n-1",
            version="1.2.3",
            environment="production",
        ),
        "no seat left": _body(
            license_key=key, domain="three-shop.com", product="jannah"
        ),
        "a development site": _body(
            license_key=key, domain="localhost", product="jannah"
        ),
        "unknown key": _body(
            license_key=str(generate_key("JAN")), domain="x.example", product="jannah"
        ),
        "expired": _body(
            license_key=seeded["expired"]["key"], domain="x.example", product="jannah"
        ),
        "revoked": _body(
            license_key=seeded["revoked"]["key"], domain="x.example", product="jannah"
        ),
        "unknown product": _body(license_key=key, domain="x.example", product="nope"),
        "malformed key": _body(
            license_key="not a key", domain="x.example", product="jannah"
        ),
        "unusable domain": _body(
            license_key=key, domain="exa mple..com", product="jannah"
        ),
    }


def test_the_lane_activates_as_flask_does(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same activations on twin databases: through the lane, and Flask alone.

    Activations write, so each path gets its own copy of one seeded database, the
    same clock and the same activation ids; every answer must be the same bytes.
    """
    import shutil
    import sqlite3

    from license_server.extensions import db
    from license_server.services import activations

    first = tmp_path / "lane.sqlite3"
    shutil.copy(sqlite_template, first)
    app = make_app(f"sqlite:///{first}", tmp_path / "lane")
    seeded_app = app.test_client()
    vendor = new_vendor(app)
    create_product(seeded_app, vendor, max_domains=2, expiry_policy="restrict")
    live = create_license(seeded_app, vendor)
    expired = create_license(seeded_app, vendor, expires_at="2026-01-01T00:00:00+00:00")
    revoked = create_license(seeded_app, vendor)
    assert (
        seeded_app.post(
            f"/v1/admin/licenses/{revoked['id']}/revoke", headers=vendor.headers
        ).status_code
        == 200
    )
    seeded = {"live": live, "expired": expired, "revoked": revoked}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    second = tmp_path / "flask.sqlite3"
    with sqlite3.connect(first) as source, sqlite3.connect(second) as copy:
        source.backup(copy)
    source.close()
    copy.close()
    twin = make_app(f"sqlite:///{second}", tmp_path / "flask")
    for each in (app, twin):
        runtime_of(each).clock = lambda: FROZEN
    cases = _activations(seeded)
    answers = {}
    for label, application, wsgi in (
        ("lane", app, _lane(app)),
        ("flask", twin, _lane(twin).inner),
    ):
        monkeypatch.setattr(activations, "uuid", _Ids())
        if label == "lane":
            _, counting = _counted(app)
        answers[label] = {
            name: _send(wsgi, data, path="/v1/activate") for name, data in cases.items()
        }
        with application.app_context():
            db.engine.dispose()
    assert counting.calls == 0, "the lane handed an activation to Flask"
    for name in cases:
        assert answers["lane"][name] == answers["flask"][name], name
    lane = {name: answer[0] for name, answer in answers["lane"].items()}
    assert lane["new seat"] == "201 CREATED"
    assert lane["the same again"] == "200 OK"
    assert lane["every field"] == "201 CREATED"
    assert lane["no seat left"] == "409 CONFLICT"
    assert lane["a development site"] == "201 CREATED"
    assert lane["unknown key"] == "404 NOT FOUND"
    assert lane["expired"] == "403 FORBIDDEN"
    assert lane["unknown product"] == "404 NOT FOUND"
    assert lane["malformed key"] == "400 BAD REQUEST"
    created = json.loads(answers["lane"]["new seat"][2])
    assert created["code"] == "VALID" and created["domain"] == "one-shop.com"


def test_an_activation_with_a_purchase_code_goes_to_flask(
    app: Flask, seeded: dict[str, Any]
) -> None:
    lane, counting = _counted(app)
    code = "3f6b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    body = _body(license_key=code, domain="d.example", product="jannah")
    _send(lane, body, path="/v1/activate")
    assert counting.calls == 1
    _send(
        lane,
        _body(license_key="K", domain="d", product="p", x="1"),
        path="/v1/activate",
    )
    assert counting.calls == 2  # an unknown field: Flask's 422
