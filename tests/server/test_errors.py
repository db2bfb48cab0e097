"""Every non-2xx answer is JSON in the protocol's shape (PROTOCOL §5)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import VendorFixture

SHAPE = {"code", "message", "detail", "request_id"}


def _check(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert set(body) >= SHAPE
    assert body["code"] == code
    assert response.headers["X-Request-ID"] == body["request_id"]
    return body


VALID = {
    "license_key": "JAN-00000-00000-00000-00000-00000",
    "domain": "a.com",
    "product": "jannah",
}


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        (
            {"data": "{not json", "content_type": "application/json"},
            400,
            "MALFORMED_JSON",
        ),
        ({"data": "[1, 2]", "content_type": "application/json"}, 400, "MALFORMED_JSON"),
        ({"data": "", "content_type": "application/json"}, 400, "MALFORMED_JSON"),
        (
            {"data": '{"a": NaN}', "content_type": "application/json"},
            400,
            "MALFORMED_JSON",
        ),
        (
            {"data": '{"a": 1, "a": 2}', "content_type": "application/json"},
            400,
            "MALFORMED_JSON",
        ),
        (
            {"data": '{"a": "\\ud800"}', "content_type": "application/json"},
            400,
            "MALFORMED_JSON",
        ),
        (
            {"data": "[" * 100 + "]" * 100, "content_type": "application/json"},
            400,
            "MALFORMED_JSON",
        ),
        (
            {"data": b"\xff\xfe", "content_type": "application/json"},
            400,
            "MALFORMED_JSON",
        ),
        (
            {
                "data": "license_key=x",
                "content_type": "application/x-www-form-urlencoded",
            },
            422,
            "VALIDATION_ERROR",
        ),
        (
            {"data": "license_key=x", "content_type": "text/plain"},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        ({"json": {**VALID, "extra": 1}}, 422, "VALIDATION_ERROR"),
        ({"json": {"domain": "a.com"}}, 422, "VALIDATION_ERROR"),
        ({"json": {**VALID, "license_key": 12}}, 422, "VALIDATION_ERROR"),
        (
            {
                "data": "{" + '"a":"' + "x" * 70_000 + '"}',
                "content_type": "application/json",
            },
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ],
)
def test_bad_bodies(
    client: FlaskClient, kwargs: dict[str, Any], status: int, code: str
) -> None:
    _check(client.post("/v1/validate", **kwargs), status, code)


def test_unknown_field_is_named_in_detail(client: FlaskClient) -> None:
    body = _check(
        client.post("/v1/validate", json={**VALID, "extra": 1}), 422, "VALIDATION_ERROR"
    )
    assert body["detail"]["fields"] == {"extra": ["Unknown field."]}


def test_werkzeug_errors_are_json(client: FlaskClient) -> None:
    _check(client.get("/nowhere"), 404, "NOT_FOUND")
    body = _check(client.get("/v1/validate"), 405, "METHOD_NOT_ALLOWED")
    assert "POST" in body["detail"]["allowed"]


def test_request_id_is_echoed_when_sane(client: FlaskClient) -> None:
    response = client.get("/nowhere", headers={"X-Request-ID": "abc-123-def"})
    assert response.get_json()["request_id"] == "abc-123-def"
    response = client.get("/nowhere", headers={"X-Request-ID": "<script>"})
    assert response.get_json()["request_id"] != "<script>"


def test_admin_without_credentials_is_401(
    client: FlaskClient, vendor: VendorFixture
) -> None:
    _check(client.get("/v1/admin/products"), 401, "UNAUTHORIZED")
    bad = {"Authorization": "Bearer lsk_not-a-real-key"}
    _check(client.get("/v1/admin/products", headers=bad), 401, "UNAUTHORIZED")
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    _check(client.get("/v1/admin/products", headers=basic), 401, "UNAUTHORIZED")


def test_unexpected_exception_is_a_json_500(client: FlaskClient) -> None:
    app = client.application

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    body = _check(client.get("/boom"), 500, "INTERNAL_ERROR")
    assert "boom" not in body["message"]


def test_oversized_headers_are_431(client: FlaskClient) -> None:
    headers = {f"X-Filler-{i}": "x" * 1000 for i in range(20)}
    body = _check(
        client.post("/v1/validate", json=VALID, headers=headers),
        431,
        "HEADERS_TOO_LARGE",
    )
    assert body["detail"] == {"limit": 16 * 1024}
    small = {f"X-Filler-{i}": "x" * 1000 for i in range(5)}
    assert client.post("/v1/validate", json=VALID, headers=small).status_code != 431


def test_nul_characters_are_refused_everywhere(
    client: FlaskClient, vendor: VendorFixture
) -> None:
    body = {**VALID, "product": "jan\x00nah"}
    _check(client.post("/v1/validate", json=body), 422, "VALIDATION_ERROR")
    nested = {**VALID, "nonce": "n\x00"}
    _check(client.post("/v1/validate", json=nested), 422, "VALIDATION_ERROR")
    _check(client.get("/v1/vendors/ac%00me/jwks.json"), 422, "VALIDATION_ERROR")
    _check(
        client.get("/v1/admin/licenses?customer_email=a%00b", headers=vendor.headers),
        422,
        "VALIDATION_ERROR",
    )
