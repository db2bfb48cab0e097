"""A real browser sees the notice before activation and not after.

Headless Chromium (Debian's ``chromium``) loads the example site served on
127.0.0.1, which talks to the real license server on another local port. The DOM
dump must contain the notice before activation and not after; the screenshots must
differ. Without Chromium the test skips, unless ``REQUIRE_BROWSER=1`` (CI), where
it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from license_client import JsonFileStore, StdlibTransport
from tests.client.conftest import LiveServer, real_client, serve
from tests.client.test_example_site import load_example
from tests.conftest import VendorFixture

NOTICE = "Jannah License is not validated, Go to the "
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1024,640",
]


@pytest.fixture
def chromium() -> str:
    """The Chromium binary, or skip (fail under ``REQUIRE_BROWSER=1``)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "headless Chromium not found (apt-get install -y chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; REQUIRE_BROWSER=1 forbids skipping")
        pytest.skip(reason)
    return found


def browse(chromium: str, tmp_path: Path, url: str, *args: str) -> str:
    """Run headless Chromium on ``url`` with a fresh profile; return its stdout."""
    assert urllib.parse.urlsplit(url).hostname == "127.0.0.1"  # local pages only
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def example_site(
    vendor: VendorFixture, live_server: LiveServer, tmp_path: Path
) -> Iterator[str]:
    """The example site on a local port, its client talking to the live server."""
    site = real_client(
        vendor,
        StdlibTransport(),
        domain="blog.example.com",
        server_url=live_server.url,
        store=JsonFileStore(tmp_path / "license.json"),
        show_notice_publicly=True,
    )
    running = serve(load_example().create_app(site, background=False))
    yield running.url
    running.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_browser_sees_notice_until_activation(
    chromium: str,
    client: FlaskClient,
    license: dict[str, Any],
    example_site: str,
    tmp_path: Path,
) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    before_dom = browse(chromium, shots, example_site + "/", "--dump-dom")
    assert NOTICE in before_dom
    assert 'href="/admin/theme-options">theme options page</a>' in before_dom
    browse(chromium, shots, example_site + "/", f"--screenshot={shots / 'before.png'}")

    form = urllib.parse.urlencode({"action": "activate", "license_key": license["key"]})
    with urllib.request.urlopen(  # noqa: S310 - a local http URL
        example_site + "/admin/theme-options", data=form.encode(), timeout=10
    ) as answer:
        assert "<strong>VALID</strong>" in answer.read().decode()

    after_dom = browse(chromium, shots, example_site + "/", "--dump-dom")
    assert NOTICE not in after_dom and "Welcome" in after_dom
    browse(chromium, shots, example_site + "/", f"--screenshot={shots / 'after.png'}")

    before = (shots / "before.png").read_bytes()
    after = (shots / "after.png").read_bytes()
    assert before.startswith(b"\x89PNG") and after.startswith(b"\x89PNG")
    assert before != after
