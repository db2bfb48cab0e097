"""The notice (PROTOCOL §6), the WSGI middleware and the Flask extension."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from flask import Flask, render_template_string
from werkzeug.test import Client

from license_client import ConfigInvalid, LicenseClient, NoticeMiddleware
from license_client.flask import LicenseNotice
from tests.client.conftest import FakeServer, fake_client

KEY = "JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P"
TEXT = (
    "Jannah License is not validated, Go to the theme options page to validate the "
    "license, You need a single license for each domain name."
)
PAGE = b'<!doctype html><html><head></head><BODY class="home"><p>Hi</p></body></html>'


def html_app(
    body: bytes = PAGE, content_type: str = "text/html; charset=utf-8", **extra: str
) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        headers += list(extra.items())
        start_response("200 OK", headers)
        return [body]

    return app


def test_notice_text_and_link_exactly(fake_server: FakeServer) -> None:
    notice = fake_client(fake_server).notice()
    assert notice is not None and notice.text == TEXT
    assert (
        'Jannah License is not validated, Go to the <a href="/admin/theme-options">'
        "theme options page</a> to validate the license, You need a single license "
        "for each domain name.</div>"
    ) in notice.html


def test_notice_is_escaped(fake_server: FakeServer) -> None:
    site = fake_client(
        fake_server,
        product_name='<script>alert("x")</script> & Co',
        settings_url='https://shop.example.com/wp-admin/?page=theme&x="><b>',
    )
    notice = site.notice()
    assert notice is not None
    assert notice.text.startswith('<script>alert("x")</script> & Co License')
    assert "<script>" not in notice.html and "<b>" not in notice.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in notice.html
    assert (
        'href="https://shop.example.com/wp-admin/?page=theme&amp;x=&quot;&gt;&lt;b&gt;"'
        in notice.html
    )


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,x", "//evil.com/x", "", "a b"]
)
def test_settings_url_must_be_a_safe_link(fake_server: FakeServer, url: str) -> None:
    with pytest.raises(ConfigInvalid):
        fake_client(fake_server, settings_url=url)


def test_public_notice_rules(fake_server: FakeServer) -> None:
    private = fake_client(fake_server)
    assert private.notice() is not None and private.notice(public=True) is None
    public = fake_client(fake_server, show_notice_publicly=True)
    assert public.notice(public=True) is not None
    for dev in ("localhost:8000", "shop.test", "192.168.1.20", "staging.shop.com"):
        site = fake_client(
            fake_server,
            domain=dev,
            show_notice_publicly=True,
            dev_patterns=("staging.*",),
        )
        assert site.development and site.notice(public=True) is None
        assert site.notice() is not None  # admins still see it
    assert public.activate(KEY).ok
    assert public.notice(public=True) is None and public.notice() is None


def call(
    app: Any, path: str = "/", method: str = "GET"
) -> tuple[str, dict[str, str], bytes]:
    response = Client(app).open(path, method=method)
    return response.status, dict(response.headers), response.get_data()


def test_middleware_injects_after_body_on_admin_pages(fake_server: FakeServer) -> None:
    site = fake_client(fake_server)
    app = NoticeMiddleware(html_app(), site)
    _, headers, body = call(app, "/admin/theme-options")
    notice = site.notice()
    assert notice is not None
    assert body == PAGE.replace(
        b'<BODY class="home">', b'<BODY class="home">' + notice.html.encode()
    )
    assert headers["Content-Length"] == str(len(body))
    assert call(app, "/")[2] == PAGE  # public page, not configured to show it
    assert call(app, "/administrator")[2] == PAGE  # whole path segments only


def test_middleware_on_public_pages_when_configured(fake_server: FakeServer) -> None:
    site = fake_client(fake_server, show_notice_publicly=True)
    app = NoticeMiddleware(html_app(), site)
    assert TEXT.split(",")[0].encode() in call(app, "/blog/post")[2]
    assert site.activate(KEY).ok
    assert call(app, "/blog/post")[2] == PAGE
    assert call(app, "/admin/")[2] == PAGE


@pytest.mark.parametrize(
    "app",
    [
        html_app(b'{"a": 1}', "application/json"),
        html_app(PAGE, "text/html", **{"Content-Encoding": "gzip"}),
        html_app(b"<p>no body tag</p>"),
    ],
    ids=["json", "gzip", "no-body-tag"],
)
def test_middleware_leaves_other_answers_alone(
    fake_server: FakeServer, app: Callable[..., Iterable[bytes]]
) -> None:
    expected = call(app, "/admin")
    assert call(NoticeMiddleware(app, fake_client(fake_server)), "/admin") == expected


def test_middleware_head_and_streaming(fake_server: FakeServer) -> None:
    closed = []

    class Streamed:
        def __init__(self, start_response: Callable[..., Any]) -> None:
            self.start_response = start_response

        def __iter__(self) -> Iterator[bytes]:
            self.start_response("200 OK", [("Content-Type", "text/html")])
            yield b"<html><body>"
            yield b"<p>streamed</p></body></html>"

        def close(self) -> None:
            closed.append(True)

    site = fake_client(fake_server)
    app = NoticeMiddleware(lambda environ, start: Streamed(start), site)
    _, headers, body = call(app, "/admin/page")
    assert body.startswith(b'<html><body><div class="license-client-notice"')
    assert body.endswith(b"<p>streamed</p></body></html>")
    assert headers["Content-Length"] == str(len(body)) and closed == [True]
    assert b"license-client-notice" not in call(app, "/admin/page", method="HEAD")[2]


def test_middleware_passes_big_pages_through(fake_server: FakeServer) -> None:
    page = b"<html><body>" + b"x" * 5000 + b"</body></html>"
    app = NoticeMiddleware(html_app(page), fake_client(fake_server), max_buffer=1000)
    assert call(app, "/admin")[2] == page


def flask_site(site: LicenseClient, **options: Any) -> Flask:
    app = Flask(__name__)
    template = "<html><body>{{ license_notice() }}<main>{{ page }}</main></body></html>"

    @app.get("/")
    def home() -> str:
        return render_template_string(template, page="home")

    @app.get("/admin/options")
    def options_page() -> str:
        return render_template_string(template, page="options")

    LicenseNotice(site, app, **options)
    return app


def test_flask_template_helper(fake_server: FakeServer) -> None:
    site = fake_client(fake_server)
    app = flask_site(site)
    notice = site.notice()
    assert notice is not None
    assert notice.html in app.test_client().get("/admin/options").get_data(as_text=True)
    assert "license-client-notice" not in app.test_client().get("/").get_data(
        as_text=True
    )
    assert site.activate(KEY).ok
    page = app.test_client().get("/admin/options").get_data(as_text=True)
    assert "license-client-notice" not in page and "<main>options</main>" in page


def test_flask_injection_mode(fake_server: FakeServer) -> None:
    site = fake_client(fake_server, show_notice_publicly=True)
    app = Flask(__name__)
    app.get("/")(lambda: "<html><body><p>plain</p></body></html>")
    LicenseNotice(site, app, inject=True)
    assert TEXT.split(",")[0] in app.test_client().get("/").get_data(as_text=True)


def test_flask_init_app_factory_pattern(fake_server: FakeServer) -> None:
    notice = LicenseNotice(admin_paths=["/dashboard/"])
    app = Flask(__name__)
    app.get("/dashboard/x")(
        lambda: render_template_string("<body>{{ license_notice() }}</body>")
    )
    notice.init_app(app, fake_client(fake_server))
    assert "theme options page" in app.test_client().get("/dashboard/x").get_data(
        as_text=True
    )
    with pytest.raises(ValueError, match="needs a LicenseClient"):
        LicenseNotice().init_app(Flask(__name__))
