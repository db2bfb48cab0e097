"""The example themed site against the real license server app.

The owner pastes the key into the theme options page; the notice goes away; a
revocation brings it back; deactivation frees the seat. Also: the environment
configuration the README describes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from license_client import JsonFileStore
from tests.client.conftest import FlaskTransport, real_client
from tests.conftest import VendorFixture

EXAMPLE = Path(__file__).parents[2] / "examples" / "themed_site" / "app.py"
NOTICE = "Jannah License is not validated"


def load_example() -> ModuleType:
    """Import examples/themed_site/app.py (not a package) as a module."""
    spec = importlib.util.spec_from_file_location("themed_site_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("themed_site_app", module)
    spec.loader.exec_module(module)
    return module


def test_options_page_activates_and_the_notice_follows(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    license: dict[str, Any],
    tmp_path: Path,
) -> None:
    site = real_client(
        vendor,
        FlaskTransport(app),
        domain="blog.example.com",
        store=JsonFileStore(tmp_path / "license.json"),
        show_notice_publicly=True,
    )
    web = load_example().create_app(site, background=False).test_client()
    assert NOTICE in web.get("/").get_data(as_text=True)
    assert NOTICE in web.get("/admin/theme-options").get_data(as_text=True)

    page = web.post(
        "/admin/theme-options",
        data={"action": "activate", "license_key": license["key"]},
    ).get_data(as_text=True)
    assert NOTICE not in page and "<strong>VALID</strong>" in page
    assert NOTICE not in web.get("/").get_data(as_text=True)

    revoked = client.post(
        f"/v1/admin/licenses/{license['id']}/revoke", headers=vendor.headers
    )
    assert revoked.status_code == 200
    page = web.post("/admin/theme-options", data={"action": "refresh"}).get_data(
        as_text=True
    )
    assert NOTICE in page and "REVOKED" in page

    typo = web.post(
        "/admin/theme-options",
        data={"action": "activate", "license_key": "JAN-00000-00000-00000-00000-00001"},
    ).get_data(as_text=True)
    assert "check it for typos" in typo


def test_config_from_environment(vendor: VendorFixture, tmp_path: Path) -> None:
    jwk_file = tmp_path / "vendor.jwk"
    jwk_file.write_text(json.dumps(vendor.new.public_keys[0]))
    environ = {
        "LICENSE_SERVER_URL": "http://127.0.0.1:8000/",
        "THEME_ISSUER": vendor.new.vendor.issuer,
        "THEME_PUBLIC_KEY": f"@{jwk_file}",
        "SITE_DOMAIN": "https://www.My-Blog.com/",
        "LICENSE_STATE": str(tmp_path / "state.json"),
        "SHOW_NOTICE_PUBLICLY": "1",
    }
    config = load_example().config_from_env(environ)
    assert config.server_url == "http://127.0.0.1:8000"
    assert config.domain == "my-blog.com" and config.show_notice_publicly
    assert list(config.pinned_keys) == [vendor.new.public_keys[0]["kid"]]
