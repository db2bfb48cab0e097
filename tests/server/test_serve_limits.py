"""``serve`` refuses rate limits that several processes would each count alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from license_server.cli import main
from tests.conftest import TEST_MASTER_KEY


@pytest.fixture
def configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_template: Path
) -> Path:
    """A configured (not embedded) server on a migrated database."""
    database = tmp_path / "db.sqlite3"
    shutil.copy(sqlite_template, database)
    for name in list(__import__("os").environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("LICENSE_SERVER_MASTER_KEY", TEST_MASTER_KEY)
    return database


def test_memory_limits_with_several_workers_are_refused(configured: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--workers", "2", "--port", "1"])
    assert result.exit_code == 1
    assert "counted per process" in result.output
    assert "LICENSE_SERVER_RATELIMIT_STORAGE_URI" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "setting",
    [
        {"LICENSE_SERVER_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"},
        {"LICENSE_SERVER_RATELIMIT_ENABLED": "0"},
    ],
    ids=["redis", "limits-off"],
)
def test_shared_or_disabled_limits_pass_the_check(
    configured: Path, monkeypatch: pytest.MonkeyPatch, setting: dict[str, str]
) -> None:
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    # a server name that is not installed stops serve right after the check
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    result = CliRunner().invoke(main, ["serve", "--workers", "2", "--port", "1"])
    assert result.exit_code == 1
    assert "is not installed" in result.output
