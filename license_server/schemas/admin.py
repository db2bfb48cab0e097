"""Schemas of the admin API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

DAY = 24 * 3600
SLUG = validate.Regexp(
    r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$",
    error="Use 1-64 of a-z, 0-9 and inner dashes.",
)


class ProductIn(Schema):
    slug = fields.String(required=True, validate=SLUG, metadata={"example": "jannah"})
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "Jannah"},
    )
    key_prefix = fields.String(
        load_default="", validate=validate.Length(max=8), metadata={"example": "JAN"}
    )
    max_domains = fields.Integer(
        load_default=1, validate=validate.Range(min=1, max=100_000)
    )
    max_dev_domains = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=100_000),
        metadata={"description": "Cap on development activations; null: no cap."},
    )
    token_ttl = fields.Integer(
        load_default=7 * DAY,
        validate=validate.Range(min=60, max=90 * DAY),
        metadata={"description": "Seconds a domain token is fresh."},
    )
    grace_period = fields.Integer(
        load_default=14 * DAY,
        validate=validate.Range(min=0, max=365 * DAY),
        metadata={"description": "Seconds after exp an offline client keeps trusting."},
    )
    expiry_policy = fields.String(
        load_default="allow", validate=validate.OneOf(["restrict", "allow"])
    )
    dev_patterns = fields.List(
        fields.String(validate=validate.Length(min=1, max=253)),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"example": ["staging.*", "*.wpengine.com"]},
    )


class ProductOut(Schema):
    id = fields.UUID()
    slug = fields.String()
    name = fields.String()
    key_prefix = fields.String()
    max_domains = fields.Integer()
    max_dev_domains = fields.Integer(allow_none=True)
    token_ttl = fields.Integer()
    grace_period = fields.Integer()
    expiry_policy = fields.String()
    dev_patterns = fields.List(fields.String())
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    archived_at = fields.AwareDateTime(allow_none=True)


class ProductList(Schema):
    data = fields.List(fields.Nested(ProductOut))


class LicenseIn(Schema):
    product = fields.String(required=True, validate=SLUG)
    max_domains = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=100_000),
        metadata={"description": "Overrides the product's max_domains."},
    )
    expires_at = fields.AwareDateTime(load_default=None, allow_none=True)
    updates_until = fields.AwareDateTime(load_default=None, allow_none=True)
    customer_email = fields.Email(
        load_default=None, allow_none=True, validate=validate.Length(max=320)
    )
    customer_name = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=200)
    )


class LicenseOut(Schema):
    id = fields.UUID()
    product = fields.Function(lambda license: license.product.slug)
    key = fields.String(metadata={"description": "Present on create and get only."})
    key_hint = fields.String(metadata={"description": "Last four symbols of the key."})
    status = fields.String()
    max_domains = fields.Integer(attribute="seat_limit")
    expires_at = fields.AwareDateTime(allow_none=True)
    updates_until = fields.AwareDateTime(allow_none=True)
    customer_email = fields.String(allow_none=True)
    customer_name = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class LicenseList(Schema):
    data = fields.List(fields.Nested(LicenseOut))


class LicenseQuery(Schema):
    product = fields.String(validate=SLUG)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=100))


class ActivationOut(Schema):
    id = fields.UUID()
    license_id = fields.UUID()
    domain = fields.String()
    development = fields.Boolean()
    environment = fields.String(allow_none=True)
    active = fields.Function(lambda activation: activation.deactivated_at is None)
    created_at = fields.AwareDateTime()
    last_seen_at = fields.AwareDateTime()
    deactivated_at = fields.AwareDateTime(allow_none=True)


class ActivationList(Schema):
    data = fields.List(fields.Nested(ActivationOut))
