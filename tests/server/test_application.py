"""The app's Flask class (license_server.application): lazy sessions, sync hooks."""

from __future__ import annotations

from typing import Any

import flask.app
import pytest
from flask import session

from license_server.application import CookieSessions, LicenseServerApp


def _app() -> LicenseServerApp:
    app = LicenseServerApp(__name__)
    app.secret_key = "test-only-secret"

    @app.get("/set")
    def set_value() -> str:
        session["who"] = "ada"
        return "set"

    @app.get("/get")
    def get_value() -> str:
        return str(session.get("who"))

    return app


def test_a_request_without_cookies_builds_no_serializer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _app()
    built: list[int] = []
    original = CookieSessions.get_signing_serializer

    def counting(self: CookieSessions, app_: Any) -> Any:
        built.append(1)
        return original(self, app_)

    monkeypatch.setattr(CookieSessions, "get_signing_serializer", counting)
    client = app.test_client()
    assert client.get("/get").get_data(as_text=True) == "None"
    assert built == []  # opened empty, nothing to save
    # a session written without a cookie is saved and read back as Flask would
    assert client.get("/set").get_data(as_text=True) == "set"
    assert built == [1]
    assert client.get("/get").get_data(as_text=True) == "ada"
    assert len(built) == 2  # the cookie was verified on the way in


def test_without_a_secret_key_the_session_stays_unusable() -> None:
    app = LicenseServerApp(__name__)

    @app.get("/set")
    def set_value() -> str:
        session["who"] = "ada"
        return "set"

    assert app.test_client().get("/set").status_code == 500  # Flask's NullSession


def test_sync_hooks_are_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app()
    asked: list[Any] = []
    original = flask.app.iscoroutinefunction

    def counting(func: Any) -> bool:
        asked.append(func)
        return original(func)

    monkeypatch.setattr(flask.app, "iscoroutinefunction", counting)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/get").status_code == 200
    view = app.view_functions["get_value"]
    assert asked.count(view) == 1

    async def later() -> None:  # not remembered: asked again on every call
        return None

    for _ in range(2):
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(later)
    assert asked.count(later) == 2
