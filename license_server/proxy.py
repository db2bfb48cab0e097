"""The client's address behind reverse proxies.

With ``TRUSTED_PROXIES = N`` (default 0) the server trusts the last ``N`` entries of
``X-Forwarded-For``, which the ``N`` proxies in front of it appended, and takes the
client's address from there (Werkzeug's ``ProxyFix``). With 0, the header is
ignored: anyone can send it, so it never decides whose rate limit a request uses.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    """Trust ``X-Forwarded-For`` from the configured number of proxies, if any."""
    hops = int(app.config["TRUSTED_PROXIES"])
    if hops < 0:
        from license_server.config import PREFIX, ConfigError

        raise ConfigError(f"{PREFIX}TRUSTED_PROXIES must be 0 or more, not {hops}")
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=0, x_host=0, x_port=0, x_prefix=0
        )
