"""The API reference lists form bodies where the server takes them (PROTOCOL §7).

WordPress's ``wp_remote_post()`` with an array body sends
``application/x-www-form-urlencoded``; the blueprints that set ``accepts_forms``
take it. Their POST routes, found from the app (not listed by hand), must document
both media types with the same schema, and a form POST must work on each.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient

from license_server.api.parsing import FORM

JSON = "application/json"


def form_routes(app: Flask) -> set[str]:
    """The POST routes of every blueprint that takes form bodies."""
    names = {
        name
        for name, blueprint in app.blueprints.items()
        if getattr(blueprint, "accepts_forms", False)
    }
    assert names, "no blueprint takes form bodies"
    return {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in names and "POST" in (rule.methods or ())
    }


def test_every_form_route_documents_both_media_types(app: Flask) -> None:
    spec = app.test_client().get("/openapi.json").get_json()
    routes = form_routes(app)
    assert routes >= {
        "/v1/activate",
        "/v1/validate",
        "/v1/deactivate",
        "/v1/updates/check",
    }
    for path in routes:
        content = spec["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == {JSON, FORM}, path
        assert content[FORM]["schema"] == content[JSON]["schema"], path
        assert "$ref" in content[FORM]["schema"], path
    # routes that refuse forms (415: the admin API) do not claim them
    admin = spec["paths"]["/v1/admin/licenses"]["post"]["requestBody"]["content"]
    assert set(admin) == {JSON}


def test_a_form_post_works_on_every_form_route(
    app: Flask, client: FlaskClient, license: dict[str, Any]
) -> None:
    site = {"license_key": license["key"], "domain": "shop.example.com"}
    # in the order a site calls them; every form route must be here
    calls = [
        ("/v1/activate", {**site, "product": "jannah", "nonce": "n1"}, 201),
        ("/v1/validate", {**site, "product": "jannah", "nonce": "n2"}, 200),
        ("/v1/updates/check", {**site, "product": "jannah", "version": "1.0"}, 200),
        ("/v1/deactivate", site, 200),
    ]
    assert {path for path, _, _ in calls} == form_routes(app)
    for path, fields, status in calls:
        answer = client.post(path, data=urlencode(fields), content_type=FORM)
        assert answer.status_code == status, (path, answer.get_json())
        assert answer.mimetype == JSON
    validated = client.post(
        "/v1/validate",
        data=urlencode({**site, "product": "jannah"}),
        content_type=FORM,
    ).get_json()
    # deactivated by the form above: the form really reached the service
    assert validated["valid"] is False
