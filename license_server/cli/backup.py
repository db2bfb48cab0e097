"""``license-server backup``, ``restore`` and ``master-key rotate``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click

from license_server.cli import (
    _app,
    _app_context,
    _safe_url,
    emit,
    fail,
    json_option,
    main,
)
from license_server.cli.basics import master_key
from license_server.keyring import Keyring, MasterKeyError, decode_master_key
from license_server.runtime import of as runtime_of

REMINDER = """\
!!
!! The master key is NOT in this backup, and must never be stored beside it.
!! Without the master key this database ran under, no signing key and no license
!! key in the backup can ever be decrypted: the backup is then worthless.
!! Keep the master key in a secrets manager, apart from the backups.
!!"""


@main.command("backup")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file to write (never overwritten; mode 0600).",
)
@json_option
def backup(out: Path, as_json: bool) -> None:
    """Write a consistent backup of the database (a dump and a manifest)."""
    from license_server.services.backup import BackupError, create_backup

    app = _app()
    try:
        manifest = create_backup(
            database_url=app.config["SQLALCHEMY_DATABASE_URI"],
            keyring=runtime_of(app).keyring,
            out=out,
            now=datetime.now(UTC),
        )
    except BackupError as exc:
        fail(str(exc), "BACKUP_FAILED")
    rows = sum(manifest.tables.values())
    payload = {
        "file": str(out),
        "database": _safe_url(app),
        "backend": manifest.backend,
        "revision": manifest.revision,
        "created_at": manifest.created_at,
        "tables": len(manifest.tables),
        "rows": rows,
        "key_check": manifest.key_check,
        "master_key_included": False,
    }

    def lines() -> Iterator[str]:
        yield (
            f"backup of {payload['database']} written to {out}: {manifest.backend}, "
            f"schema {manifest.revision}, {len(manifest.tables)} tables, {rows} rows, "
            f"master key check {manifest.key_check}"
        )

    emit(as_json, payload, lines)
    click.echo(REMINDER, err=True)


@main.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def restore(archive: Path, as_json: bool) -> None:
    """Restore a backup into the configured, empty database."""
    from license_server import migrate
    from license_server.services.backup import BackupError, restore_backup

    app = _app()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        manifest = restore_backup(
            database_url=url, keyring=runtime_of(app).keyring, archive=archive
        )
    except BackupError as exc:
        fail(str(exc), "RESTORE_FAILED")
    _, head = migrate.revisions(url)
    upgrade = manifest.revision != head
    payload = {
        "archive": str(archive),
        "created_at": manifest.created_at,
        "database": _safe_url(app),
        "tables": len(manifest.tables),
        "rows": sum(manifest.tables.values()),
        "revision": manifest.revision,
        "needs_upgrade": upgrade,
        "next": (["license-server db upgrade"] if upgrade else [])
        + ["license-server events verify"],
    }

    def lines() -> Iterator[str]:
        yield (
            f"restored {archive} (made {manifest.created_at}) into "
            f"{payload['database']}: {payload['rows']} rows in "
            f"{payload['tables']} tables"
        )
        if upgrade:
            yield (
                f"the backup is at schema {manifest.revision}, this server needs "
                f"{head}: run `license-server db upgrade` next"
            )
        yield "next: `license-server events verify`, then start the servers"

    emit(as_json, payload, lines)


def _read_old_key(path: Path | None) -> bytes:
    try:
        if path is not None:
            return decode_master_key(path.read_text(encoding="ascii"))
        text = click.prompt("Old master key", hide_input=True)
        return decode_master_key(text)
    except (MasterKeyError, OSError) as exc:
        fail(f"old master key: {exc}", "MASTER_KEY_INVALID")


@master_key.command("rotate")
@click.option(
    "--old-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding the old master key (else it is asked for, unechoed).",
)
@json_option
def rotate(old_key_file: Path | None, as_json: bool) -> None:
    """Re-seal every stored secret under the configured (new) master key."""
    from license_server.services.backup import key_check
    from license_server.services.rekey import (
        ChainBroken,
        WrongOldKey,
        rotate_master_key,
    )

    old = Keyring(_read_old_key(old_key_file))
    with _app_context() as app:
        new: Keyring = runtime_of(app).keyring
        if key_check(old) == key_check(new):
            fail(
                "the old key is the configured key: configure the NEW master key "
                "(LICENSE_SERVER_MASTER_KEY or _FILE) and give the old one here",
                "SAME_MASTER_KEY",
            )
        try:
            report = rotate_master_key(old=old, new=new, now=datetime.now(UTC))
        except WrongOldKey as exc:
            fail(str(exc), "WRONG_OLD_KEY")
        except ChainBroken as exc:
            fail(str(exc), "CHAIN_BROKEN")
    keys = [
        {
            "vendor_id": str(k.vendor_id),
            "id": str(k.key_id),
            "name": k.name,
            "key": k.token,
        }
        for k in report.api_keys
    ]
    if as_json:
        emit(True, {"counts": report.counts, "api_keys": keys}, lambda: iter(()))
        return
    counts = ", ".join(f"{count} {kind}" for kind, count in report.counts.items())
    click.echo(f"re-sealed under the new master key: {counts}")
    click.echo(
        "Admin API keys were reissued (shown once, the old texts no longer work):"
    )
    for key in keys:
        click.echo(f"  vendor {key['vendor_id']}  {key['name']!r}: {key['key']}")
    click.echo(
        "Restart every server with the new key now. Keep the old key as long as you "
        "keep backups made before this rotation: they open only with it.",
        err=True,
    )
