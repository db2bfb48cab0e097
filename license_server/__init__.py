"""Theme licensing server: license keys, domain activations, signed domain tokens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application: configuration, runtime, extensions, blueprints."""
    from license_server import api, errors, extensions, mail, proxy, runtime
    from license_server.api import fastlane, throttle
    from license_server.application import LicenseServerApp
    from license_server.config import load_config

    app = LicenseServerApp(__name__, instance_relative_config=False)
    keyring = load_config(app, config)
    limits = throttle.check_settings(app.config)
    engine = extensions.init_app(app)
    runtime.build(app, keyring, engine, limits)
    mail.register(engine, keyring)
    errors.init_app(app)
    api.init_app(app)
    fastlane.install(app)  # inside ProxyFix: it sees the client's address
    proxy.init_app(app)
    return app
