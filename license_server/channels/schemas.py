"""Schemas of the sales-channel admin API and of the inbound route's answer."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from license_server.models.channels import Outcome, RefundPolicy, StoreKind
from license_server.schemas.admin import CURSOR, LIMIT

_DAYS: Any = {"strict": True, "validate": validate.Range(min=1, max=36_500)}


class ConnectionIn(Schema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf([kind.value for kind in StoreKind]),
        metadata={"example": "woocommerce"},
    )
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "Main shop"},
    )
    secret = fields.String(
        load_default=None,
        validate=validate.Length(min=6, max=256),
        metadata={
            "description": "The store's signing secret. Required for Stripe (the "
            "endpoint's whsec_ secret); left out, the server makes one and shows "
            "it once (paste it into the store)."
        },
    )


class ConnectionPatch(Schema):
    name = fields.String(
        validate=validate.Length(min=1, max=200), metadata={"example": "Shop"}
    )
    enabled = fields.Boolean(metadata={"example": True})
    secret = fields.String(
        validate=validate.Length(min=6, max=256),
        metadata={"description": "A new signing secret (the store's, pasted)."},
    )


class ConnectionOut(Schema):
    id = fields.UUID()
    kind = fields.String()
    name = fields.String()
    enabled = fields.Boolean()
    inbound_url = fields.Method(
        "_inbound", metadata={"description": "Where the store sends its events."}
    )
    secret = fields.String(
        metadata={"description": "The secret the server made: in this answer only."}
    )
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()

    def _inbound(self, connection: Any) -> str:
        return f"/v1/channels/{connection.id}/events"


class ConnectionList(Schema):
    data = fields.List(fields.Nested(ConnectionOut))


def _template() -> dict[str, Any]:
    return {
        "max_domains": fields.Integer(
            allow_none=True,
            strict=True,
            validate=validate.Range(min=1, max=100_000),
            metadata={"description": "Seats; null: the product's.", "example": 1},
        ),
        "duration_days": fields.Integer(
            allow_none=True,
            metadata={
                "description": "Licence lifetime, and each renewal's extension; "
                "null: perpetual.",
                "example": 365,
            },
            **_DAYS,
        ),
        "updates_days": fields.Integer(
            allow_none=True,
            metadata={"description": "Updates period; null: no end.", "example": 365},
            **_DAYS,
        ),
        "refund_policy": fields.String(
            validate=validate.OneOf([policy.value for policy in RefundPolicy]),
            metadata={
                "description": "On a refund or a subscription's end: revoke at once, "
                "or lapse (expire then; the product's expiry policy applies).",
                "example": "revoke",
            },
        ),
    }


MappingIn = Schema.from_dict(
    {
        "external_id": fields.String(
            required=True,
            validate=validate.Length(min=1, max=128),
            metadata={
                "description": "The store's product, price or variation id.",
                "example": "price_1QxYz",
            },
        ),
        "product": fields.String(
            required=True,
            validate=validate.Length(min=1, max=64),
            metadata={"example": "jannah"},
        ),
        **_template(),
    },
    name="MappingIn",
)
MappingPatch = Schema.from_dict(_template(), name="MappingPatch")


class MappingOut(Schema):
    id = fields.UUID()
    connection_id = fields.UUID()
    external_id = fields.String()
    product_id = fields.UUID()
    max_domains = fields.Integer(allow_none=True)
    duration_days = fields.Integer(allow_none=True)
    updates_days = fields.Integer(allow_none=True)
    refund_policy = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class MappingList(Schema):
    data = fields.List(fields.Nested(MappingOut))


class StoreEventQuery(Schema):
    connection = fields.UUID(load_default=None)
    outcome = fields.String(
        load_default=None, validate=validate.OneOf([o.value for o in Outcome])
    )
    limit = LIMIT
    cursor = CURSOR


class StoreEventOut(Schema):
    id = fields.Integer()
    connection_id = fields.UUID()
    received_at = fields.AwareDateTime()
    event_type = fields.String(allow_none=True)
    external_id = fields.String(
        allow_none=True, metadata={"description": "The store's event or order id."}
    )
    outcome = fields.String(
        metadata={"description": ", ".join(outcome.value for outcome in Outcome)}
    )
    reason = fields.String(allow_none=True)
    license_ids = fields.List(fields.String())


class StoreEventList(Schema):
    data = fields.List(fields.Nested(StoreEventOut))
    next = fields.String(allow_none=True)


class ReceivedOut(Schema):
    outcome = fields.String(required=True, metadata={"example": "issued"})
    event_type = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    license_ids = fields.List(fields.String())


class EnvatoIn(Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=8, max=256),
        metadata={
            "description": "An Envato personal token (build.envato.com) with the "
            'permission "View your items\' sales history".',
            "example": "yKp2Vd0qTnR7hWc4ZsXe9LmB3gAfJu6N",
        },
    )


class EnvatoOut(Schema):
    token_hint = fields.String(metadata={"description": "The token's last 4."})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class EnvatoProductIn(Schema):
    item_id = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=2**53),
        metadata={"description": "The item's id on ThemeForest.", "example": 2819356},
    )
    regular_seats = fields.Integer(
        load_default=1, strict=True, validate=validate.Range(min=1, max=100_000)
    )
    extended_seats = fields.Integer(
        load_default=1, strict=True, validate=validate.Range(min=1, max=100_000)
    )


class EnvatoProductOut(Schema):
    product_id = fields.UUID()
    item_id = fields.Integer()
    regular_seats = fields.Integer()
    extended_seats = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class EnvatoProductList(Schema):
    data = fields.List(fields.Nested(EnvatoProductOut))
