"""Admin API (Bearer vendor API key): products, licenses, activations.

Every query is scoped to the calling key's vendor; another vendor's ids answer 404
exactly as missing ones do. Read-scoped keys may only use GET.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, request

from license_server import errors
from license_server.api import context
from license_server.api.parsing import Blueprint
from license_server.models import Activation, ApiKeyScope, License, Product
from license_server.schemas import admin as schemas
from license_server.services import activations, licenses, products, vendors

blp = Blueprint(
    "admin",
    __name__,
    url_prefix="/v1/admin",
    description="Vendor administration (Bearer API key).",
)
READ_METHODS = {"GET", "HEAD", "OPTIONS"}


@blp.before_request
def authenticate() -> None:
    """Authenticate the Bearer key; refuse writes with a read-scoped key."""
    key = vendors.authenticate(
        keyring=context.keyring(),
        authorization=request.headers.get("Authorization"),
        now=context.now(),
    )
    if request.method not in READ_METHODS and key.scope != ApiKeyScope.WRITE:
        raise errors.Forbidden("This API key is read-only.")
    g.api_key = key


def _vendor_id() -> uuid.UUID:
    return context.api_key().vendor_id


@blp.post("/products")
@blp.arguments(schemas.ProductIn)
@blp.response(201, schemas.ProductOut)
def create_product(args: dict[str, Any]) -> Product:
    """Create a product (a theme) and its licensing policy."""
    return products.create_product(
        vendor_id=_vendor_id(), actor=context.actor(), now=context.now(), **args
    )


@blp.get("/products")
@blp.response(200, schemas.ProductList)
def list_products() -> dict[str, Any]:
    """List the vendor's products."""
    return {"data": products.list_products(vendor_id=_vendor_id())}


@blp.get("/products/<uuid:product_id>")
@blp.response(200, schemas.ProductOut)
def get_product(product_id: uuid.UUID) -> Product:
    """Get one product."""
    return products.get_product(vendor_id=_vendor_id(), product_id=product_id)


@blp.post("/licenses")
@blp.arguments(schemas.LicenseIn)
@blp.response(201, schemas.LicenseOut)
def create_license(args: dict[str, Any]) -> licenses.RevealedLicense:
    """Issue a license; the answer carries its key."""
    license, key = licenses.create_license(
        keyring=context.keyring(),
        vendor_id=_vendor_id(),
        actor=context.actor(),
        now=context.now(),
        **args,
    )
    return licenses.RevealedLicense(license, key)


@blp.get("/licenses")
@blp.arguments(schemas.LicenseQuery, location="query")
@blp.response(200, schemas.LicenseList)
def list_licenses(args: dict[str, Any]) -> dict[str, Any]:
    """List the vendor's licenses, newest first."""
    return {"data": licenses.list_licenses(vendor_id=_vendor_id(), **args)}


@blp.get("/licenses/<uuid:license_id>")
@blp.response(200, schemas.LicenseOut)
def get_license(license_id: uuid.UUID) -> licenses.RevealedLicense:
    """Get one license, with its key."""
    license = licenses.get_license(vendor_id=_vendor_id(), license_id=license_id)
    key = licenses.reveal_key(keyring=context.keyring(), license=license)
    return licenses.RevealedLicense(license, key)


def _status_change(change: str) -> Any:
    @blp.post(f"/licenses/<uuid:license_id>/{change}", endpoint=f"{change}_license")
    @blp.response(200, schemas.LicenseOut)
    def view(license_id: uuid.UUID) -> License:
        return licenses.change_status(
            vendor_id=_vendor_id(),
            license_id=license_id,
            change=change,
            actor=context.actor(),
            now=context.now(),
        )

    view.__doc__ = f"{change.capitalize()} a license."
    return view


suspend_license = _status_change("suspend")
reinstate_license = _status_change("reinstate")
revoke_license = _status_change("revoke")


@blp.get("/licenses/<uuid:license_id>/activations")
@blp.response(200, schemas.ActivationList)
def list_license_activations(license_id: uuid.UUID) -> dict[str, Any]:
    """List a license's activations, live and deactivated."""
    license = licenses.get_license(vendor_id=_vendor_id(), license_id=license_id)
    found = activations.list_for_license(vendor_id=_vendor_id(), license_id=license.id)
    return {"data": found}


@blp.post("/activations/<uuid:activation_id>/deactivate")
@blp.response(200, schemas.ActivationOut)
def deactivate_activation(activation_id: uuid.UUID) -> Activation:
    """Deactivate one activation (the site moved); frees its seat at once."""
    activation = activations.get_for_vendor(
        vendor_id=_vendor_id(), activation_id=activation_id
    )
    if activation.deactivated_at is None:
        activations.end_activation(activation, actor=context.actor(), now=context.now())
    return activation
