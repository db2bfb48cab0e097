"""Fixtures: a fresh app per test on SQLite and on PostgreSQL.

Migrations run once per session per backend: SQLite copies a migrated template file
for each test; PostgreSQL uses a database created for this session and truncates its
tables after each test. ``TEST_DATABASE_URL`` selects the PostgreSQL server; without
it those tests skip, unless ``REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from hypothesis import settings
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.util import LRUCache
from werkzeug.routing import Rule

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

# The tests build about 700 apps; werkzeug compiles two URL builders per rule of each
# (Python source generated and compiled: about two thirds of an app's build). A builder
# is a pure function of its rule's text, parse trace and defaults, so apps with the same
# rules can share it; production builds one app per process and is unchanged.
_BUILDERS: dict[tuple[Any, ...], Any] = {}
_compile_builder = getattr(Rule, "_compile_builder", None)


def _shared_builder(self: Rule, append_unknown: bool = True) -> Any:
    if self.defaults or _compile_builder is None:
        return _compile_builder(self, append_unknown)  # type: ignore[misc]
    key = (self.rule, tuple(self._trace), append_unknown)
    builder = _BUILDERS.get(key)
    if builder is None:
        builder = _BUILDERS[key] = _compile_builder(self, append_unknown)
    return builder


if _compile_builder is not None:
    Rule._compile_builder = _shared_builder  # type: ignore[method-assign]

# Parsing a rule's text (its parts' regexes and weights, its trace) is most of the
# rest of adding a rule: it depends only on the text and on the map's converter
# classes, so it is parsed once per worker and each app's rule gets its parts and its
# own converters (made for its own map, as werkzeug makes them).
_PARSED: dict[tuple[Any, ...], tuple[list[Any], list[Any], list[tuple[Any, ...]]]] = {}
_parse_rule = getattr(Rule, "_parse_rule", None)


def _shared_parse(self: Rule, rule: str) -> list[Any]:
    assert self.map is not None and _parse_rule is not None
    key = (rule, tuple(self.map.converters.items()))
    cached = _PARSED.get(key)
    if cached is None:
        made: list[tuple[Any, ...]] = []
        get_converter = self.get_converter

        def recorded(name: str, converter: str, args: Any, kwargs: Any) -> Any:
            made.append((name, converter, args, kwargs))
            return get_converter(name, converter, args, kwargs)

        start = len(self._trace)
        self.get_converter = recorded  # type: ignore[method-assign]
        try:
            parts = list(_parse_rule(self, rule))
        finally:
            del self.get_converter
        _PARSED[key] = (parts, self._trace[start:], made)
        return parts
    parts, trace, made = cached
    self._trace.extend(trace)
    for name, converter, args, kwargs in made:
        self._converters[name] = self.get_converter(name, converter, args, kwargs)
        self.arguments.add(name)
    return list(parts)


if _parse_rule is not None:
    Rule._parse_rule = _shared_parse  # type: ignore[assignment,method-assign]


class _SharedTemplates(BytecodeCache):
    """Compiled templates kept across the apps of a worker (Jinja checks each
    template's source checksum before it reuses its code): every app compiled every
    template it rendered, about 500 compilations a run."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": _SharedTemplates()}

# Each app has its engine, and SQLAlchemy caches a statement's compiled form per
# dialect object: every test compiled every statement it ran again, about a seventh
# of the tier's time. Engines of the same backend and options share one dialect,
# initialised on a first connection as SQLAlchemy does it, and one compiled cache:
# as production, where the process's one engine compiles each statement once.
_DIALECTS: dict[tuple[Any, ...], tuple[Any, Any]] = {}
_make_engine = SQLAlchemy._make_engine


