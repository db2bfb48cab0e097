"""A small Flask site whose "theme" embeds the license client.

The theme's layout calls ``{{ license_notice() }}`` right after ``<body>``; the
theme options page (``/admin/theme-options``) is where the site owner pastes the
license key. Configuration comes from the environment (see README.md)::

    THEME_ISSUER=acme-themes THEME_PUBLIC_KEY='{"kty":"OKP",...}' \\
        flask --app examples/themed_site/app.py run --port 5000

This is a demo: a real site protects ``/admin`` with its own login and CSRF checks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from flask import Flask, redirect, render_template_string, request
from werkzeug.wrappers import Response

from license_client import (
    ClientConfig,
    JsonFileStore,
    LicenseClient,
    Outcome,
    Revalidator,
)
from license_client.flask import LicenseNotice

HERE = Path(__file__).parent

LAYOUT = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ title }} · {{ theme }}</title>
<style>
 body { margin: 0; font: 16px/1.5 Georgia, serif; background: #faf7f2; color: #222 }
 header { background: #1d3557; color: #fff; padding: 24px 40px }
 main { padding: 24px 40px; max-width: 720px }
 input[type=text] { width: 28em; font: 15px monospace; padding: 6px }
 .status { padding: 8px 12px; border-left: 4px solid #888; background: #fff }
 .VALID { border-color: #2a9d8f } .INVALID, .UNKNOWN { border-color: #b32d2e }
</style></head>
<body>{{ license_notice() }}
<header><h1>{{ theme }} demo site</h1><nav><a style="color:#fff" href="/">Home</a> ·
<a style="color:#fff" href="/admin/theme-options">Theme options</a></nav></header>
<main>{% block main %}{% endblock %}</main>
</body></html>"""

HOME = """{% extends layout %}{% block main %}
<h2>Welcome</h2><p>A public page of a site built with the {{ theme }} theme.</p>
{% endblock %}"""

OPTIONS = """{% extends layout %}{% block main %}
<h2>Theme options</h2>
<p class="status {{ status.state }}" id="license-status">License:
 <strong>{{ status.state }}</strong> ({{ status.code }}) for {{ status.domain }}.
 {{ status.message }}</p>
{% if outcome %}<p id="outcome">{{ outcome.message }}</p>{% endif %}
<form method="post">
 <label>License key <input type="text" name="license_key" autocomplete="off"
   placeholder="JAN-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX"></label>
 <button name="action" value="activate">Activate</button>
 <button name="action" value="refresh">Check now</button>
 <button name="action" value="deactivate">Deactivate</button>
</form>
{% endblock %}"""


def config_from_env(environ: Mapping[str, str] = os.environ) -> ClientConfig:
    """Build the client configuration from ``THEME_*`` environment variables."""
    key = environ.get("THEME_PUBLIC_KEY", "")
    if key.startswith("@"):
        key = Path(key[1:]).read_text(encoding="utf-8")
    if not key or not environ.get("THEME_ISSUER"):
        raise SystemExit("set THEME_ISSUER and THEME_PUBLIC_KEY (see README.md)")
    state = environ.get("LICENSE_STATE", str(HERE / "instance" / "license.json"))
    return ClientConfig(
        server_url=environ.get("LICENSE_SERVER_URL", "http://127.0.0.1:8000"),
        issuer=environ["THEME_ISSUER"],
        product=environ.get("THEME_PRODUCT", "jannah"),
        product_name=environ.get("THEME_NAME", "Jannah"),
        public_keys=key,
        domain=environ.get("SITE_DOMAIN", "localhost"),
        settings_url="/admin/theme-options",
        store=JsonFileStore(state),
        show_notice_publicly=environ.get("SHOW_NOTICE_PUBLICLY") == "1",
        theme_version="1.0.0",
    )


def create_app(client: LicenseClient | None = None, background: bool = True) -> Flask:
    """Create the demo site; ``client`` defaults to one built from the environment."""
    app = Flask(__name__)
    site = client or LicenseClient(config_from_env())
    LicenseNotice(site, app)
    theme = site.config.product_name
    layout = app.jinja_env.from_string(LAYOUT)

    def page(source: str, **context: object) -> str:
        return render_template_string(source, layout=layout, theme=theme, **context)

    @app.get("/")
    def home() -> str:
        return page(HOME, title="Home")

    @app.get("/admin/")
    def admin() -> Response:
        return redirect("/admin/theme-options")

    @app.route("/admin/theme-options", methods=["GET", "POST"])
    def theme_options() -> str:
        outcome: Outcome | None = None
        if request.method == "POST":
            action = request.form.get("action")
            if action == "activate":
                outcome = site.activate(request.form.get("license_key", ""))
            elif action == "refresh":
                outcome = site.refresh()
            elif action == "deactivate":
                outcome = site.deactivate()
        return page(
            OPTIONS, title="Theme options", status=site.status(), outcome=outcome
        )

    if background:
        Revalidator(site).start()
    return app


if __name__ == "__main__":
    create_app().run(port=int(os.environ.get("PORT", "5000")))
