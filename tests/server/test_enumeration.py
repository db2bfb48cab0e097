"""Key enumeration: malformed keys cost no database work, unknown keys look known.

Counted with a SQLAlchemy listener on every statement the app sends: a malformed
key is refused before the first one, and an unknown key runs exactly the lookup a
known key runs (by keyed hash; no shortcut on the prefix or on the key's shape).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from license_server.extensions import db
from tests.conftest import VendorFixture, create_license, create_product, new_vendor
from tests.server.hardening_support import sql_statements

MALFORMED = [
    "JAN-00000-00000-00000-00000-00001",  # check symbol off by one
    "JAN-12345",  # too short
    "J-00000-00000-00000-00000-00000",  # one-letter prefix
    "JAN-0000U-00000-00000-00000-00000",  # U is not in the alphabet
    "JAN-00000-00000-00000-00000-0000é",  # not ASCII
    "x" * 200,  # long and wrong
    "JAN_00000_00000_00000_00000_00000",  # underscores are not separators
]
UNKNOWN = "JAN-00000-00000-00000-00000-00000"


def _body(endpoint: str, key: str, domain: str = "a.com") -> dict[str, Any]:
    body = {"license_key": key, "domain": domain}
    if endpoint != "deactivate":
        body["product"] = "jannah"
    return body


@pytest.mark.parametrize("endpoint", ["validate", "activate", "deactivate"])
def test_malformed_keys_are_refused_before_any_sql(
    app: Flask, client: FlaskClient, product: dict[str, Any], endpoint: str
) -> None:
    for key in MALFORMED:
        with sql_statements(app) as statements:
            response = client.post(f"/v1/{endpoint}", json=_body(endpoint, key))
        assert response.status_code == 400, key
        assert response.get_json()["code"] == "INVALID_KEY_FORMAT"
        assert statements == [], key


def _lookup_phase(statements: list[str]) -> list[str]:
    """Return the statements up to and including the lookup by key hash."""
    for index, statement in enumerate(statements):
        if "key_hash" in statement and "licenses" in statement:
            return statements[: index + 1]
    raise AssertionError(f"no lookup by key hash among {statements}")


def _run(app: Flask, client: FlaskClient, endpoint: str, key: str) -> tuple[Any, ...]:
    with sql_statements(app) as statements:
        response = client.post(f"/v1/{endpoint}", json=_body(endpoint, key))
    return response.status_code, response.get_json().get("code"), list(statements)


# deactivate names no product, so no vendor: a key of any vendor is simply known
@pytest.mark.parametrize("endpoint", ["validate", "activate"])
def test_unknown_key_takes_the_same_path_as_another_vendors_key(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: dict[str, Any],
    endpoint: str,
) -> None:
    other = new_vendor(app, "Other Shop")
    create_product(client, other, slug="other-theme", key_prefix="JAN")
    foreign = create_license(client, other, product="other-theme")["key"]
    _run(app, client, endpoint, UNKNOWN)  # warm the per-process product/signer cache
    unknown = _run(app, client, endpoint, UNKNOWN)
    known_elsewhere = _run(app, client, endpoint, foreign)
    assert unknown[:2] == known_elsewhere[:2]
    assert unknown[1] == "NOT_FOUND"
    assert unknown[2] == known_elsewhere[2]  # the same SQL, statement for statement


@pytest.mark.parametrize("endpoint", ["validate", "activate", "deactivate"])
def test_unknown_and_known_keys_run_the_same_lookup(
    app: Flask,
    client: FlaskClient,
    license: dict[str, Any],
    endpoint: str,
) -> None:
    if endpoint == "deactivate":  # something to deactivate
        client.post("/v1/activate", json=_body("activate", license["key"]))
    _run(app, client, endpoint, UNKNOWN)  # warm the per-process product/signer cache
    _, unknown_code, unknown = _run(app, client, endpoint, UNKNOWN)
    status, known_code, known = _run(app, client, endpoint, license["key"])
    assert unknown_code == "NOT_FOUND"
    assert status < 300 and known_code != "NOT_FOUND"
    # the same statements, in the same order, until the license is found or not
    assert _lookup_phase(unknown) == _lookup_phase(known)


def test_key_lookup_sends_no_key_text_to_the_database(
    app: Flask, client: FlaskClient, license: dict[str, Any]
) -> None:
    parameters: list[Any] = []

    def collect(_c: Any, _cur: Any, _stmt: str, params: Any, *_: Any) -> None:
        parameters.append(repr(params))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", collect)
    try:
        client.post("/v1/validate", json=_body("validate", license["key"]))
        client.post("/v1/validate", json=_body("validate", license["key"].lower()))
    finally:
        event.remove(engine, "before_cursor_execute", collect)
    text = "\n".join(parameters).upper()
    body = license["key"].replace("-", "")[-25:]
    assert parameters and body not in text and license["key"] not in text
