"""No secret in logs, error answers or the database, through a whole run.

One full flow over real HTTP (Werkzeug's server, so its request log runs too), with
every logger at DEBUG (SQLAlchemy's statements, parameters and rows included):
a vendor, a product, a license, activate, validate, deactivate, admin reads, bad
requests, a rate-limited one and an unexpected 500. Then no form of the license
key, the admin API key, the master key or the vendor's private key may appear in
the log, in any error answer, in any public answer, or anywhere in the database.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from license_server.extensions import db
from license_server.keyring import decode_master_key
from license_server.models import SigningKey
from license_server.runtime import of as runtime_of
from license_server.services import validation
from tests.conftest import TEST_MASTER_KEY, make_app, new_vendor
from tests.server.hardening_support import snapshot
from tests.server.webhook_support import WEBHOOK_CONFIG

LOGGERS = ["", "sqlalchemy.engine", "sqlalchemy.pool", "werkzeug", "flask-limiter"]


class Collect(logging.Handler):
    """Keep every formatted record, tracebacks included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("urllib3"):
            return  # the test's own HTTP client, not the server
        self.lines.append(self.format(record))


@pytest.fixture
def everything_logged() -> Iterator[Collect]:
    handler = Collect()
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    logging.getLogger().addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    logging.getLogger().removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    app = make_app(
        database_url,
        tmp_path / "instance",
        RATELIMIT_VALIDATE="10/minute",
        **WEBHOOK_CONFIG,  # a loopback endpoint may be registered (never called)
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
    with app.app_context():
        db.engine.dispose()


def _forms_of(key: str) -> set[str]:
    body = key.replace("-", "")[-25:]
    grouped = "-".join(body[i : i + 5] for i in range(0, 25, 5))
    forms = {key, body, grouped}
    return forms | {form.lower() for form in forms}


def _forms_of_bytes(raw: bytes) -> set[str]:
    return {
        raw.hex(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def test_no_secret_leaves_the_server(
    served: tuple[Flask, str],
    everything_logged: Collect,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, base = served
    vendor = new_vendor(app)
    admin = {"Authorization": f"Bearer {vendor.new.api_key}"}
    answers: list[requests.Response] = []

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, base + path, timeout=10, **kwargs)
        answers.append(response)
        return response

    product = {"slug": "jannah", "name": "Jannah", "key_prefix": "JAN"}
    assert call("POST", "/v1/admin/products", json=product, headers=admin).ok

    def once(name: str) -> dict[str, str]:
        """Every secret-creating call sends an Idempotency-Key (its replay is kept)."""
        return {**admin, "Idempotency-Key": name}

    license = call(
        "POST", "/v1/admin/licenses", json={"product": "jannah"}, headers=once("l1")
    ).json()
    key = license["key"]
    # the replay answers the key again, from the stored (sealed) answer
    replayed = call(
        "POST", "/v1/admin/licenses", json={"product": "jannah"}, headers=once("l1")
    )
    assert replayed.json()["key"] == key
    batch = call(
        "POST",
        "/v1/admin/licenses/batch",
        json={"product": "jannah", "count": 2},
        headers=once("b1"),
    ).json()["data"]
    rekeyed = call(
        "POST",
        f"/v1/admin/licenses/{batch[0]['id']}/regenerate-key",
        headers=once("r1"),
    ).json()
    api_key = call(
        "POST",
        "/v1/admin/api-keys",
        json={"name": "ci", "scope": "read"},
        headers=once("k1"),
    ).json()["key"]
    issued = [batch[1]["key"], rekeyed["key"], batch[0]["key"]]
    # a v1 webhook endpoint's HMAC secret is shown once, on create and rotate
    hook = {"url": "http://127.0.0.1:9/hook", "event_types": ["*"], "scheme": "v1"}
    endpoint = call(
        "POST", "/v1/admin/webhooks/endpoints", json=hook, headers=once("w1")
    ).json()
    again = call(
        "POST", "/v1/admin/webhooks/endpoints", json=hook, headers=once("w1")
    ).json()
    assert again["secret"] == endpoint["secret"]  # replayed from the sealed answer
    rotated = call(
        "POST",
        f"/v1/admin/webhooks/endpoints/{endpoint['id']}/rotate-secret",
        headers=once("w2"),
    ).json()
    hook_secrets = [endpoint["secret"], rotated["secret"]]
    assert all(hook_secrets) and len(set(hook_secrets)) == 2
    # a lookup by key in the URL (deprecated) and in the body (the way to do it)
    call("GET", f"/v1/admin/licenses?key={key}", headers=admin)
    call("GET", f"/v1/admin/licenses?product=jannah&key={issued[0]}", headers=admin)
    found = call("POST", "/v1/admin/licenses/search", json={"key": key}, headers=admin)
    assert [row["id"] for row in found.json()["data"]] == [license["id"]]
    read = {"Authorization": f"Bearer {api_key}"}
    assert (
        "key"
        not in call("GET", f"/v1/admin/licenses/{license['id']}", headers=read).json()
    )
    site = {"license_key": key, "domain": "shop.example.com", "product": "jannah"}
    assert call("POST", "/v1/activate", json=site).status_code == 201
    assert call("POST", "/v1/validate", json={**site, "nonce": "n1"}).ok
    call("POST", "/v1/activate", json={**site, "domain": "other.example.org"})  # 409
    call("GET", f"/v1/admin/licenses/{license['id']}/activations", headers=admin)
    call("GET", "/v1/admin/licenses", headers=admin)
    # bad requests that carry the key
    typo = key[:-1] + ("0" if key[-1] != "0" else "1")
    call("POST", "/v1/validate", json={**site, "license_key": typo})
    call("POST", "/v1/validate", json={**site, "product": "nope"})
    call("POST", "/v1/validate", json={**site, "surprise": key})
    call(
        "POST",
        "/v1/validate",
        data='{"license_key": "' + key + '",',
        headers={"Content-Type": "application/json"},
    )
    call(
        "POST",
        "/v1/validate",
        data=f"license_key={key}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    call("POST", "/v1/admin/licenses", json={"product": key}, headers=admin)
    call("GET", "/v1/admin/licenses", headers={"Authorization": "Bearer " + key})
    call(
        "GET",
        "/v1/admin/licenses",
        headers={"Authorization": admin["Authorization"] + "x"},
    )

    # an unexpected failure in the middle of a validation
    def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError("signing failed")

    monkeypatch.setattr(validation, "signed_answer", explode)
    assert call("POST", "/v1/validate", json=site).status_code == 500
    monkeypatch.undo()
    while call("POST", "/v1/validate", json=site).status_code != 429:
        assert len(answers) < 40
    assert call(
        "POST",
        "/v1/deactivate",
        json={"license_key": key, "domain": "shop.example.com"},
    ).ok

    secrets = _forms_of(key) | {vendor.new.api_key, vendor.new.api_key[4:]}
    secrets |= {api_key, api_key[4:]} | set(hook_secrets)
    for other in issued:
        secrets |= _forms_of(other)
    secrets |= {TEST_MASTER_KEY} | _forms_of_bytes(decode_master_key(TEST_MASTER_KEY))
    secrets |= _private_key_forms(app)
    logs = "\n".join(everything_logged.lines)
    assert "SELECT" in logs and "POST /v1/validate" in logs  # really captured
    assert "unhandled error" in logs
    assert "/v1/admin/licenses?key=[redacted]" in logs  # the access log, redacted
    errors = [r.text for r in answers if not r.ok]
    public = [r.text for r in answers if "/v1/admin/" not in r.url]
    database = repr(snapshot(app))
    for secret in sorted(secrets):
        assert secret not in logs, f"a secret is in the log: {secret[:6]}..."
        for text in errors + public:
            assert secret not in text, f"a secret is in an answer: {text[:200]}"
        assert secret not in database, f"a secret is in the database: {secret[:6]}..."


def _private_key_forms(app: Flask) -> set[str]:
    keyring = runtime_of(app).keyring
    forms: set[str] = set()
    with app.app_context():
        for key in db.session.scalars(select(SigningKey)):
            raw = keyring.open_signing_key(key.private_key_sealed, key.kid)
            assert len(raw) == 32
            forms |= _forms_of_bytes(raw)
        db.session.remove()
    return forms
