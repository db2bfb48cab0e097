"""The migrations build the schema from nothing, and match the models exactly."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from license_server import migrate
from license_server.extensions import db
from tests.conftest import postgres_url_or_skip


@contextmanager
def _empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    base = make_url(postgres_url_or_skip())
    name = f"ls_mig_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_head_on_empty_database_matches_models(
    backend: str, tmp_path: Path
) -> None:
    with _empty_database(backend, tmp_path) as url:
        _check_upgrade_matches_models(url)


def _check_upgrade_matches_models(url: str) -> None:
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert tables >= {table.name for table in db.metadata.sorted_tables}
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True}
            )
            assert compare_metadata(context, db.metadata) == []
    finally:
        engine.dispose()
