"""Routes: the sales-channel admin API, the inbound store route, the public hook.

- ``/v1/admin/channels/...``: store connections, mappings, the inbound log, the
  Envato token and the products that take purchase codes; authenticated and
  scoped exactly as :mod:`license_server.api.admin` (another vendor's ids 404).
- ``POST /v1/channels/<connection id>/events``: where a store sends its events; the
  connection's id in the URL names it, the store's signature authenticates it.
- :func:`admit_purchase_code`: the one call the public activate and validate routes
  make before looking a key up.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, request

from license_server import errors, keys
from license_server.api import admin, context
from license_server.api import raises as raise_docs
from license_server.api.parsing import Blueprint
from license_server.api.raises import PayloadTooLarge, raises
from license_server.api.webhooks import WithSecret
from license_server.channels import connections, envato, inbound, schemas
from license_server.channels import errors as channel_errors
from license_server.channels.envato_api import EnvatoApi
from license_server.services.pages import InvalidCursor

INBOUND_MAX_BYTES = 1024 * 1024  # a store's order can outgrow the API's 64 KiB

blp = Blueprint(
    "channels",
    __name__,
    url_prefix="/v1/admin/channels",
    description="Sales channels: store connections and mappings, Envato codes.",
)
blp.before_request(admin.authenticate)
raise_docs.admin_layer_raises("channels")
blp.after_request(admin.store_idempotent_answer)

inbound_blp = Blueprint(
    "channels_inbound",
    __name__,
    url_prefix="/v1/channels",
    description="Where stores send their signed events (docs/CHANNELS.md).",
)
# counted per sending address before the body is read (RATELIMIT_CHANNEL_EVENTS)
raise_docs.blueprint_raises("channels_inbound", errors.RateLimited)


def _scoped() -> dict[str, Any]:
    return {
        "vendor_id": context.vendor_id(),
        "actor": context.actor(),
        "now": context.now(),
    }


# --- connections --------------------------------------------------------------------


@blp.post("/connections")
@blp.arguments(schemas.ConnectionIn)
@blp.response(201, schemas.ConnectionOut)
@raises(channel_errors.SecretRequired)
def create_connection(args: dict[str, Any]) -> Any:
    """Connect a store; a secret the server makes is in this answer only."""
    connection, secret = connections.create_connection(
        keyring=context.keyring(), **_scoped(), **args
    )
    return WithSecret(connection, secret) if secret else connection


@blp.get("/connections")
@blp.response(200, schemas.ConnectionList)
def list_connections() -> Any:
    """List the vendor's store connections."""
    return {"data": connections.list_connections(vendor_id=context.vendor_id())}


@blp.get("/connections/<uuid:connection_id>")
@blp.response(200, schemas.ConnectionOut)
@raises(errors.NotFound)
def get_connection(connection_id: uuid.UUID) -> Any:
    """Get one connection (never its secret)."""
    return connections.get_connection(
        vendor_id=context.vendor_id(), connection_id=connection_id
    )


@blp.patch("/connections/<uuid:connection_id>")
@blp.arguments(schemas.ConnectionPatch)
@blp.response(200, schemas.ConnectionOut)
@raises(errors.NotFound)
def update_connection(changes: dict[str, Any], connection_id: uuid.UUID) -> Any:
    """Rename, enable or disable a connection, or paste a new secret."""
    return connections.update_connection(
        keyring=context.keyring(),
        connection_id=connection_id,
        changes=changes,
        **_scoped(),
    )


@blp.delete("/connections/<uuid:connection_id>")
@blp.response(204)
@raises(errors.NotFound)
def delete_connection(connection_id: uuid.UUID) -> None:
    """Delete a connection, its mappings and its log (the licences stay)."""
    connections.delete_connection(
        keyring=context.keyring(), connection_id=connection_id, **_scoped()
    )


@blp.post("/connections/<uuid:connection_id>/mappings")
@blp.arguments(schemas.MappingIn)
@blp.response(201, schemas.MappingOut)
@raises(errors.NotFound, errors.ProductNotFound, channel_errors.MappingExists)
def create_mapping(args: dict[str, Any], connection_id: uuid.UUID) -> Any:
    """Map a store product/price id to a product and a licence template."""
    return connections.create_mapping(
        keyring=context.keyring(), connection_id=connection_id, **_scoped(), **args
    )


@blp.get("/connections/<uuid:connection_id>/mappings")
@blp.response(200, schemas.MappingList)
@raises(errors.NotFound)
def list_mappings(connection_id: uuid.UUID) -> Any:
    """List a connection's mappings."""
    return {
        "data": connections.list_mappings(
            vendor_id=context.vendor_id(), connection_id=connection_id
        )
    }


