"""The licence part in a real WordPress, driven by a real Chromium.

Log in -> the notice is shown -> paste a key -> Activate -> the notice is gone ->
the licence server is stopped -> Check now -> still valid (grace), "unreachable since"
-> the vendor revokes -> Check now -> the notice is back; a second site on a one-domain
licence is refused with the right words; re-validation runs from WP-Cron; and no
request of WordPress or the browser left 127.0.0.1.
"""

from __future__ import annotations

import re
from typing import Any

from tests.wordpress.conftest import Browser, LicenseServer, shot
from tests.wordpress.harness import WordPress

NOTICE = (
    "Acme Example License is not validated, Go to the theme options page to "
    "validate the license, You need a single license for each domain name."
)
PAGE = "/wp-admin/themes.php?page=acme-license"


def notice_text(page: Any) -> str | None:
    notices = page.locator(".acme-license-notice")
    return notices.first.inner_text().strip() if notices.count() else None


def state(page: Any) -> str:
    text: str = page.locator(".acme-state").inner_text()
    return text.removeprefix("Status:").strip()


def press(page: Any, op: str) -> None:
    page.click(f"button[name=acme_op][value={op}]")
    page.wait_for_load_state()


def test_notice_follows_the_licence(
    browser: Browser, wordpress: WordPress, license_server: LicenseServer
) -> None:
    licence = license_server.new_license()
    page = browser.page("one")
    page.goto(wordpress.url("one", "/wp-admin/"))
    assert notice_text(page) == NOTICE
    link = page.locator(".acme-license-notice a")
    assert link.inner_text() == "theme options page"
    assert link.get_attribute("href") == wordpress.url("one", PAGE)
    shot(page, "01-dashboard-notice")

    link.click()
    assert page.locator("h1").inner_text() == "Acme Example License"
    assert state(page).startswith("Not validated")
    page.fill("#acme_key", licence["key"].lower().replace("-", " "))
    press(page, "activate")
    assert page.locator(".acme-result").inner_text() == (
        "The license is valid for this domain."
    )
    assert state(page).startswith("Valid")
    masked = page.locator(".acme-masked").inner_text()
    assert masked.endswith(licence["key"][-5:]) and licence["key"] not in masked
    assert "Domain: shop-one.com" in page.content()
    assert notice_text(page) is None
    shot(page, "02-activated")
    page.goto(wordpress.url("one", "/wp-admin/"))
    assert notice_text(page) is None

    license_server.stop()
    try:
        page.goto(wordpress.url("one", PAGE))
        press(page, "check")
        assert "could not be reached" in page.locator(".acme-result").inner_text()
        assert state(page).startswith("Valid")  # a failure is "unknown", not "invalid"
        assert "unreachable since" in page.locator(".wrap").inner_text()
        assert notice_text(page) is None
        shot(page, "03-server-unreachable-still-valid")
    finally:
        license_server.start()

    revoked = license_server.admin("POST", f"/licenses/{licence['id']}/revoke")
    assert revoked.status_code == 200, revoked.get_json()
    page.goto(wordpress.url("one", PAGE))
    assert state(page).startswith("Valid")  # nothing changes until the site asks
    press(page, "check")
    assert state(page) == "Revoked: this license has been revoked."
    assert notice_text(page) == NOTICE
    shot(page, "04-revoked-notice-back")
    page.goto(wordpress.url("one", "/wp-admin/"))
    assert notice_text(page) == NOTICE

    press_page = wordpress.url("one", PAGE)
    page.goto(press_page)
    press(page, "deactivate")
    assert page.locator(".acme-result").inner_text() == (
        "The license was deactivated on this domain."
    )
    assert page.locator("#acme_key").count() == 1
    page.context.close()


def test_second_site_on_a_one_domain_licence_is_refused(
    browser: Browser, wordpress: WordPress, license_server: LicenseServer
) -> None:
    licence = license_server.new_license()
    assert license_server.activate(licence["key"], "shop-one.com") == 201
    page = browser.page("two")
    page.goto(wordpress.url("two", PAGE))
    page.fill("#acme_key", licence["key"])
    press(page, "activate")
    assert page.locator(".acme-result").inner_text() == (
        "Every domain this license allows is taken; deactivate the license on "
        "another site first."
    )
    assert "Domain: shop-two.com" in page.content()
    assert notice_text(page) == NOTICE
    # the refused key holds no seat here: no "Deactivate"; another key goes in at once
    buttons = page.locator(".wrap button").all_inner_texts()
    assert "Remove this key" in buttons and "Deactivate" not in buttons
    assert "Last confirmed" not in page.locator(".wrap").inner_text()
    shot(page, "05-second-site-refused")
    own = license_server.new_license()
    page.fill("#acme_key", own["key"])
    press(page, "activate")
    assert state(page).startswith("Valid")
    assert notice_text(page) is None
    shot(page, "06-second-site-own-key")
    press(page, "deactivate")
    page.context.close()


def test_public_pages_show_the_notice_only_when_the_product_asks(
    wordpress: WordPress,
) -> None:
    status, html = wordpress.get("two", "/")
    assert status == 200 and "acme-license-notice" not in html
    assert "/themes/acme-example/style.css" in html  # the theme enqueues its styles
    wordpress.php("update_option('acme_example_public_notice', 1);", "two")
    try:
        status, html = wordpress.get("two", "/")
        assert status == 200
        text = re.sub(r"<[^>]+>", "", html)
        assert NOTICE in text
    finally:
        wordpress.php("delete_option('acme_example_public_notice');", "two")


def test_wp_cron_revalidates_a_day_later(
    wordpress: WordPress, license_server: LicenseServer
) -> None:
    licence = license_server.new_license()
    activated = wordpress.php(
        f"echo Acme_License::client()->activate({licence['key']!r})['code'];", "two"
    )
    assert activated == "VALID"
    autoload = wordpress.php(
        'global $wpdb; echo $wpdb->get_var("SELECT autoload FROM $wpdb->options'
        " WHERE option_name = 'acme_license_acme-example'\");",
        "two",
    )
    assert autoload == "no"  # the state never loads on a visitor's page
    hook = "acme_license_revalidate_acme-example"
    scheduled = wordpress.php(
        f"do_action('init'); echo wp_next_scheduled('{hook}') - time();", "two"
    )
    assert 86_400 - 120 <= int(scheduled) <= 86_400 + 3_600 + 120  # daily + jitter
    license_server.admin("POST", f"/licenses/{licence['id']}/suspend")
    # a day passes on the site's clock; the cron event comes due and wp-cron runs it
    wordpress.php(
        "update_option('e2e_clock_offset', 90000);"
        f"wp_clear_scheduled_hook('{hook}');"
        f"wp_schedule_single_event(time() - 1, '{hook}');",
        "two",
    )
    try:
        status, _ = wordpress.get("two", "/wp-cron.php?doing_wp_cron")
        assert status == 200
        found = wordpress.php(
            "$s = Acme_License::client()->status(); echo $s['state'], ':', $s['code'];",
            "two",
        )
        assert found == "INVALID:SUSPENDED"
    finally:
        wordpress.php(
            "delete_option('e2e_clock_offset'); Acme_License::client()->deactivate();",
            "two",
        )
