"""``license-server import edd``: bring an EDD store's licences, keys and sites over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click

from license_server.cli import _app_context, emit, fail, json_option, main


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
@json_option
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
    from license_server.compat import edd_import, edd_source
    from license_server.runtime import of as runtime_of
    from license_server.services.vendors import vendor_by_slug

    if (database_url is None) == (csv_path is None):
        fail("give exactly one of --database-url and --csv", "USAGE")
    try:
        if csv_path is not None:
            store = edd_source.read_csv(csv_path, timezone)
        else:
            assert database_url is not None  # noqa: S101 - checked above
            store = edd_source.read_mysql(database_url, table_prefix)
    except Exception as exc:  # noqa: BLE001 - say why the store cannot be read
        fail(f"cannot read the EDD store: {exc}", "EDD_UNREADABLE")
    with _app_context() as app:
        vendor = vendor_by_slug(vendor_slug)  # an APIError: one line, its code
        summary = edd_import.import_store(
            keyring=runtime_of(app).keyring,
            vendor_id=vendor.id,
            store=store,
            now=datetime.now(UTC),
            dry_run=dry_run,
        )
    counts = summary.as_dict()

    def lines() -> Iterator[str]:
        title = "EDD import (dry run: nothing written)" if dry_run else "EDD import"
        yield f"{title} into vendor {vendor_slug}:"
        for name, value in counts.items():
            if name != "dry_run":
                yield f"  {name.replace('_', ' ')}: {value}"

    emit(as_json, counts, lines)