def _shared_dialect_engine(
    self: SQLAlchemy, bind_key: str | None, options: dict[str, Any], app: Flask
) -> Any:
    engine = _make_engine(self, bind_key, options, app)
    rest = sorted(
        (name, repr(value)) for name, value in options.items() if name != "url"
    )
    key = (type(engine.dialect), engine.url.drivername, tuple(rest))
    shared = _DIALECTS.get(key)
    if shared is None:
        first = _make_engine(self, bind_key, options, app)
        try:
            with first.connect():
                pass
        except Exception:  # noqa: BLE001 - unreachable: fail where production does
            return engine  # unshared; it fails on its first use, not in create_app
        finally:
            first.dispose()
        shared = _DIALECTS[key] = (first.dialect, LRUCache(5000))
    engine.dialect, engine._compiled_cache = shared
    return engine


SQLAlchemy._make_engine = _shared_dialect_engine  # type: ignore[method-assign]

# A fixed master key for tests only; production refuses to start without its own.
TEST_MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LW5vdC1mb3ItcHJvZCEhISE"
# argon2id at its lowest cost (1 pass, 64 KiB, 1 lane) for the staff passwords the
# tests make: real argon2id hashes, well under 1 ms instead of about 190 ms of CPU
# each. Production keeps PASSWORD_HASH_COST's default (3,65536,4): test_config.py's
# test_password_hash_cost_defaults_to_argon2s_recommendation checks it.
TEST_PASSWORD_HASH_COST = "1,64,1"
VECTORS = Path(__file__).parent / "vectors"
BACKENDS = ["sqlite", "postgresql"]


# --- test tiers ---------------------------------------------------------------------
# Every test gets one tier, without editing it: `unit` (no database, no app), `app`
# (the app in process on a test database), `system` (real processes, servers,
# browsers, long generated runs). `make test-fast` runs unit + app.
TIERS = ("unit", "app", "system")
# fixtures that make a test an app test (they build a database or an app)
APP_FIXTURES = {
    "database_url",
    "sqlite_template",
    "postgres_url",
    "app",
    "client",
    "world",
    "embedded",
    "embedded_template",
}
# fixtures that start something outside the test process (the WordPress suite's
# real WordPress, PHP and Chromium among them)
SYSTEM_FIXTURES = {
    "chromium",
    "live_server",
    "example_site",
    "browser",
    "wordpress",
    "wordpress_prerequisites",
    # moto's S3 server (tests/server/s3_support.py)
    "s3_endpoint",
}
# modules that run real servers or long generated suites (their tests are system)
SYSTEM_MODULES = {
    "test_serve",
    "test_db_restart",
    "test_seat_race_rounds",
    "test_schemathesis",
    "test_properties",
    "test_faults",
    "test_browser",
    # worker processes started, killed with SIGKILL and restarted
    "test_webhook_workers",
}


def tier_of(item: pytest.Item) -> str:
    """Return a test's tier: its own marker, else from its module and fixtures."""
    for tier in TIERS:
        if item.get_closest_marker(tier) is not None:
            return tier
    fixtures = set(getattr(item, "fixturenames", ()))
    module = getattr(item, "module", None)
    name = module.__name__.rsplit(".", 1)[-1] if module is not None else ""
    if name in SYSTEM_MODULES or fixtures & SYSTEM_FIXTURES:
        return "system"
    # a test that starts processes itself (the CLI's serve, a wheel build, ...)
    if module is not None and "subprocess" in vars(module) and _spawns(item):
        return "system"
    if fixtures & APP_FIXTURES:
        return "app"
    return "unit"


def _spawns(item: pytest.Item) -> bool:
    import inspect

    function = getattr(item, "function", None)
    try:
        source = inspect.getsource(function) if function is not None else ""
    except (OSError, TypeError):
        return False
    return "subprocess." in source or "Popen(" in source


