"""Errors a newcomer meets first, in words that say what to do."""

from __future__ import annotations

import json

from flask.testing import FlaskClient


def test_json_sent_as_a_form_says_to_set_the_content_type(client: FlaskClient) -> None:
    # `curl -d '{...}'` without -H 'Content-Type: application/json'
    body = json.dumps({"license_key": "x", "domain": "a.com", "product": "jannah"})
    response = client.post(
        "/v1/validate",
        data=body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["code"] == "MALFORMED_BODY"
    assert "Content-Type: application/json" in answer["message"]


def test_a_real_form_still_reaches_the_schema(client: FlaskClient) -> None:
    response = client.post(
        "/v1/validate",
        data="license_key=x&domain=a.com&product=jannah&site=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 422
    assert response.get_json()["detail"]["fields"] == {"site": ["Unknown field."]}
