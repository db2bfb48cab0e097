"""The browser side of the dashboard's tests: Chromium under Playwright, axe, hosts.

:func:`browser` launches Debian's headless Chromium (nothing downloaded); a
:class:`Visit` is one browser context that records every request's host and CSP
complaint, and runs axe-core on each page it checks after a full-page screenshot
into ``tests/web/artifacts/``. Without Chromium or Playwright the tests skip,
unless ``REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PASSWORD

ASSETS = Path(__file__).parent / "assets"
ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = (ASSETS / "axe.min.js").read_text(encoding="utf-8")
BAD_IMPACTS = {"serious", "critical"}


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason + "; REQUIRE_BROWSER=1 forbids skipping")
    pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium under Playwright (Debian's binary; nothing downloaded)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _skip_or_fail("headless Chromium not found (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=found, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


class Visit:
    """One browser context: checks hosts, runs axe and screenshots each page."""

    def __init__(self, browser: Any, base: str, name: str) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.base = base
        self.name = name
        self.hosts: set[str] = set()
        self.csp_errors: list[str] = []
        self.page.on("request", self._note_host)
        self.page.on("console", self._note_console)

    def _note_host(self, request: Any) -> None:
        self.hosts.add(urllib.parse.urlsplit(request.url).hostname or "")

    def _note_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.csp_errors.append(message.text)

    def go(self, path: str) -> Any:
        """Open a dashboard path."""
        return self.page.goto(self.base + path)

    def check(self, label: str) -> None:
        """Run axe on the page and keep a full-page screenshot of it."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(
            path=str(ARTIFACTS / f"{self.name}-{label}.png"), full_page=True
        )
        self.page.evaluate(AXE)
        result = self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        bad = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]
            if v["impact"] in BAD_IMPACTS
        ]
        assert bad == [], (label, bad)

    def sign_in(self, email: str) -> None:
        """Sign in through the form."""
        self.go("/dashboard/login")
        self.check("login")
        self.page.fill("#email", email)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")

    def csrf(self) -> str:
        """Read this session's CSRF token from the page."""
        token: str = self.page.locator("input[name=csrf_token]").first.input_value()
        return token

    def close(self) -> None:
        """Close the context; every request went to 127.0.0.1, no CSP error."""
        self.context.close()
        assert self.hosts == {"127.0.0.1"}, self.hosts
        assert self.csp_errors == []
