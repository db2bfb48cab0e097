"""``/docs``: Swagger UI from the package's own files under a same-origin CSP.

The page and every asset it names are served here (no CDN); a real browser renders
the operations with the policy in force; ``/docs/protocol`` serves PROTOCOL.md;
``GET /`` points to them; request bodies carry fields and examples.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.client.conftest import serve
from tests.client.test_browser import browse, chromium  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[2]


def test_docs_page_and_its_assets_are_local(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp
    assert "http" not in csp and "unsafe" not in csp
    html = page.get_data(as_text=True)
    assert "<script>" not in html and "style=" not in html  # nothing inline
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert links and all(link.startswith("/") for link in links), links
    for link in links:
        answer = client.get(link)
        assert answer.status_code == 200, link
        if link.startswith("/docs"):
            assert answer.headers["Content-Security-Policy"] == csp
        answer.close()  # a file served from disk
    assert client.get("/docs/assets/index.html").status_code == 404
    assert client.get("/docs/assets/..%2Fpyproject.toml").status_code == 404


def test_protocol_is_served_and_linked(client: FlaskClient) -> None:
    answer = client.get("/docs/protocol")
    assert answer.status_code == 200 and answer.mimetype == "text/markdown"
    assert answer.get_data(as_text=True) == (ROOT / "docs" / "PROTOCOL.md").read_text(
        encoding="utf-8"
    )
    spec = client.get("/openapi.json").get_json()
    assert "(/docs/protocol)" in spec["info"]["description"]


def test_root_points_to_the_docs(client: FlaskClient) -> None:
    assert client.get("/").get_json()["docs"] == "/docs"
    browser = client.get("/", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.status_code == 302 and browser.headers["Location"] == "/docs"


def test_request_bodies_have_fields_and_examples(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody") if method != "parameters" else None
            if body is None:
                continue
            ref = body["content"]["application/json"]["schema"]["$ref"]
            properties: dict[str, Any] = schemas[ref.rsplit("/", 1)[1]]["properties"]
            assert properties, (method, path)
            for name, field in properties.items():
                described = {"example", "description", "enum"} & set(field)
                assert described or "default" in field, (method, path, name)
            required = schemas[ref.rsplit("/", 1)[1]].get("required", [])
            for name in required:
                assert "example" in properties[name], (method, path, name)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_swagger_ui_renders_under_the_policy(
    chromium: str,  # noqa: F811 - the fixture
    app: Any,
    tmp_path: Path,
) -> None:
    running = serve(app)
    try:
        dom = browse(
            chromium,
            tmp_path,
            running.url + "/docs",
            "--dump-dom",
            "--virtual-time-budget=15000",
        )
    finally:
        running.stop()
    assert 'class="swagger-ui' in dom
    for operation in ("/v1/activate", "/v1/validate", "/v1/admin/licenses/batch"):
        assert operation in dom
    public, admin = dom.find("/v1/activate"), dom.find("/v1/admin/products")
    assert 0 <= public < admin  # the public endpoints come first
