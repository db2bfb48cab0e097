"""The URL builders the test apps share (tests/conftest.py) are werkzeug's own.

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
