"""``api-keys create|list|revoke`` and ``signing-keys list|rotate``.

The commands call the services the admin API calls and print the admin API's
schemas, so ``--json`` here is the same document a script gets over HTTP.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click

from license_server.cli import _app_context, emit, fail, json_option, keyring_of, main
from license_server.cli.vendors import find_vendor, vendor_option
from license_server.schemas import admin as schemas

ACTOR = "cli"


@main.group("api-keys")
def api_keys() -> None:
    """A vendor's admin API keys (a lost key is replaced here)."""


@api_keys.command("create")
@vendor_option
@click.option("--name", default="cli", show_default=True, help="What the key is for.")
@click.option(
    "--scope", type=click.Choice(["write", "read"]), default="write", show_default=True
)
@json_option
def api_keys_create(
    vendor_slug: str | None, name: str, scope: str, as_json: bool
) -> None:
    """Create an admin API key; the key is printed this once."""
    from license_server.services import keys_admin
    from license_server.services.common import Revealed

    args = schemas.ApiKeyIn().load({"name": name, "scope": scope})
    with _app_context() as app:
        vendor = find_vendor(vendor_slug)
        key, token = keys_admin.create_api_key(
            keyring=keyring_of(app),
            vendor_id=vendor.id,
            actor=ACTOR,
            now=datetime.now(UTC),
            **args,
        )
        payload = schemas.ApiKeyOut().dump(Revealed(key, token))

    def lines() -> Iterator[str]:
        yield (
            f"API key {payload['name']!r} ({payload['scope']}) for {vendor.slug}, "
            f"id {payload['id']}; shown once, store it now:\n  {token}"
        )

    emit(as_json, payload, lines)


@api_keys.command("list")
@vendor_option
@json_option
def api_keys_list(vendor_slug: str | None, as_json: bool) -> None:
    """List a vendor's API keys (their prefixes; keys are never stored)."""
    from license_server.services import keys_admin

    with _app_context():
        vendor = find_vendor(vendor_slug)
        listed = keys_admin.list_api_keys(vendor_id=vendor.id)
        payload = schemas.ApiKeyList().dump({"data": listed})

    def lines() -> Iterator[str]:
        for key in payload["data"]:
            state = f"revoked {key['revoked_at']}" if key["revoked_at"] else "live"
            used = key["last_used_at"] or "never"
            yield (
                f"{key['id']}  {key['prefix']}...  {key['scope']:5}  {state}  "
                f"last used {used}  {key['name']!r}"
            )

    emit(as_json, payload, lines)


@api_keys.command("revoke")
@vendor_option
@click.argument("key")
@json_option
def api_keys_revoke(vendor_slug: str | None, key: str, as_json: bool) -> None:
    """Revoke an API key, named by its id or its prefix (``lsk_...``)."""
    from license_server.services import keys_admin

    with _app_context() as app:
        vendor = find_vendor(vendor_slug)
        key_id = _api_key_id(vendor.id, key)
        revoked = keys_admin.revoke_api_key(
            keyring=keyring_of(app),
            vendor_id=vendor.id,
            key_id=key_id,
            actor=ACTOR,
            now=datetime.now(UTC),
        )
        payload = schemas.ApiKeyOut().dump(revoked)
    emit(
        as_json,
        payload,
        lambda: iter([f"API key {payload['prefix']}... revoked; it stops at once."]),
    )


def _api_key_id(vendor_id: uuid.UUID, named: str) -> uuid.UUID:
    """Read an API key's id, or find the one key whose prefix starts ``named``."""
    from license_server.services import keys_admin

    try:
        return uuid.UUID(named)
    except ValueError:
        pass
    prefix = named.removesuffix("...")
    matches = [
        key
        for key in keys_admin.list_api_keys(vendor_id=vendor_id)
        if len(prefix) >= 6 and key.prefix.startswith(prefix)
    ]
    if len(matches) != 1:
        what = (
            "no API key of this vendor matches"
            if not matches
            else "several API keys of this vendor match"
        )
        fail(
            f"{what} {named!r}: pass an id from `license-server api-keys list`",
            "NOT_FOUND" if not matches else "AMBIGUOUS",
        )
    return matches[0].id


@main.group("signing-keys")
def signing_keys() -> None:
    """A vendor's Ed25519 signing keys."""


def _signing_lines(payload: dict[str, Any]) -> Iterator[str]:
    yield f"{payload['kid']}  {payload['status']:9}  created {payload['created_at']}"


@signing_keys.command("list")
@vendor_option
@json_option
def signing_keys_list(vendor_slug: str | None, as_json: bool) -> None:
    """List a vendor's signing keys and their status."""
    from license_server.services import keys_admin

    with _app_context():
        vendor = find_vendor(vendor_slug)
        listed = keys_admin.list_signing_keys(vendor_id=vendor.id)
        payload = schemas.SigningKeyList().dump({"data": listed})

    def lines() -> Iterator[str]:
        for key in payload["data"]:
            yield from _signing_lines(key)

    emit(as_json, payload, lines)


@signing_keys.command("rotate")
@vendor_option
@json_option
def signing_keys_rotate(vendor_slug: str | None, as_json: bool) -> None:
    """Create a signing key and sign with it at once; the old one keeps verifying."""
    from license_server.services import keys_admin

    with _app_context() as app:
        vendor = find_vendor(vendor_slug)
        key = keys_admin.rotate_signing_key(
            keyring=keyring_of(app),
            vendor_id=vendor.id,
            actor=ACTOR,
            now=datetime.now(UTC),
        )
        payload = schemas.SigningKeyOut().dump(key)

    def lines() -> Iterator[str]:
        yield f"New signing key {payload['kid']} for {vendor.slug} is signing now."
        yield "Ship the new public key in your theme (JWK):"
        yield json.dumps(payload["jwk"])

    emit(as_json, payload, lines)
