"""Fixtures of the WordPress suite: the licence server, a real WordPress, a browser.

The e2e tests skip when the machine lacks PHP, Debian's WordPress, MariaDB, Chromium
or Playwright, unless ``REQUIRE_WORDPRESS=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from license_server import migrate
from license_server.extensions import db
from license_server.wpclient import build
from tests.conftest import VendorFixture, make_app, new_vendor
from tests.wordpress.harness import CHROMIUM, SITES, WordPress, missing_prerequisites

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts" / "wordpress"
THEME = REPO / "examples" / "wordpress-theme"
PRODUCT = "acme-example"
RENEWAL_URL = "https://shop.acme-themes.com/renew"


@pytest.fixture(scope="session")
def wordpress_prerequisites() -> None:
    """Skip (or fail under REQUIRE_WORDPRESS=1) when a prerequisite is missing."""
    missing = missing_prerequisites()
    if missing:
        reason = "the WordPress e2e suite needs " + ", ".join(missing)
        if os.environ.get("REQUIRE_WORDPRESS") == "1":
            pytest.fail(reason + "; REQUIRE_WORDPRESS=1 forbids skipping")
        pytest.skip(reason)


@dataclass
class LicenseServer:
    """The real app on a loopback port that can be stopped and started again."""

    app: Flask
    vendor: VendorFixture
    port: int = 0
    server: BaseWSGIServer | None = None
    product: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.server.server_port
        thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}
        )
        thread.daemon = True
        thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the admin API in-process as the vendor; return the response."""
        client = self.app.test_client()
        kwargs.setdefault("headers", {}).update(self.vendor.headers)
        return client.open(f"/v1/admin{path}", method=method, **kwargs)

    def new_license(self, **fields: Any) -> dict[str, Any]:
        """Issue a licence of the product; return it with its key."""
        response = self.admin("POST", "/licenses", json={"product": PRODUCT, **fields})
        assert response.status_code == 201, response.get_json()
        data: dict[str, Any] = response.get_json()
        return data

    def activate(self, key: str, domain: str) -> int:
        """Activate a domain through the public API (another site taking the seat)."""
        body = {"license_key": key, "domain": domain, "product": PRODUCT}
        status: int = self.app.test_client().post("/v1/activate", json=body).status_code
        return status


@pytest.fixture(scope="session")
def license_server(
    wordpress_prerequisites: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LicenseServer]:
    """The licence server with a vendor and the example theme's product."""
    folder = tmp_path_factory.mktemp("license-server")
    url = f"sqlite:///{folder / 'server.sqlite3'}"
    migrate.upgrade(url)
    app = make_app(url, folder / "instance")
    server = LicenseServer(app, new_vendor(app))
    body = {"slug": PRODUCT, "name": "Acme Example", "key_prefix": "ACM"}
    response = server.admin("POST", "/products", json=body)
    assert response.status_code == 201, response.get_json()
    server.product = response.get_json()
    settings = {"type": "theme", "renewal_url": RENEWAL_URL}
    put = server.admin(
        "PUT", f"/products/{server.product['id']}/updates", json=settings
    )
    assert put.status_code == 200, put.get_json()
    # the vendor's first release key exists before the theme is built, so it is pinned
    rotated = server.admin("POST", "/release-keys/rotate")
    assert rotated.status_code == 201, rotated.get_json()
    server.start()
    yield server
    server.stop()
    with app.app_context():
        db.engine.dispose()


def built_theme(server: LicenseServer, out: Path) -> Path:
    """Copy the example theme and build its client for this server (the build step)."""
    import shutil

    theme = out / PRODUCT
    shutil.copytree(THEME, theme, ignore=shutil.ignore_patterns("acme-license"))
    style = theme / "style.css"
    style.write_text(style.read_text().replace("http://127.0.0.1:8000", server.url))
    with server.app.app_context():
        pinned = build.build_for_product(
            vendor_id=server.vendor.new.vendor.id,
            product_slug=PRODUCT,
            server_url=server.url,
        )
    assert pinned.release_keys, "the release key is pinned"
    build.write_dir(build.build_files(pinned, "Acme"), theme / "acme-license")
    return theme


@pytest.fixture(scope="session")
def wordpress(
    license_server: LicenseServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WordPress]:
    """A real WordPress with two sites running the example theme."""
    folder = tmp_path_factory.mktemp("wordpress")
    site = WordPress(folder / "wp", ARTIFACTS, license_server.port)
    if site.http_log.exists():
        site.http_log.unlink()
    try:
        site.set_up(built_theme(license_server, folder))
        site.start()
        yield site
    finally:
        site.tear_down()


@dataclass
class Browser:
    """Chromium through Playwright; every request not to the two sites is aborted."""

    browser: Any
    wordpress: WordPress
    refused: list[str] = field(default_factory=list)
    served: list[str] = field(default_factory=list)

    def page(self, site: str) -> Any:
        """Return a page of a fresh context, logged in to a site's wp-admin."""
        from tests.wordpress.harness import ADMIN_PASSWORD, ADMIN_USER

        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", self._guard)
        page = context.new_page()
        page.goto(self.wordpress.url(site, "/wp-login.php"))
        page.fill("#user_login", ADMIN_USER)
        page.fill("#user_pass", ADMIN_PASSWORD)
        page.click("#wp-submit")
        page.wait_for_url("**/wp-admin/**")
        return page

    def _guard(self, route: Any) -> None:
        host = urllib.parse.urlsplit(route.request.url).hostname
        if host in SITES.values():
            self.served.append(route.request.url)
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()


@pytest.fixture(scope="session")
def browser(wordpress: WordPress) -> Iterator[Browser]:
    """Headless Debian Chromium that resolves only the two site names, to loopback."""
    from playwright.sync_api import sync_playwright

    rules = ", ".join(f"MAP {name} 127.0.0.1" for name in SITES.values())
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[f"--host-resolver-rules={rules}, MAP * ~NOTFOUND"],
        )
        try:
            yield Browser(chromium, wordpress)
        finally:
            chromium.close()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
