"""Schemas of the webhook admin API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from license_server.schemas.admin import CURSOR, LIMIT
from license_server.webhooks import signatures
from license_server.webhooks.types import ALL, EVENT_TYPES


def _url(required: bool) -> fields.String:
    return fields.String(
        required=required,
        validate=validate.Length(min=1, max=2048),
        metadata={"example": "https://crm.example.com/hooks/licensing"},
    )


def _types(required: bool) -> Any:
    return fields.List(
        fields.String(validate=validate.OneOf([ALL, *EVENT_TYPES])),
        required=required,
        validate=validate.Length(min=1, max=len(EVENT_TYPES) + 1),
        metadata={
            "description": f"Event types to receive; {ALL!r} for all.",
            "example": ["license.created", "activation.created"],
        },
    )


class EndpointIn(Schema):
    url = _url(True)
    event_types = _types(True)
    description = fields.String(validate=validate.Length(max=500), load_default="")
    enabled = fields.Boolean(load_default=True)
    scheme = fields.String(
        load_default="v1a",
        validate=validate.OneOf(["v1a", "v1"]),
        metadata={
            "description": "v1a: Ed25519 with the vendor's webhook key (in its "
            "JWKS); v1: HMAC-SHA256 with a secret shown once."
        },
    )


class EndpointPatch(Schema):
    url = _url(False)
    event_types = _types(False)
    description = fields.String(
        validate=validate.Length(max=500),
        metadata={
            "description": "A note for the vendor's staff.",
            "example": "CRM sync",
        },
    )
    enabled = fields.Boolean(
        metadata={"description": "Whether deliveries are sent.", "example": True}
    )


class EndpointOut(Schema):
    id = fields.UUID()
    url = fields.String()
    description = fields.String()
    event_types = fields.List(fields.String())
    enabled = fields.Boolean()
    disabled_reason = fields.String(allow_none=True)
    scheme = fields.String()
    secret = fields.String(
        metadata={"description": "The v1 secret: on create and rotate only."}
    )
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class EndpointList(Schema):
    data = fields.List(fields.Nested(EndpointOut))


class AttemptOut(Schema):
    attempted_at = fields.AwareDateTime()
    status_code = fields.Integer(allow_none=True)
    response_body = fields.String(
        allow_none=True, metadata={"description": "The first 2 KB of the answer."}
    )
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()


class DeliveryOut(Schema):
    id = fields.UUID()
    endpoint_id = fields.UUID()
    webhook_id = fields.String(metadata={"description": "The webhook-id header."})
    event_type = fields.String()
    state = fields.String(metadata={"description": "pending, delivered or failed."})
    tries = fields.Integer()
    next_attempt_at = fields.AwareDateTime()
    last_status = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)
    attempts = fields.List(fields.Nested(AttemptOut))


class DeliveryList(Schema):
    data = fields.List(fields.Nested(DeliveryOut))
    next = fields.String(allow_none=True)


class DeliveryQuery(Schema):
    state = fields.String(
        load_default=None, validate=validate.OneOf(["pending", "delivered", "failed"])
    )
    limit = LIMIT
    cursor = CURSOR


class WebhookKeyOut(Schema):
    id = fields.UUID()
    kid = fields.String()
    jwk = fields.Method("_jwk")
    created_at = fields.AwareDateTime()
    retires_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "Signs until then (rotated)."}
    )

    def _jwk(self, key: Any) -> dict[str, str]:
        return signatures.jwk(key.kid, key.public_key)


class WebhookKeyList(Schema):
    data = fields.List(fields.Nested(WebhookKeyOut))
