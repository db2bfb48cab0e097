"""Secrets from files: every secret setting can be read from ``*_FILE``."""

from __future__ import annotations

from pathlib import Path

import pytest

from license_server.config import FILE_KEYS, ConfigError, load_master_key, resolve

SECRET = "postgresql://licenses:s3cret@db:5432/licenses"


@pytest.mark.parametrize("name", FILE_KEYS)
def test_a_secret_setting_reads_its_file(tmp_path: Path, name: str) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")  # as `echo` writes it: the newline is dropped
    settings = resolve(environ={f"LICENSE_SERVER_{name}_FILE": str(secret)})
    assert settings[name] == SECRET


@pytest.mark.parametrize("name", FILE_KEYS)
def test_the_value_and_its_file_together_are_refused(tmp_path: Path, name: str) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    environ = {
        f"LICENSE_SERVER_{name}_FILE": str(secret),
        f"LICENSE_SERVER_{name}": "redis://other",
    }
    with pytest.raises(ConfigError, match="not both"):
        resolve(environ=environ)


def test_a_missing_or_empty_secret_file_stops_startup(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        resolve(environ={"LICENSE_SERVER_DATABASE_URL_FILE": str(tmp_path / "no")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        resolve(environ={"LICENSE_SERVER_DATABASE_URL_FILE": str(tmp_path / "empty")})


def test_a_database_url_from_a_file_is_not_the_embedded_default(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    settings = resolve(environ={"LICENSE_SERVER_DATABASE_URL_FILE": str(secret)})
    assert settings["EMBEDDED"] is False
    # so a missing master key is refused rather than generated
    with pytest.raises(ConfigError, match="no master key"):
        load_master_key(settings)
