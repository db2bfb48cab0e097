"""Backups: one consistent dump of the database and a manifest, and their restore.

A backup is a tar file of two members: ``manifest.json`` (format, time, backend,
schema revision, each table's row count, the dump's SHA-256, and a *key check*) and
the dump itself: ``pg_dump --format=custom`` on PostgreSQL, taken in an exported
snapshot so the counts and the dump see the same instant, or a copy made with
SQLite's online backup API. The master key is never inside: without it, every
signing key and license key in the dump stays sealed for ever. The key check is a
keyed hash of a fixed text under the master key, so a restore can tell at once
whether it was given the key the backup was made under, and reveals nothing else.
A restore goes into an empty database only and checks every count afterwards.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import URL, make_url

from license_server.keyring import Keyring

FORMAT = "license-server-backup/1"
MANIFEST = "manifest.json"
DUMPS = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
_KEY_CHECK_TEXT = "license-server backup key check v1"


class BackupError(RuntimeError):
    """A backup cannot be made or restored; the message says why."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds, written beside the dump."""

    format: str
    created_at: str
    backend: str
    revision: str | None
    tables: dict[str, int]
    dump: str
    sha256: str
    key_check: str
    master_key: str = "NOT INCLUDED: keep it apart; without it nothing sealed opens"


def key_check(keyring: Keyring) -> str:
    """Return the master key's check value (a keyed hash of a fixed text)."""
    return keyring.client_address(_KEY_CHECK_TEXT)


def backend_of(database_url: str) -> str:
    """Return ``postgresql`` or ``sqlite`` for a SQLAlchemy URL, or refuse it."""
    backend = make_url(database_url).get_backend_name()
    if backend not in DUMPS:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {backend}")
    return backend


def _libpq_env(url: URL) -> dict[str, str]:
    """Connection settings for pg_dump/pg_restore, kept out of their argv."""
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not installed (Debian: apt-get install postgresql-client)"
        )
    return found


def _run(argv: list[str], env: Mapping[str, str]) -> None:
    done = subprocess.run(  # noqa: S603 - fixed tools, arguments we built
        argv, env=dict(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _counts(connection: Connection) -> tuple[dict[str, int], str | None]:
    tables = sorted(inspect(connection).get_table_names())
    counts = {
        name: int(
            connection.execute(
                select(func.count()).select_from(table(name))
            ).scalar_one()
        )
        for name in tables
    }
    revision = None
    if "alembic_version" in tables:
        revision = connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).scalar()
    return counts, revision


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy a live SQLite database page by page (consistent while others write)."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _dump(
    database_url: str, backend: str, target: Path
) -> tuple[dict[str, int], str | None]:
    if backend == "sqlite":
        _sqlite_copy(_sqlite_path(database_url), target)
        engine = create_engine(f"sqlite:///{target}")
        with engine.connect() as connection:
            found = _counts(connection)
        engine.dispose()
        return found
    url = make_url(database_url)
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as connection:
            # the counts and pg_dump read one snapshot: the one this transaction holds
            snapshot = connection.execute(
                text("SELECT pg_export_snapshot()")
            ).scalar_one()
            found = _counts(connection)
            argv = [
                _tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
            ]
            argv += [f"--snapshot={snapshot}", f"--file={target}"]
            _run(argv, _libpq_env(url))
    finally:
        engine.dispose()
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def create_backup(
    *, database_url: str, keyring: Keyring, out: Path, now: datetime
) -> Manifest:
    """Write a backup of the database to ``out`` (mode 0600, never overwritten)."""
    backend = backend_of(database_url)
    with tempfile.TemporaryDirectory(prefix="license-server-backup-") as scratch:
        dump = Path(scratch) / DUMPS[backend]
        tables, revision = _dump(database_url, backend, dump)
        manifest = Manifest(
            format=FORMAT,
            created_at=now.astimezone(UTC).isoformat(timespec="seconds"),
            backend=backend,
            revision=revision,
            tables=tables,
            dump=dump.name,
            sha256=_sha256(dump),
            key_check=key_check(keyring),
        )
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise BackupError(
                f"{out} exists; a backup never overwrites a file"
            ) from exc
        with (
            os.fdopen(fd, "wb") as handle,
            tarfile.open(fileobj=handle, mode="w") as tar,
        ):
            body = json.dumps(asdict(manifest), indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), 0o600, int(now.timestamp())
            tar.addfile(info, io.BytesIO(body))
            tar.add(dump, arcname=dump.name)
    return manifest


def read_manifest(archive: Path) -> Manifest:
    """Read and check a backup's manifest."""
    with tarfile.open(archive, mode="r") as tar:
        return _manifest(tar)


def _manifest(tar: tarfile.TarFile) -> Manifest:
    try:
        member = tar.extractfile(MANIFEST)
    except KeyError as exc:
        raise BackupError("not a license-server backup: no manifest.json") from exc
    if member is None:
        raise BackupError("not a license-server backup: manifest.json is not a file")
    data = json.loads(member.read())
    if data.get("format") != FORMAT:
        raise BackupError(
            f"unknown backup format {data.get('format')!r}, need {FORMAT}"
        )
    manifest = Manifest(**data)
    if manifest.dump != DUMPS.get(manifest.backend):
        raise BackupError(
            f"a {manifest.backend} backup with a dump named {manifest.dump}"
        )
    return manifest


@contextmanager
def _extracted(archive: Path) -> Iterator[tuple[Manifest, Path]]:
    """Yield the manifest and the checked dump, unpacked to a private folder."""
    with tempfile.TemporaryDirectory(prefix="license-server-restore-") as scratch:
        with tarfile.open(archive, mode="r") as tar:
            manifest = _manifest(tar)
            source = tar.extractfile(manifest.dump)
            if source is None:
                raise BackupError(f"the backup has no {manifest.dump}")
            dump = (
                Path(scratch) / manifest.dump
            )  # a name we chose, never the tar's path
            with dump.open("wb") as handle:
                shutil.copyfileobj(source, handle)
        if _sha256(dump) != manifest.sha256:
            raise BackupError("the dump does not match its manifest's SHA-256: corrupt")
        yield manifest, dump


def restore_backup(*, database_url: str, keyring: Keyring, archive: Path) -> Manifest:
    """Restore a backup into the empty database at ``database_url``; check it."""
    backend = backend_of(database_url)
    with _extracted(archive) as (manifest, dump):
        if manifest.backend != backend:
            raise BackupError(f"a {manifest.backend} backup cannot go into {backend}")
        if manifest.key_check != key_check(keyring):
            raise BackupError(
                "this backup was made under another master key: configure the key the "
                "backed-up server used (nothing sealed in it opens with this one)"
            )
        engine = create_engine(database_url)
        try:
            with engine.connect() as connection:
                present = inspect(connection).get_table_names()
            if present:
                raise BackupError(
                    f"the target database is not empty ({len(present)} tables): "
                    "restore into a new, empty database"
                )
            if backend == "sqlite":
                engine.dispose()
                _sqlite_copy(dump, _sqlite_path(database_url))
            else:
                url = make_url(database_url)
                argv = [_tool("pg_restore"), "--no-owner", "--no-privileges"]
                argv += ["--exit-on-error", "--single-transaction"]
                argv += [f"--dbname={url.database}", str(dump)]
                _run(argv, _libpq_env(url))
            with engine.connect() as connection:
                tables, revision = _counts(connection)
        finally:
            engine.dispose()
    if (tables, revision) != (manifest.tables, manifest.revision):
        raise BackupError(
            f"restored rows do not match the manifest: {tables} != {manifest.tables}"
        )
    return manifest
