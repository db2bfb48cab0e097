"""The OpenAPI document is written on first read, and is the one flask-smorest writes.

:class:`license_server.api.Api` queues each blueprint's documentation instead of
writing it at registration (the larger part of building an app); these tests hold
it to the document flask-smorest's own ``register_blueprint`` writes, byte for byte,
and to one writer when threads read it at once.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from flask import Flask

from license_server.api import Api, api_of
from tests.conftest import make_app

pytestmark = pytest.mark.app


def _app(tmp_path: Path, sqlite_template: Path, name: str) -> Flask:
    database = tmp_path / f"{name}.sqlite3"
    shutil.copy(sqlite_template, database)
    return make_app(f"sqlite:///{database}", tmp_path / name)


def test_the_served_document_is_the_one_written_at_registration(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lazy = _app(tmp_path, sqlite_template, "lazy")
    monkeypatch.setattr(Api, "LAZY_DOCS", False)
    eager = _app(tmp_path, sqlite_template, "eager")
    assert not api_of(eager)._pending_docs  # flask-smorest's way: already written

    served = lazy.test_client().get("/openapi.json")
    expected = eager.test_client().get("/openapi.json")
    assert served.status_code == expected.status_code == 200
    assert served.data == expected.data
    assert len(served.get_json()["paths"]) > 40
    # the docs page reads the same document (its title)
    page = lazy.test_client().get("/docs")
    assert page.status_code == 200
    assert b"License Server API" in page.data


def test_building_an_app_does_not_write_its_document(
    tmp_path: Path, sqlite_template: Path
) -> None:
    app = _app(tmp_path, sqlite_template, "app")
    api = api_of(app)
    assert api._pending_docs
    assert api._spec is not None
    assert api._spec.to_dict()["paths"] == {}
    # the routes answer before the document is written
    assert app.test_client().get("/healthz").status_code == 200
    assert api._pending_docs
    paths = api.spec.to_dict()["paths"]
    assert "/v1/validate" in paths
    assert not api._pending_docs
    # a second read writes nothing again
    assert api.spec.to_dict()["paths"] == paths


def test_threads_reading_the_document_at_once_write_it_once(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """A second reader waits for the first writer (remove the lock: A runs twice)."""
    api = api_of(_app(tmp_path, sqlite_template, "app"))
    entered: list[str] = []
    go = threading.Event()
    in_a = threading.Event()

    def step_a() -> None:
        entered.append("A")
        in_a.set()
        assert go.wait(10)

    def step_b() -> None:
        entered.append("B")

    api._pending_docs[:] = [step_a, step_b]
    first = threading.Thread(target=lambda: api.spec)
    second = threading.Thread(target=lambda: api.spec)
    first.start()
    assert in_a.wait(10)
    second.start()
    second.join(0.3)
    assert second.is_alive()  # waiting for the writer
    assert entered == ["A"]  # and not writing itself
    go.set()
    first.join(10)
    second.join(10)
    assert entered == ["A", "B"]
    assert not api._pending_docs
