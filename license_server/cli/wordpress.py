"""``license-server wp-client``: build a product's prefixed WordPress client folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask

from license_server.cli import _app_context, emit, fail, json_option, main


@main.command("wp-client")
@click.argument("product")
@click.option("--prefix", required=True, help="Class and option prefix, e.g. Acme.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write (inside the theme, e.g. mytheme/acme-license).",
)
@click.option(
    "--server-url",
    default=lambda: os.environ.get("LICENSE_SERVER_PUBLIC_URL", ""),
    help="The URL sites reach this server at (default: $LICENSE_SERVER_PUBLIC_URL).",
)
@json_option
def wp_client(
    product: str, prefix: str, out: Path, server_url: str, as_json: bool
) -> None:
    """Write PRODUCT's WordPress client, prefixed, with its pinned keys filled in."""
    from license_server.wpclient import build

    if not server_url.startswith(("http://", "https://")):
        fail(
            "give --server-url (the https:// URL sites reach) or set "
            "LICENSE_SERVER_PUBLIC_URL",
            "SERVER_URL_MISSING",
        )
    with _app_context() as app:
        _ensure_release_key(app, product)
        pinned = build.build_for_product(
            vendor_id=None, product_slug=product, server_url=server_url
        )
        files = build.build_files(pinned, prefix)
    build.write_dir(files, out)
    payload = {
        "out": str(out),
        "files": len(files),
        "prefix": prefix,
        "pinned_keys": len(pinned.keys),
        "release_keys": len(pinned.release_keys),
        "boot": f"{prefix}_License::boot();",
    }

    def lines() -> Iterator[str]:
        if not pinned.release_keys:
            yield "warning: no release key is pinned: packages will not be verified"
        yield (
            f"wrote {len(files)} files to {out} (prefix {prefix}, "
            f"{len(pinned.keys)} pinned keys); boot it from the theme:"
        )
        yield f"  require_once __DIR__ . '/{out.name}/license-client.php';"
        yield f"  {prefix}_License::boot();"

    emit(as_json, payload, lines)


def _ensure_release_key(app: Flask, product_slug: str) -> None:
    """Create the vendor's first release key if needed, so the theme pins it."""
    from license_server.extensions import db
    from license_server.models import Product
    from license_server.runtime import of as runtime_of
    from license_server.services.products import public_product_query
    from license_server.updates import release_keys

    product = db.session.scalar(public_product_query(product_slug, [Product]))
    if product is None:
        fail(
            f"PRODUCT_NOT_FOUND: no product with slug {product_slug!r} "
            "(`license-server products list` shows them)",
            "PRODUCT_NOT_FOUND",
        )
    release_keys.active_key(
        keyring=runtime_of(app).keyring,
        vendor_id=product.vendor_id,
        actor="cli",
        now=datetime.now(UTC),
    )
    db.session.commit()
