"""The public endpoints' example bodies in /docs are requests a newcomer can send."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

PUBLIC = ["/v1/activate", "/v1/validate", "/v1/deactivate"]


@pytest.mark.parametrize("path", PUBLIC)
def test_every_field_of_a_public_body_has_a_real_example(
    client: FlaskClient, path: str
) -> None:
    spec = client.get("/openapi.json").get_json()
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]
    properties = spec["components"]["schemas"][name]["properties"]
    # Swagger UI fills a field without an example with its default: null for nonce
    missing = [
        field for field, info in properties.items() if info.get("example") is None
    ]
    assert missing == []
