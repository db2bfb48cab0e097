"""``license-server backup``, ``restore`` and ``master-key rotate``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from license_server.cli import _app, _app_context, _safe_url, main
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
def backup(out: Path) -> None:
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
        raise click.ClickException(str(exc)) from exc
    rows = sum(manifest.tables.values())
    click.echo(
        f"backup of {_safe_url(app)} written to {out}: {manifest.backend}, schema "
        f"{manifest.revision}, {len(manifest.tables)} tables, {rows} rows, "
        f"master key check {manifest.key_check}"
    )
    click.echo(REMINDER, err=True)


@main.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(archive: Path) -> None:
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
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"restored {archive} (made {manifest.created_at}) into {_safe_url(app)}: "
        f"{sum(manifest.tables.values())} rows in {len(manifest.tables)} tables"
    )
    _, head = migrate.revisions(url)
    if manifest.revision != head:
        click.echo(
            f"the backup is at schema {manifest.revision}, this server needs {head}: "
            "run `license-server db upgrade` next"
        )
    click.echo("next: `license-server events verify`, then start the servers")


def _read_old_key(path: Path | None) -> bytes:
    try:
        if path is not None:
            return decode_master_key(path.read_text(encoding="ascii"))
        text = click.prompt("Old master key", hide_input=True)
        return decode_master_key(text)
    except (MasterKeyError, OSError) as exc:
        raise click.ClickException(f"old master key: {exc}") from exc


@master_key.command("rotate")
@click.option(
    "--old-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding the old master key (else it is asked for, unechoed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
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
            raise click.ClickException(
                "the old key is the configured key: configure the NEW master key "
                "(LICENSE_SERVER_MASTER_KEY or _FILE) and give the old one here"
            )
        try:
            report = rotate_master_key(old=old, new=new, now=datetime.now(UTC))
        except (WrongOldKey, ChainBroken) as exc:
            raise click.ClickException(str(exc)) from exc
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
        click.echo(json.dumps({"counts": report.counts, "api_keys": keys}, indent=2))
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
