"""What the test apps share (tests/conftest.py) is werkzeug's and SQLAlchemy's own.

werkzeug compiles two builder functions per rule of each app; the tests' apps, all
with the same rules, share them. Each shared builder must be the function werkzeug
compiles for that rule, and build the same URLs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests import conftest
from tests.conftest import make_app

pytestmark = pytest.mark.app


def test_shared_builders_are_the_ones_werkzeug_compiles(
    tmp_path: Path, sqlite_template: Path
) -> None:
    apps = []
    for name in ("one", "two"):
        database = tmp_path / f"{name}.sqlite3"
        shutil.copy(sqlite_template, database)
        apps.append(make_app(f"sqlite:///{database}", tmp_path / name))
    one, two = ({r.rule: r for r in app.url_map.iter_rules()} for app in apps)
    assert one.keys() == two.keys() and len(one) > 100
    compile_builder = conftest._compile_builder
    assert compile_builder is not None
    shared = 0
    for text, rule in one.items():
        for unknown in (False, True):
            fresh = compile_builder(rule, unknown).__code__
            built = rule._compile_builder(unknown)
            code = built.__code__
            assert (code.co_code, code.co_consts, code.co_varnames) == (
                fresh.co_code,
                fresh.co_consts,
                fresh.co_varnames,
            ), text
            shared += built is two[text]._compile_builder(unknown)
        values = {name: "x" for name in rule.arguments}
        if not rule.defaults:
            assert rule.build(values) == two[text].build(values)
    assert shared > 200  # the two apps' rules share their builders


def test_shared_parses_are_the_ones_werkzeug_makes(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """Each rule's parts, trace and converters are what werkzeug's parse gives, and
    its converters are made for its own map."""
    database = tmp_path / "one.sqlite3"
    shutil.copy(sqlite_template, database)
    app = make_app(f"sqlite:///{database}", tmp_path / "one")
    parse_rule = conftest._parse_rule
    assert parse_rule is not None
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 100
    converted = 0
    for rule in rules:
        fresh = rule.empty()
        fresh.map = app.url_map
        fresh._trace, fresh._converters = [], {}
        parts = list(parse_rule(fresh, fresh.rule))
        assert rule._parts[1:] == parts, rule.rule
        assert rule._trace == [(False, "|"), *fresh._trace], rule.rule
        mine = {k: (type(c), c.regex) for k, c in rule._converters.items()}
        assert mine == {k: (type(c), c.regex) for k, c in fresh._converters.items()}
        assert all(c.map is app.url_map for c in rule._converters.values())
        converted += bool(rule._converters)
    assert converted > 20


def test_engines_share_their_dialect_and_cache_not_their_database(
    tmp_path: Path, sqlite_template: Path
) -> None:
    from sqlalchemy import text

    from license_server.extensions import db

    engines = []
    for name in ("one", "two"):
        database = tmp_path / f"{name}.sqlite3"
        shutil.copy(sqlite_template, database)
        app = make_app(f"sqlite:///{database}", tmp_path / name)
        with app.app_context():
            engines.append(db.engine)
    one, two = engines
    assert one.dialect is two.dialect
    assert one._compiled_cache is two._compiled_cache
    assert one.url != two.url
    with one.begin() as connection:
        connection.execute(text("CREATE TABLE only_in_one (x INTEGER)"))
    with two.connect() as connection:
        tables = connection.execute(
            text("SELECT name FROM sqlite_master WHERE name = 'only_in_one'")
        ).all()
    assert tables == []
    # the foreign keys pragma (extensions.py) is still set on each engine's connections
    with two.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    for engine in engines:
        engine.dispose()
