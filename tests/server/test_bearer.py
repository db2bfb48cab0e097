"""401 answers say what is wrong with the header, never unknown from revoked."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from license_server import errors
from license_server.bearer import bearer_token
from tests.conftest import VendorFixture

GOOD = "lsk_" + "A1b2-C3d4_" * 4 + "xyz"  # well formed, never issued


@pytest.mark.parametrize(
    "header, reason, says",
    [
        (None, "missing", "No Authorization header"),
        ("   ", "missing", "No Authorization header"),
        (GOOD, "no_scheme", "has no scheme"),
        (f"Basic {GOOD}", "not_bearer", "is 'Basic', not Bearer"),
        ("Token abc", "not_bearer", "is 'Token', not Bearer"),
        ("Bearer abc", "malformed", "The API key is malformed"),
        (f"Bearer {GOOD}x", "malformed", "The API key is malformed"),
        (f"Bearer sk_{GOOD[4:]}", "malformed", "The API key is malformed"),
    ],
)
def test_header_problems_are_named(header: str | None, reason: str, says: str) -> None:
    with pytest.raises(errors.Unauthorized) as raised:
        bearer_token(header)
    assert raised.value.detail == {"reason": reason}
    assert says in raised.value.text and raised.value.text.endswith(".")
    assert "WWW-Authenticate" in raised.value.headers


def test_a_well_formed_header_gives_the_key() -> None:
    assert bearer_token(f"Bearer {GOOD}") == GOOD
    assert bearer_token(f"  bearer   {GOOD} ") == GOOD


def _answer(client: FlaskClient, header: str) -> tuple[int, dict[str, object]]:
    response = client.get("/v1/admin/products", headers={"Authorization": header})
    body = response.get_json()
    body.pop("request_id")
    return response.status_code, body


def test_unknown_and_revoked_keys_answer_the_same(
    client: FlaskClient, vendor: VendorFixture
) -> None:
    made = client.post(
        "/v1/admin/api-keys", json={"name": "old"}, headers=vendor.headers
    ).get_json()
    revoked = client.post(
        f"/v1/admin/api-keys/{made['id']}/revoke", headers=vendor.headers
    )
    assert revoked.status_code == 200
    unknown = _answer(client, f"Bearer {GOOD}")
    assert unknown == _answer(client, f"Bearer {made['key']}")
    assert unknown == (
        401,
        {
            "code": "UNAUTHORIZED",
            "message": "The API key is not valid (unknown or revoked).",
            "detail": {"reason": "invalid"},
        },
    )
    status, body = _answer(client, "Basic dXNlcjpwYXNz")
    assert (status, body["detail"]) == (401, {"reason": "not_bearer"})
