"""Last of the WordPress suite (modules run in name order): nothing left 127.0.0.1.

Every HTTP request WordPress made during the whole suite went to 127.0.0.1 (the
licence server); core's own calls elsewhere (api.wordpress.org, feeds, its loopback
checks on the site's public name) were stopped before any connection. The browser
loaded only the two site names, which its resolver maps to 127.0.0.1.
"""

from __future__ import annotations

import re

from tests.wordpress.conftest import Browser
from tests.wordpress.harness import WordPress


def test_no_request_left_loopback(browser: Browser, wordpress: WordPress) -> None:
    made = wordpress.http_requests()
    sent = [r["url"] for r in made if r["outcome"] == "sent"]
    assert any("/v1/validate" in url for url in sent)
    assert all(url.startswith("http://127.0.0.1:") for url in sent), sent
    # core's own calls (api.wordpress.org, its loopback checks) were stopped before
    # any connection, by WP_HTTP_BLOCK_EXTERNAL or by the harness's guard
    stopped = {
        r["outcome"] for r in made if not r["url"].startswith("http://127.0.0.1:")
    }
    assert stopped <= {"blocked", "refused"}, stopped
    assert browser.served, "the browser loaded pages"
    assert all(
        re.match(r"http://shop-(one|two)\.com:\d+/", url) for url in browser.served
    )
