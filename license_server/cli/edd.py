"""``license-server import edd``: bring an EDD store's licences, keys and sites over."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from license_server.cli import _app_context, main


@main.group("import")
def import_group() -> None:
    """Import licences from another licensing system."""


@import_group.command("edd")
@click.option("--vendor", "vendor_slug", required=True, help="The vendor (slug).")
@click.option(
    "--database-url",
    help="The EDD store's database: mysql://user:password@host:3306/wordpress",
)
@click.option("--table-prefix", default="wp_", show_default=True)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="EDD's licence export CSV, when the database cannot be reached.",
)
@click.option("--timezone", help="The store's time zone for --csv (e.g. Europe/Paris).")
@click.option("--dry-run", is_flag=True, help="Do everything, then roll it back.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_edd(
    vendor_slug: str,
    database_url: str | None,
    table_prefix: str,
    csv_path: Path | None,
    timezone: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import an EDD store (idempotent: a second run changes nothing)."""
    from license_server import errors
    from license_server.compat import edd_import, edd_source
    from license_server.runtime import of as runtime_of
    from license_server.services.vendors import vendor_by_slug

    if (database_url is None) == (csv_path is None):
        raise click.UsageError("give exactly one of --database-url and --csv")
    try:
        if csv_path is not None:
            store = edd_source.read_csv(csv_path, timezone)
        else:
            assert database_url is not None  # noqa: S101 - checked above
            store = edd_source.read_mysql(database_url, table_prefix)
    except Exception as exc:  # noqa: BLE001 - say why the store cannot be read
        raise click.ClickException(f"cannot read the EDD store: {exc}") from exc
    with _app_context() as app:
        try:
            vendor = vendor_by_slug(vendor_slug)
        except errors.APIError as exc:
            raise click.ClickException(f"{exc.code}: {exc.text}") from exc
        summary = edd_import.import_store(
            keyring=runtime_of(app).keyring,
            vendor_id=vendor.id,
            store=store,
            now=datetime.now(UTC),
            dry_run=dry_run,
        )
    counts = summary.as_dict()
    if as_json:
        click.echo(json.dumps(counts, indent=2))
        return
    title = "EDD import (dry run: nothing written)" if dry_run else "EDD import"
    click.echo(f"{title} into vendor {vendor_slug}:")
    for name, value in counts.items():
        if name != "dry_run":
            click.echo(f"  {name.replace('_', ' ')}: {value}")
