"""Licence-gated updates through WordPress's own screens, in a real WordPress.

A release is published -> the Updates and Themes screens offer it -> update -> the new
version is installed; a package whose bytes were changed after signing is refused by
WordPress's verify_file_signature() with the pinned release key; a site whose licence
no longer covers updates sees the version and the renewal reason, and gets no package.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.wordpress.conftest import (
    PRODUCT,
    RENEWAL_URL,
    Browser,
    LicenseServer,
    shot,
)
from tests.wordpress.harness import WordPress

VERSION = f"echo wp_get_theme('{PRODUCT}')->get('Version');"


def theme_zip(wordpress: WordPress, version: str) -> bytes:
    """The installed theme (client included) as a release ZIP of ``version``."""
    root = wordpress.root / "wp-content" / "themes" / PRODUCT
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                if path.name == "style.css":
                    text = data.decode().replace(
                        "Version: 1.0.0", f"Version: {version}"
                    )
                    text = text.replace("Version: 1.1.0", f"Version: {version}")
                    data = text.encode()
                archive.writestr(f"{PRODUCT}/{path.relative_to(root)}", data)
    return buffer.getvalue()


def publish(server: LicenseServer, package: bytes, version: str) -> dict[str, Any]:
    """Publish a release through the admin API; return it."""
    product = server.product["id"]
    body = {"version": version, "changelog": f"* {version}: better things"}
    created = server.admin("POST", f"/products/{product}/releases", json=body)
    assert created.status_code == 201, created.get_json()
    release = created.get_json()
    uploaded = server.admin(
        "PUT",
        f"/releases/{release['id']}/package",
        data=package,
        headers={"Content-Type": "application/zip"},
    )
    assert uploaded.status_code == 200, uploaded.get_json()
    published = server.admin("POST", f"/releases/{release['id']}/publish")
    assert published.status_code == 200, published.get_json()
    data: dict[str, Any] = uploaded.get_json()
    return data


def update_from_updates_screen(page: Any, wordpress: WordPress, site: str) -> str:
    """Tick the theme on Dashboard -> Updates, press Update Themes; return the log."""
    page.goto(wordpress.url(site, "/wp-admin/update-core.php?force-check=1"))
    page.check(f"input[name='checked[]'][value='{PRODUCT}']")
    page.click("#upgrade-themes")
    page.wait_for_load_state()
    frame = page.frame_locator("iframe").first
    frame.locator(
        "text=/All updates have been completed|could not be|failed/i"
    ).first.wait_for(timeout=60_000)
    text: str = frame.locator("body").inner_text()
    return text


def test_licensed_site_updates_and_a_tampered_package_is_refused(
    browser: Browser, wordpress: WordPress, license_server: LicenseServer
) -> None:
    licence = license_server.new_license()
    code = wordpress.php(
        f"echo Acme_License::client()->activate({licence['key']!r})['code'];", "one"
    )
    assert code == "VALID"
    publish(license_server, theme_zip(wordpress, "1.1.0"), "1.1.0")
    page = browser.page("one")
    page.goto(wordpress.url("one", "/wp-admin/update-core.php?force-check=1"))
    themes = page.locator("#update-themes-table").inner_text()
    assert "Acme Example" in themes and "Update to 1.1.0" in themes
    shot(page, "10-updates-screen-offers-1.1.0")
    page.goto(wordpress.url("one", "/wp-admin/themes.php"))
    assert "New version available." in page.locator(".theme.active").inner_text()
    shot(page, "11-themes-screen-new-version")

    log = update_from_updates_screen(page, wordpress, "one")
    assert "updated successfully" in log, log
    assert wordpress.php(VERSION) == "1.1.0"
    shot(page, "12-updated-to-1.1.0")
    # the version just installed is no longer offered (WordPress saved that offer)
    page.goto(wordpress.url("one", "/wp-admin/themes.php"))
    assert "New version available." not in page.locator(".theme.active").inner_text()
    shot(page, "12b-themes-screen-after-update")

    release = publish(license_server, theme_zip(wordpress, "1.2.0"), "1.2.0")
    stored = _stored_package(license_server, release["sha256"])
    forged = _with_extra_file(stored.read_bytes(), "backdoor.php", b"<?php // x")
    stored.write_bytes(forged)  # the bytes served no longer match the signature
    log = update_from_updates_screen(page, wordpress, "one")
    assert "updated successfully" not in log, log
    assert "could not be verified" in log or "signature" in log.lower(), log
    assert wordpress.php(VERSION) == "1.1.0"
    shot(page, "13-tampered-package-refused")
    page.context.close()


def test_lapsed_licence_sees_the_version_and_the_reason_but_no_package(
    browser: Browser, wordpress: WordPress, license_server: LicenseServer
) -> None:
    listed = license_server.admin(
        "GET", f"/products/{license_server.product['id']}/releases"
    )
    if "1.2.0" not in {r["version"] for r in listed.get_json()["data"]}:
        publish(license_server, theme_zip(wordpress, "1.2.0"), "1.2.0")  # run alone
    lapsed = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    licence = license_server.new_license(updates_until=lapsed)
    code = wordpress.php(
        f"echo Acme_License::client()->activate({licence['key']!r})['code'];", "two"
    )
    assert code == "VALID"  # the theme keeps working; only updates stopped
    page = browser.page("two")
    page.goto(wordpress.url("two", "/wp-admin/update-core.php?force-check=1"))
    reason = page.locator(".acme-update-reason").inner_text()
    assert "Acme Example 1.2.0 is available, but this site cannot install it" in reason
    assert page.locator(".acme-update-reason a.acme-renew").get_attribute("href") == (
        RENEWAL_URL
    )
    shot(page, "14-lapsed-updates-screen-reason")
    page.goto(wordpress.url("two", "/wp-admin/themes.php"))
    card = page.locator(".theme.active").inner_text()
    assert "New version available." in card
    assert "cannot install it" in page.locator(".acme-update-reason").inner_text()
    # what WordPress renders in the theme's details overlay
    details = page.evaluate(
        "() => _wpThemeSettings.themes.find(t => t.id === 'acme-example')"
    )
    assert details["hasUpdate"] and not details["hasPackage"]
    assert "Automatic update is unavailable for this theme." in details["update"]
    assert "cannot install it" in details["update"]
    assert RENEWAL_URL in details["update"]
    shot(page, "15-lapsed-themes-screen-reason")
    page.goto(wordpress.url("two", f"/wp-admin/themes.php?theme={PRODUCT}"))
    overlay = page.locator(".theme-overlay .acme-update-reason")  # drawn by wp-admin JS
    overlay.wait_for(timeout=15_000)
    assert "cannot install it" in overlay.inner_text()
    assert overlay.locator("a.acme-renew").get_attribute("href") == RENEWAL_URL
    shot(page, "15b-lapsed-theme-details-reason")
    stored = wordpress.php(
        f"$u = get_option('acme_updates_{PRODUCT}');"
        "echo var_export($u['package'], true);",
        "two",
    )
    assert stored == "NULL"
    page.context.close()


def _stored_package(server: LicenseServer, sha256: str) -> Path:
    root = Path(server.app.config["INSTANCE_PATH"]) / "releases"
    path = root / "sha256" / sha256[:2] / f"{sha256}.zip"
    assert path.is_file(), path
    return path


def _with_extra_file(package: bytes, name: str, data: bytes) -> bytes:
    """Return a still valid ZIP with one more file (a tampered package)."""
    buffer = io.BytesIO(package)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(f"{PRODUCT}/{name}", data)
    return buffer.getvalue()
