"""``licenses create|find|show|revoke``: the admin API's license services."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click
from flask import Flask

from license_server.cli import _app_context, emit, fail, json_option, keyring_of, main
from license_server.cli.vendors import find_vendor, vendor_option
from license_server.models import License
from license_server.schemas import admin as schemas
from license_server.services.common import Revealed

ACTOR = "cli"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _moment(value: str | None) -> str | None:
    """A date alone means the end of that day, UTC."""
    if value is not None and _DATE.match(value):
        return f"{value}T23:59:59+00:00"
    return value


@main.group()
def licenses() -> None:
    """A vendor's licenses: issue, find, show, revoke."""


@licenses.command("create")
@vendor_option
@click.option("--product", required=True, help="The product's slug.")
@click.option("--email", "customer_email", help="The customer's e-mail.")
@click.option("--name", "customer_name", help="The customer's name.")
@click.option("--max-domains", type=int, help="Seats; the product's when omitted.")
@click.option("--expires", "expires_at", help="YYYY-MM-DD or an ISO time.")
@click.option("--updates-until", "updates_until", help="YYYY-MM-DD or an ISO time.")
@click.option("--notes")
@click.option("--count", type=int, default=1, show_default=True, help="Up to 1,000.")
@json_option
def licenses_create(
    vendor_slug: str | None, count: int, as_json: bool, **given: Any
) -> None:
    """Issue licenses of a product; print their keys."""
    from license_server.services import licenses as service

    body = {name: value for name, value in given.items() if value is not None}
    for name in ("expires_at", "updates_until"):
        if name in body:
            body[name] = _moment(body[name])
    args = schemas.LicenseBatchIn().load({**body, "count": count})
    with _app_context() as app:
        vendor = find_vendor(vendor_slug)
        issued = service.create_licenses(
            keyring=keyring_of(app),
            vendor_id=vendor.id,
            actor=ACTOR,
            now=datetime.now(UTC),
            **args,
        )
        payload = schemas.LicenseBatchOut().dump(
            {"data": [Revealed(license, key) for license, key in issued]}
        )

    def lines() -> Iterator[str]:
        for license in payload["data"]:
            yield f"{license['key']}  id {license['id']}"

    emit(as_json, payload if count > 1 else payload["data"][0], lines)


@licenses.command("find")
@vendor_option
@click.option("--key", help="A full license key.")
@click.option("--email", "customer_email", help="The customer's e-mail.")
@click.option("--domain", help="A domain holding a live activation.")
@click.option("--product", help="A product's slug.")
@click.option("--status", type=click.Choice(["active", "suspended", "revoked"]))
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
def licenses_find(
    vendor_slug: str | None, limit: int, as_json: bool, **given: Any
) -> None:
    """Find licenses by key, e-mail, domain, product or status (newest first)."""
    from license_server.services import licenses as service

    query = {name: value for name, value in given.items() if value is not None}
    args = schemas.LicenseQuery().load({**query, "limit": limit})
    with _app_context() as app:
        vendor = find_vendor(vendor_slug)
        page = service.list_licenses(
            keyring=keyring_of(app),
            vendor_id=vendor.id,
            where=service.LicenseFilter(
                **{k: v for k, v in args.items() if k not in ("limit", "cursor")}
            ),
            limit=args["limit"],
        )
        payload = schemas.LicenseList().dump(page)

    def lines() -> Iterator[str]:
        if not payload["data"]:
            yield "No license matches."
        for license in payload["data"]:
            yield _summary(license)
        if payload.get("next"):
            yield f"(more: raise --limit above {limit})"

    emit(as_json, payload, lines)


def _summary(license: dict[str, Any]) -> str:
    who = license["customer_email"] or "-"
    expires = license["expires_at"] or "never"
    return (
        f"{license['id']}  {license['product']}  {license['status']:9}  "
        f"...{license['key_hint']}  {who}  expires {expires}"
    )


def _find_license(app: Flask, vendor_id: uuid.UUID, named: str) -> License:
    """Find a license by its id or by its full key."""
    from license_server.services import licenses as service

    try:
        return service.get_license(vendor_id=vendor_id, license_id=uuid.UUID(named))
    except ValueError:
        pass
    page = service.list_licenses(
        keyring=keyring_of(app),
        vendor_id=vendor_id,
        where=service.LicenseFilter(key=named),
        limit=1,
    )
    if not page.data:
        fail("no license of this vendor has this key", "NOT_FOUND")
    return page.data[0]


@licenses.command("show")
@vendor_option
@click.argument("license_id_or_key")
@json_option
def licenses_show(
    vendor_slug: str | None, license_id_or_key: str, as_json: bool
) -> None:
    """Show one license (by id or key), with its key and its live activations."""
    from license_server.services import activations
    from license_server.services import licenses as service

    with _app_context() as app:
        vendor = find_vendor(vendor_slug)
        license = _find_license(app, vendor.id, license_id_or_key)
        key = service.reveal_key(keyring=keyring_of(app), license=license)
        payload = schemas.LicenseOut().dump(Revealed(license, key))
        seats = activations.list_for_vendor(
            vendor_id=vendor.id, license_id=license.id, active=True
        )
        payload["activations"] = schemas.ActivationList().dump(seats)["data"]

    def lines() -> Iterator[str]:
        yield _summary(payload)
        yield f"key {payload['key']}"
        for seat in payload["activations"]:
            dev = "  (development)" if seat["development"] else ""
            yield f"  active on {seat['domain']}{dev}, seen {seat['last_seen_at']}"

    emit(as_json, payload, lines)


@licenses.command("revoke")
@vendor_option
@click.argument("license_id_or_key")
@json_option
def licenses_revoke(
    vendor_slug: str | None, license_id_or_key: str, as_json: bool
) -> None:
    """Revoke a license (by id or key); its sites turn invalid at their next check."""
    from license_server.services import licenses as service

    with _app_context() as app:
        vendor = find_vendor(vendor_slug)
        license = _find_license(app, vendor.id, license_id_or_key)
        revoked = service.change_status(
            keyring=keyring_of(app),
            vendor_id=vendor.id,
            license_id=license.id,
            change="revoke",
            actor=ACTOR,
            now=datetime.now(UTC),
        )
        payload = schemas.LicenseOut().dump(revoked)
    emit(as_json, payload, lambda: iter([f"Revoked: {_summary(payload)}"]))
