"""``master-key``, ``db upgrade`` and ``events verify``."""

from __future__ import annotations

from collections.abc import Iterator

import click
from sqlalchemy.exc import SQLAlchemyError

from license_server.cli import (
    _app,
    _app_context,
    _safe_url,
    emit,
    json_option,
    keyring_of,
    main,
    unreachable,
)
from license_server.keyring import new_master_key


@main.group("master-key", invoke_without_command=True)
@json_option
@click.pass_context
def master_key(ctx: click.Context, as_json: bool) -> None:
    """Print a fresh master key (32 random bytes, base64url); `rotate` changes it."""
    if ctx.invoked_subcommand is None:
        key = new_master_key()
        emit(as_json, {"master_key": key}, lambda: iter([key]))


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@json_option
def db_upgrade(revision: str, as_json: bool) -> None:
    """Apply the migrations to the configured database."""
    from license_server import migrate

    app = _app()
    try:
        # the keyring re-seals and MACs existing rows where a migration must (0009)
        migrate.upgrade(
            app.config["SQLALCHEMY_DATABASE_URI"], revision, keyring_of(app)
        )
    except SQLAlchemyError as exc:
        raise unreachable(app, exc) from exc
    where = _safe_url(app)
    emit(
        as_json,
        {"revision": revision, "database": where},
        lambda: iter([f"Database at revision {revision}: {where}."]),
    )


@main.group()
def events() -> None:
    """Audit event commands."""


@events.command("verify")
@click.option("--vendor", "vendor_slug", help="Check one vendor (by slug) only.")
@json_option
def events_verify(vendor_slug: str | None, as_json: bool) -> None:
    """Recompute every vendor's event chain (digests and keyed MACs); report breaks."""
    from license_server.cli.vendors import find_vendor
    from license_server.services import events as event_log

    with _app_context() as app:
        vendor_id = find_vendor(vendor_slug).id if vendor_slug else None
        breaks = event_log.verify_chain(keyring_of(app), vendor_id)
    found = [
        {
            "vendor_id": str(item.vendor_id),
            "seq": item.seq,
            "event_id": item.event_id,
            "reason": item.reason,
        }
        for item in breaks
    ]

    def lines() -> Iterator[str]:
        for item in breaks:
            where = f"event #{item.seq}" + (
                f" (id {item.event_id})" if item.event_id is not None else ""
            )
            yield f"BROKEN vendor {item.vendor_id}: {where}: {item.reason}"
        if not breaks:
            yield "Event chains verified: no broken link."

    emit(as_json, {"ok": not breaks, "breaks": found}, lines)
    if breaks:
        raise SystemExit(1)
