"""Admin routes for the EDD mapping: which EDD items a product answers for.

They join the admin blueprint (Bearer API key, vendor scope, read/write scopes,
idempotency), so the tenant and scope matrices cover them like every admin route.
"""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import Schema, fields, validate

from license_server import errors
from license_server.api import context
from license_server.api.admin import blp, reads, writes
from license_server.api.raises import raises
from license_server.compat import edd_items


class EddItemsIn(Schema):
    item_ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1)),
        required=True,
        validate=validate.Length(max=100),
        metadata={
            "description": "EDD download (post) ids this product answers for.",
            "example": [1234],
        },
    )
    item_names = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(max=100),
        metadata={
            "description": "EDD item names (old names keep working).",
            "example": ["Jannah", "Jannah Theme"],
        },
    )


class EddItemsOut(Schema):
    product = fields.String(required=True)
    item_ids = fields.List(fields.Integer(), required=True)
    item_names = fields.List(fields.String(), required=True)


@blp.get("/products/<uuid:product_id>/edd")
@blp.response(200, EddItemsOut)
@reads
@raises(errors.NotFound)
def get_edd_items(product_id: uuid.UUID) -> Any:
    """Get the EDD item ids and names a product answers for."""
    vendor_id = context.api_key().vendor_id
    return edd_items.get_mapping(vendor_id=vendor_id, product_id=product_id)


@blp.put("/products/<uuid:product_id>/edd")
@blp.arguments(EddItemsIn)
@blp.response(200, EddItemsOut)
@writes
@raises(errors.Forbidden, errors.NotFound)
def set_edd_items(args: dict[str, Any], product_id: uuid.UUID) -> Any:
    """Replace the EDD item ids and names a product answers for."""
    return edd_items.set_mapping(
        keyring=context.keyring(),
        vendor_id=context.api_key().vendor_id,
        product_id=product_id,
        actor=context.actor(),
        now=context.now(),
        **args,
    )
