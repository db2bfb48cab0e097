"""The embedded instance is private (issue 17, item 2): folder 0700, database,
WAL and SHM files 0600, and a database others can read stops the start."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from license_server import create_app
from license_server.cli import main
from license_server.config import ConfigError


def _env(monkeypatch: pytest.MonkeyPatch, instance: Path) -> None:
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(instance))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_embedded_database_and_its_wal_files_are_private(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    instance = tmp_path / "instance"
    _env(monkeypatch, instance)
    old = os.umask(0o022)
    try:
        assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
        database = instance / "license_server.sqlite3"
        with sqlite3.connect(database) as connection:  # a writer in WAL mode
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE probe (x)")
            assert (instance / "license_server.sqlite3-wal").exists()
            for name in ("-wal", "-shm"):
                assert _mode(Path(f"{database}{name}")) == 0o600, name
        assert _mode(instance) == 0o700
        assert _mode(database) == 0o600
    finally:
        os.umask(old)


def test_a_database_others_can_read_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    instance = tmp_path / "instance"
    _env(monkeypatch, instance)
    create_app()
    database = instance / "license_server.sqlite3"
    database.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        create_app()


def test_an_old_open_instance_folder_is_made_private(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    _env(monkeypatch, instance)
    create_app()
    assert _mode(instance) == 0o700
