"""``license-server releases``: publish a release from a vendor's release script."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from license_server.cli import _app_context, fail, json_option, main


@main.group()
def releases() -> None:
    """Release commands (docs/UPDATES.md)."""


@releases.command("publish")
@click.argument("product")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", required=True, help="The release's version.")
@click.option(
    "--channel",
    type=click.Choice(["stable", "beta"]),
    default="stable",
    show_default=True,
)
@click.option(
    "--changelog",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Markdown file with this release's notes.",
)
@click.option("--requires", help="Minimum WordPress version.")
@click.option("--requires-php", help="Minimum PHP version.")
@click.option("--tested", help="WordPress version tested up to.")
@click.option("--draft", is_flag=True, help="Upload but do not publish.")
@json_option
def publish(
    product: str,
    file: Path,
    version: str,
    channel: str,
    changelog: Path | None,
    requires: str | None,
    requires_php: str | None,
    tested: str | None,
    draft: bool,
    as_json: bool,
) -> None:
    """Upload FILE (the theme's ZIP) as VERSION of PRODUCT (a slug), and publish it.

    Prints the release as JSON (with or without ``--json``; ``--json`` makes a failure
    JSON too).
    """
    from license_server import errors
    from license_server.extensions import db
    from license_server.models import Product
    from license_server.runtime import of as runtime_of
    from license_server.services.products import public_product_query
    from license_server.updates import of as updates_of
    from license_server.updates import releases as service

    actor = "cli"
    with _app_context() as app:
        # vendor/product, or a bare slug (the first product that took it)
        found = db.session.scalar(public_product_query(product, [Product]))
        if found is None:
            fail(
                f"PRODUCT_NOT_FOUND: no product with slug {product!r} "
                "(`license-server products list` shows them)",
                "PRODUCT_NOT_FOUND",
            )
        vendor_id, product_id = found.vendor_id, found.id
        notes = changelog.read_text(encoding="utf-8") if changelog else ""
        keyring = runtime_of(app).keyring
        release = service.create_release(
            keyring=keyring,
            vendor_id=vendor_id,
            product_id=product_id,
            version=version,
            channel=channel,
            changelog=notes,
            requires=requires,
            requires_php=requires_php,
            tested=tested,
            actor=actor,
            now=datetime.now(UTC),
        )
        storage = updates_of(app).storage
        try:
            with file.open("rb") as stream:
                release = service.attach_package(
                    keyring=keyring,
                    storage=storage,
                    vendor_id=vendor_id,
                    release_id=release.id,
                    stream=stream,
                    limit=int(app.config["RELEASE_MAX_BYTES"]),
                    actor=actor,
                    now=datetime.now(UTC),
                )
        except errors.APIError:
            # a refused package leaves no empty draft behind: the same command, with
            # the right file, works again instead of answering RELEASE_EXISTS
            db.session.rollback()
            service.delete_release(
                keyring=keyring,
                storage=storage,
                vendor_id=vendor_id,
                release_id=release.id,
                actor=actor,
                now=datetime.now(UTC),
            )
            raise
        if not draft:
            release = service.publish(
                keyring=keyring,
                vendor_id=vendor_id,
                release_id=release.id,
                actor=actor,
                now=datetime.now(UTC),
            )
        out = {
            "id": str(release.id),
            "product": product,
            "version": release.version,
            "channel": release.channel,
            "sha256": release.sha256,
            "size": release.size,
            "signature": release.signature,
            "signature_kid": release.signature_kid,
            "published": release.published_at is not None,
        }
    click.echo(json.dumps(out, indent=2))
