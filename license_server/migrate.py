"""Run the Alembic migrations shipped inside the package."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from license_server.keyring import Keyring


def _scripts() -> Path:
    """Return the migration scripts' folder: inside a wheel, or the checkout's."""
    packaged = Path(__file__).parent / "migrations"
    if (packaged / "env.py").is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "alembic"


MIGRATIONS = _scripts()


def alembic_config(database_url: str) -> Config:
    """Return an Alembic config for the packaged scripts and ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(
    database_url: str, revision: str = "head", keyring: Keyring | None = None
) -> None:
    """Migrate ``database_url`` up to ``revision``.

    ``keyring`` re-seals existing secrets where a migration must (0009); without
    it, a migration that finds such data builds the configured server's own.
    """
    config = alembic_config(database_url)
    if keyring is not None:
        config.attributes["keyring"] = keyring
    command.upgrade(config, revision)


@cache
def _head() -> str | None:
    """Return the head revision of the packaged scripts (read once: they are the
    installed code's, parsing them all takes about 50 ms)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def revisions(database_url: str) -> tuple[str | None, str | None]:
    """Return the database's current revision and the code's head revision."""
    head = _head()
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    return current, head