def uses_postgres(item: pytest.Item) -> bool:
    """Return whether a test runs on PostgreSQL (its backend parameter or fixture)."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    if "postgresql" in (params.get("database_url"), params.get("world")):
        return True
    return "postgres_url" in getattr(item, "fixturenames", ())


def pytest_configure(config: pytest.Config) -> None:
    """Register the tiers (``-m unit``, ``-m "unit or app"``, ``-m system``)."""
    for tier in TIERS:
        config.addinivalue_line("markers", f"{tier}: test tier (tests/conftest.py)")
    config.addinivalue_line("markers", "postgresql: runs on PostgreSQL")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier (and PostgreSQL), so ``-m`` selects by them."""
    for item in items:
        tier = tier_of(item)
        if item.get_closest_marker(tier) is None:
            item.add_marker(getattr(pytest.mark, tier))
        if uses_postgres(item) and item.get_closest_marker("postgresql") is None:
            item.add_marker(pytest.mark.postgresql)


# The cyclic garbage collector took about a seventh of a worker's CPU: 27 full
# collections a run, each walking every object (about 430,000 by the end, 240,000 of
# them made by the collection: modules, test items), and thousands of young
# collections at Python's default threshold of 700 allocations. After collection a
# worker freezes what exists (as the WSGI entry freezes the built app: those objects
# stay, but no collection walks them again) and collects the young generation every
# 10,000 allocations: full collections drop to about 8 and the collector's CPU from
# about 7 s to 3 s of a serial run, with the same peak memory. Only the test process
# is tuned; what a test allocates is collected as before, only less often.
GC_THRESHOLD = (10_000, 10, 10)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection made, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def _may_select_system(config: pytest.Config) -> bool:
    """Return whether ``-m`` may select a system test (any other marker on or off)."""
    from _pytest.mark.expression import Expression

    expression = config.getoption("markexpr", "")
    if not expression:
        return True
    compiled = Expression.compile(expression)
    return any(
        compiled.evaluate(lambda name, others=others, **_: name == "system" or others)
        for others in (False, True)
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave out the system modules when ``-m`` selects no system test: each worker
    would import them (schemathesis, servers' helpers) only to deselect them."""
    if collection_path.stem in SYSTEM_MODULES and not _may_select_system(config):
        return True
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say how to include PostgreSQL when one answers locally but is not used."""
    if os.environ.get("TEST_DATABASE_URL") or not _local_postgres():
        return []
    return [
        "PostgreSQL answers on 127.0.0.1:5432 but TEST_DATABASE_URL is unset, so its",
        "tests skip; include them with",
        f"  TEST_DATABASE_URL={LOCAL_POSTGRES} make test",
    ]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Repeat the PostgreSQL hint after the run, where it is seen."""
    for line in pytest_report_header(terminalreporter.config):
        terminalreporter.write_line(line)


LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _local_postgres() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.3):
            return True
    except OSError:
        return False


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
    # in WAL mode already, as the app's first connection leaves it (extensions.py):
    # each test's copy then skips the switch
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.close()
    return path


@pytest.fixture(scope="session")
def embedded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance folder as ``license-server db upgrade`` leaves it on the embedded
    default (its SQLite database migrated, its master key), made once a session.
    """
    from click.testing import CliRunner

    from license_server.cli import main

    folder = tmp_path_factory.mktemp("embedded") / "instance"
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("LICENSE_SERVER_"):
                patch.delenv(name)
        patch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(folder))
        upgraded = CliRunner().invoke(main, ["db", "upgrade"])
        assert upgraded.exit_code == 0, upgraded.output
    return folder


def use_embedded(monkeypatch: pytest.MonkeyPatch, template: Path, folder: Path) -> Path:
    """Point the CLI at the embedded default in ``folder``, already upgraded: a copy
    of ``template`` (files and modes), as a ``db upgrade`` there would leave it.
    """
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(folder))
    shutil.copytree(template, folder, dirs_exist_ok=True)
    return folder


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
        "UPDATE_STATS_FLUSH_INTERVAL": 0,
        "PASSWORD_HASH_COST": TEST_PASSWORD_HASH_COST,
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
