"""Configuration: the master key rules (no default secrets anywhere)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from license_server import create_app
from license_server.config import ConfigError, resolve
from license_server.keyring import decode_master_key, new_master_key
from tests.conftest import TEST_MASTER_KEY


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(f"LICENSE_SERVER_{name}", value)


def test_embedded_default_generates_a_private_key_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _env(monkeypatch, INSTANCE_PATH=str(tmp_path))
    app = create_app()
    key_file = tmp_path / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert app.config["EMBEDDED"] is True
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("license_server.sqlite3")
    first = key_file.read_text()
    create_app()
    assert key_file.read_text() == first


def test_world_readable_key_file_stops_startup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text(new_master_key())
    key_file.chmod(0o644)
    _env(monkeypatch, INSTANCE_PATH=str(tmp_path), MASTER_KEY_FILE=str(key_file))
    with pytest.raises(ConfigError, match="chmod 600"):
        create_app()


def test_missing_key_file_stops_startup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _env(monkeypatch, MASTER_KEY_FILE=str(tmp_path / "absent.key"))
    with pytest.raises(ConfigError, match="does not exist"):
        create_app()


def test_production_database_without_secret_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _env(
        monkeypatch,
        INSTANCE_PATH=str(tmp_path),
        DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test",
    )
    with pytest.raises(ConfigError, match="no master key"):
        create_app()
    assert not (tmp_path / "master.key").exists()


@pytest.mark.parametrize(
    "bad",
    ["short", "!!!!", new_master_key()[:-4]],
    ids=["short", "not-base64url", "28-bytes"],  # the same ids in every xdist worker
)
def test_malformed_master_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bad: str
) -> None:
    _env(monkeypatch, INSTANCE_PATH=str(tmp_path), MASTER_KEY=bad)
    with pytest.raises(ConfigError):
        create_app()


def test_environment_then_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, MAX_CONTENT_LENGTH="1000", MASTER_KEY=TEST_MASTER_KEY)
    assert resolve()["MAX_CONTENT_LENGTH"] == 1000
    assert resolve({"MAX_CONTENT_LENGTH": 5})["MAX_CONTENT_LENGTH"] == 5
    _env(monkeypatch, MAX_CONTENT_LENGTH="lots")
    with pytest.raises(ConfigError, match="integer"):
        resolve()


def test_new_master_key_is_32_random_bytes() -> None:
    keys = {new_master_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(decode_master_key(key)) == 32 for key in keys)


def test_password_hash_cost_defaults_to_argon2s_recommendation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from argon2 import extract_parameters

    from license_server.runtime import of

    _env(monkeypatch, INSTANCE_PATH=str(tmp_path))
    made = of(create_app()).password_hasher.hash("correct horse battery staple")
    default = extract_parameters(made)
    assert (default.time_cost, default.memory_cost, default.parallelism) == (
        3,
        65536,
        4,
    )
    _env(monkeypatch, INSTANCE_PATH=str(tmp_path), PASSWORD_HASH_COST="2,1024,2")
    cheap = extract_parameters(of(create_app()).password_hasher.hash("x" * 12))
    assert (cheap.time_cost, cheap.memory_cost, cheap.parallelism) == (2, 1024, 2)
    assert cheap.type.name == "ID"  # still argon2id, only cheaper


@pytest.mark.parametrize("value", ["1,64", "a,b,c", "0,64,1", "1,8,2", "1,64,0"])
def test_malformed_password_hash_cost_stops_startup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    _env(monkeypatch, INSTANCE_PATH=str(tmp_path), PASSWORD_HASH_COST=value)
    with pytest.raises(ConfigError, match="PASSWORD_HASH_COST"):
        create_app()
