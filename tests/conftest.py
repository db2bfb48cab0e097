"""Fixtures: a fresh app per test on SQLite and on PostgreSQL.

Migrations run once per session per backend: SQLite copies a migrated template file
for each test; PostgreSQL uses a database created for this session and truncates its
tables after each test. ``TEST_DATABASE_URL`` selects the PostgreSQL server; without
it those tests skip, unless ``REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

import atexit
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from license_server import create_app, migrate
from license_server import runtime as runtimes
from license_server.config import normalise_database_url
from license_server.extensions import db
from license_server.runtime import of as runtime_of
from license_server.services.vendors import NewVendor, create_vendor

# CI replays the same examples on every run, so that a run is red only for a change
# of code; locally each run draws new examples and may find new failures.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# A fixed master key for tests only; production refuses to start without its own.
TEST_MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LW5vdC1mb3ItcHJvZCEhISE"
VECTORS = Path(__file__).parent / "vectors"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def no_flush_at_exit() -> Iterator[None]:
    """Drop the buffers' exit flushes: the test databases are gone by then."""
    yield
    atexit.unregister(runtimes.flush_all_at_exit)


def postgres_url_or_skip() -> str:
    """Return ``TEST_DATABASE_URL``, or skip (fail under ``REQUIRE_POSTGRES=1``)."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        reason = "PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + "; REQUIRE_POSTGRES=1 forbids skipping")
        pytest.skip(reason)
    return normalise_database_url(url)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this session's own, migrated once."""
    base = make_url(postgres_url_or_skip())
    name = f"ls_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - report any connection failure
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"cannot use PostgreSQL at {base!r}: {exc}")
        pytest.skip(f"PostgreSQL at {base!r} is not reachable: {exc}")
    url = base.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file to copy for each test."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _truncate(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(table.name for table in db.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """Each test's own empty, migrated database, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    _truncate(url)


def make_app(database_url: str, instance: Path, **extra: Any) -> Flask:
    """Build an app for tests on ``database_url``."""
    config = {
        "DATABASE_URL": database_url,
        "MASTER_KEY": TEST_MASTER_KEY,
        "INSTANCE_PATH": str(instance),
        "TESTING": True,
        "USAGE_FLUSH_INTERVAL": 0,
        **extra,
    }
    return create_app(config)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A fresh app on a fresh database."""
    application = make_app(database_url, tmp_path / "instance")
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@dataclass
class VendorFixture:
    """A vendor created through the service, with its admin headers."""

    new: NewVendor
    headers: dict[str, str]

    @property
    def slug(self) -> str:
        return self.new.vendor.slug


def new_vendor(app: Flask, name: str = "Acme Themes") -> VendorFixture:
    """Create a vendor in ``app``'s database."""
    with app.app_context():
        created = create_vendor(
            keyring=runtime_of(app).keyring, name=name, now=datetime.now(UTC)
        )
        created.vendor.slug  # load before the session closes  # noqa: B018
    return VendorFixture(created, {"Authorization": f"Bearer {created.api_key}"})


@pytest.fixture
def vendor(app: Flask) -> VendorFixture:
    """A vendor with a write-scoped API key."""
    return new_vendor(app)


def create_product(
    client: FlaskClient, vendor: VendorFixture, **fields: Any
) -> dict[str, Any]:
    """Create a product through the admin API; return its JSON."""
    body = {"slug": "jannah", "name": "Jannah", "key_prefix": "JAN", **fields}
    response = client.post("/v1/admin/products", json=body, headers=vendor.headers)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def create_license(
    client: FlaskClient, vendor: VendorFixture, **fields: Any
) -> dict[str, Any]:
    """Issue a license through the admin API; return its JSON (with ``key``)."""
    body = {"product": "jannah", **fields}
    response = client.post("/v1/admin/licenses", json=body, headers=vendor.headers)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


@pytest.fixture
def product(client: FlaskClient, vendor: VendorFixture) -> dict[str, Any]:
    """A one-domain product ``jannah``."""
    return create_product(client, vendor)


@pytest.fixture
def license(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> dict[str, Any]:
    """A license of ``jannah``, with its key."""
    return create_license(client, vendor)


def public_call(
    client: FlaskClient, endpoint: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    """POST a public endpoint; return status and JSON."""
    response = client.post(f"/v1/{endpoint}", json=body)
    return response.status_code, response.get_json()
