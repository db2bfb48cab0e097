"""``products create|list``: the admin API's product services, from the shell."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click

from license_server.cli import _app_context, emit, json_option, keyring_of, main
from license_server.cli.vendors import find_vendor, vendor_option
from license_server.schemas import admin as schemas

ACTOR = "cli"


@main.group()
def products() -> None:
    """A vendor's products (themes) and their licensing policy."""


@products.command("create")
@vendor_option
@click.argument("slug")
@click.argument("name")
@click.option("--key-prefix", default="", help="2-8 of A-Z0-9 before each key.")
@click.option("--max-domains", type=int, help="Seats per license (default 1).")
@click.option("--max-dev-domains", type=int, help="Cap on development activations.")
@click.option("--token-ttl", type=int, help="Seconds a domain token is fresh.")
@click.option("--grace-period", type=int, help="Seconds an offline site stays valid.")
@click.option("--expiry-policy", type=click.Choice(["allow", "restrict"]))
@click.option("--dev-pattern", "dev_patterns", multiple=True, help="e.g. staging.*")
@json_option
def products_create(vendor_slug: str | None, as_json: bool, **given: Any) -> None:
    """Create a product SLUG called NAME (public requests name it by SLUG)."""
    from license_server.services import products as service

    body = {name: value for name, value in given.items() if value not in (None, ())}
    body["dev_patterns"] = list(given["dev_patterns"])
    args = schemas.ProductIn().load(body)
    with _app_context() as app:
        vendor = find_vendor(vendor_slug)
        product = service.create_product(
            keyring=keyring_of(app),
            vendor_id=vendor.id,
            actor=ACTOR,
            now=datetime.now(UTC),
            **args,
        )
        payload = schemas.ProductOut().dump(product)
    emit(as_json, payload, lambda: _lines(payload, "Product created: "))


def _lines(product: dict[str, Any], lead: str = "") -> Iterator[str]:
    archived = "  archived" if product["archived"] else ""
    prefix = product["key_prefix"] or "(no prefix)"
    yield (
        f"{lead}{product['slug']}  {product['name']!r}  keys {prefix}  "
        f"{product['max_domains']} domain(s)  token {product['token_ttl']} s  "
        f"grace {product['grace_period']} s{archived}"
    )


@products.command("list")
@vendor_option
@json_option
def products_list(vendor_slug: str | None, as_json: bool) -> None:
    """List a vendor's products, archived ones included."""
    from license_server.services import products as service

    with _app_context():
        vendor = find_vendor(vendor_slug)
        listed = service.list_products(vendor_id=vendor.id)
        payload = schemas.ProductList().dump({"data": listed})

    def lines() -> Iterator[str]:
        if not payload["data"]:
            yield "No products yet: `license-server products create jannah Jannah`."
        for product in payload["data"]:
            yield from _lines(product)

    emit(as_json, payload, lines)