@blp.patch("/mappings/<uuid:mapping_id>")
@blp.arguments(schemas.MappingPatch)
@blp.response(200, schemas.MappingOut)
@raises(errors.NotFound)
def update_mapping(changes: dict[str, Any], mapping_id: uuid.UUID) -> Any:
    """Change a mapping's licence template (for licences issued from now on)."""
    return connections.update_mapping(
        keyring=context.keyring(), mapping_id=mapping_id, changes=changes, **_scoped()
    )


@blp.delete("/mappings/<uuid:mapping_id>")
@blp.response(204)
@raises(errors.NotFound)
def delete_mapping(mapping_id: uuid.UUID) -> None:
    """Delete a mapping (its store product then issues nothing)."""
    connections.delete_mapping(
        keyring=context.keyring(), mapping_id=mapping_id, **_scoped()
    )


@blp.get("/events")
@blp.arguments(schemas.StoreEventQuery, location="query")
@blp.response(200, schemas.StoreEventList)
@raises(InvalidCursor)
def list_events(args: dict[str, Any]) -> Any:
    """List inbound store events with their outcome, newest first."""
    page = connections.list_events(
        vendor_id=context.vendor_id(),
        connection_id=args.pop("connection"),
        **args,
    )
    return {"data": page.data, "next": page.next}


# --- Envato -------------------------------------------------------------------------


@blp.put("/envato")
@blp.arguments(schemas.EnvatoIn)
@blp.response(200, schemas.EnvatoOut)
def put_envato(args: dict[str, Any]) -> Any:
    """Save the vendor's Envato personal token (sealed; only its last 4 shown)."""
    return envato.set_token(keyring=context.keyring(), **_scoped(), **args)


@blp.get("/envato")
@blp.response(200, schemas.EnvatoOut)
@raises(errors.NotFound)
def get_envato() -> Any:
    """Show whether a token is saved (its last 4)."""
    return envato.get_account(vendor_id=context.vendor_id())


@blp.delete("/envato")
@blp.response(204)
@raises(errors.NotFound)
def delete_envato() -> None:
    """Forget the vendor's Envato token."""
    envato.delete_token(keyring=context.keyring(), **_scoped())


@blp.get("/envato/products")
@blp.response(200, schemas.EnvatoProductList)
def list_envato_products() -> Any:
    """List the products that accept Envato purchase codes."""
    return {"data": envato.list_products(vendor_id=context.vendor_id())}


@blp.put("/envato/products/<uuid:product_id>")
@blp.arguments(schemas.EnvatoProductIn)
@blp.response(200, schemas.EnvatoProductOut)
@raises(errors.NotFound)
def put_envato_product(args: dict[str, Any], product_id: uuid.UUID) -> Any:
    """Make a product accept purchase codes of one Envato item."""
    return envato.set_product(
        keyring=context.keyring(), product_id=product_id, **_scoped(), **args
    )


@blp.delete("/envato/products/<uuid:product_id>")
@blp.response(204)
@raises(errors.NotFound)
def delete_envato_product(product_id: uuid.UUID) -> None:
    """Stop accepting new purchase codes on a product."""
    envato.delete_product(keyring=context.keyring(), product_id=product_id, **_scoped())


# --- inbound ------------------------------------------------------------------------


@inbound_blp.post("/<uuid:connection_id>/events")
@inbound_blp.response(200, schemas.ReceivedOut)
@raises(
    channel_errors.ConnectionNotFound,
    channel_errors.SignatureInvalid,
    channel_errors.SignatureExpired,
    channel_errors.MalformedEvent,
    PayloadTooLarge,
)
def receive_event(connection_id: uuid.UUID) -> Any:
    """Receive a store's signed event (Stripe, WooCommerce, Lemon Squeezy, generic)."""
    request.max_content_length = INBOUND_MAX_BYTES
    received = inbound.receive(
        keyring=context.keyring(),
        connection_id=connection_id,
        headers={name.lower(): value for name, value in request.headers.items()},
        body=request.get_data(cache=False),
        now=context.now(),
    )
    return received


# --- the public endpoints' hook -----------------------------------------------------

PUBLIC_ERRORS = (channel_errors.EnvatoUnavailable, channel_errors.EnvatoRateLimited)


def admit_purchase_code(license_key: str, product: str) -> None:
    """Verify an Envato purchase code's first use before the key is looked up."""
    if keys.parse_purchase_code(license_key) is None:
        return  # every other key: nothing to do, no work on the hot path
    runtime = context.runtime()
    envato.admit(
        keyring=runtime.keyring,
        reader=runtime.reader,
        api=EnvatoApi.from_config(current_app.config),
        license_key=license_key,
        product=product,
        now=runtime.now(),
    )
