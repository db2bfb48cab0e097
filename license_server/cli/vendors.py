"""``vendors create|list`` and the ``--vendor`` option the other commands share."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import click

from license_server.cli import _app_context, emit, fail, json_option, keyring_of, main
from license_server.models import Vendor

EXAMPLE_VENDOR = "Acme Themes"  # the name README, docs and the example site use


def find_vendor(slug: str | None) -> Vendor:
    """Return the vendor named by ``--vendor``, or the only one when it is omitted."""
    from license_server import errors
    from license_server.services import vendors as service

    if slug is not None:
        try:
            return service.vendor_by_slug(slug)
        except errors.NotFound:
            fail(
                f"no vendor with slug {slug!r}: `license-server vendors list` "
                "shows them",
                "VENDOR_NOT_FOUND",
            )
    every = service.list_vendors()
    if len(every) == 1:
        return every[0]
    if not every:
        fail(
            f"no vendor yet: `license-server vendors create {EXAMPLE_VENDOR!r}`",
            "VENDOR_NOT_FOUND",
        )
    fail(
        "several vendors here: pass --vendor, one of "
        + ", ".join(vendor.slug for vendor in every),
        "VENDOR_REQUIRED",
    )


def vendor_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--vendor SLUG`` (optional while the server has one vendor)."""
    return click.option(
        "--vendor",
        "vendor_slug",
        metavar="SLUG",
        help="The vendor's slug; optional when there is only one.",
    )(command)


def vendor_json(vendor: Vendor) -> dict[str, Any]:
    """Describe a vendor for ``--json``."""
    return {
        "id": str(vendor.id),
        "slug": vendor.slug,
        "name": vendor.name,
        "issuer": vendor.issuer,
        "created_at": vendor.created_at.isoformat(),
    }


@main.group()
def vendors() -> None:
    """Vendor commands."""


@vendors.command("create")
@click.argument("name")
@click.option("--slug", help="URL-safe id; derived from NAME when omitted.")
@click.option("--issuer", help="The tokens' iss claim; the slug when omitted.")
@json_option
def vendors_create(
    name: str, slug: str | None, issuer: str | None, as_json: bool
) -> None:
    """Create a vendor; print its first admin API key (once) and its public key."""
    from license_server.services.vendors import create_vendor

    with _app_context() as app:
        new = create_vendor(
            keyring=keyring_of(app),
            name=name,
            slug=slug,
            issuer=issuer,
            now=datetime.now(UTC),
        )
        vendor = vendor_json(new.vendor)

    def lines() -> Iterator[str]:
        yield f"Vendor {name!r} created: slug {vendor['slug']}, id {vendor['id']}."
        yield f"Admin API key (shown once, store it now):\n  {new.api_key}"
        yield f"Token issuer (iss): {vendor['issuer']}"
        yield "Public key to embed in your theme (JWK):"
        yield json.dumps(new.public_keys[0])

    payload = {"vendor": vendor, "api_key": new.api_key, "public_keys": new.public_keys}
    emit(as_json, payload, lines)


@vendors.command("list")
@json_option
def vendors_list(as_json: bool) -> None:
    """List the vendors on this server."""
    from license_server.services import vendors as service

    with _app_context():
        every = [vendor_json(vendor) for vendor in service.list_vendors()]

    def lines() -> Iterator[str]:
        if not every:
            yield (
                "No vendors yet; create the first with\n"
                f"  license-server vendors create {EXAMPLE_VENDOR!r}"
            )
        for vendor in every:
            yield f"{vendor['slug']}  {vendor['name']!r}  iss {vendor['issuer']}"

    emit(as_json, {"data": every}, lines)
