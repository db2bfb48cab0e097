"""Schemas of the admin API."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

DAY = 24 * 3600
SLUG = validate.Regexp(
    r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$",
    error="Use 1-64 of a-z, 0-9 and inner dashes.",
)
LIMIT = fields.Integer(
    load_default=50,
    validate=validate.Range(min=1, max=100),
    metadata={"description": "Page size, at most 100."},
)
CURSOR = fields.String(
    load_default=None,
    validate=validate.Length(max=512),
    metadata={"description": "The `next` value of the previous page."},
)


def _metadata(value: dict[str, Any]) -> None:
    if len(value) > 50 or len(json.dumps(value)) > 16_384:
        raise ValidationError("At most 50 keys and 16 KiB of JSON.")
    for key, item in value.items():
        if not 1 <= len(key) <= 40:
            raise ValidationError("Keys are 1 to 40 characters.")
        if not isinstance(item, str | int | float | bool) and item is not None:
            raise ValidationError("Values are strings, numbers, booleans or null.")


# --- products ---------------------------------------------------------------


def _policy_fields(defaults: bool) -> dict[str, Any]:
    """Policy fields, with defaults for create and without for update."""

    def default(value: Any) -> dict[str, Any]:
        return {"load_default": value} if defaults else {}

    return {
        "name": fields.String(
            validate=validate.Length(min=1, max=200),
            metadata={"example": "Jannah"},
            required=defaults,
        ),
        "key_prefix": fields.String(
            validate=validate.Length(max=8), metadata={"example": "JAN"}, **default("")
        ),
        "max_domains": fields.Integer(
            strict=True,
            validate=validate.Range(min=1, max=100_000),
            metadata={"description": "Seats per license (domains).", "example": 1},
            **default(1),
        ),
        "max_dev_domains": fields.Integer(
            strict=True,
            allow_none=True,
            validate=validate.Range(min=0, max=100_000),
            metadata={
                "description": "Cap on live development activations per license "
                "(default 3); null: no cap."
            },
            **default(3),
        ),
        "max_deactivations": fields.Integer(
            strict=True,
            validate=validate.Range(min=0, max=1000),
            metadata={
                "description": "Deactivations a license may make per 24 hours "
                "(default 3; the public endpoint and the portal share it)."
            },
            **default(3),
        ),
        "token_ttl": fields.Integer(
            strict=True,
            validate=validate.Range(min=60, max=90 * DAY),
            metadata={"description": "Seconds a domain token is fresh."},
            **default(7 * DAY),
        ),
        "grace_period": fields.Integer(
            strict=True,
            validate=validate.Range(min=0, max=365 * DAY),
            metadata={
                "description": "Seconds after exp an offline client still trusts."
            },
            **default(14 * DAY),
        ),
        "expiry_policy": fields.String(
            validate=validate.OneOf(["restrict", "allow"]), **default("allow")
        ),
        "dev_patterns": fields.List(
            fields.String(validate=validate.Length(min=1, max=253)),
            validate=validate.Length(max=50),
            metadata={"example": ["staging.*", "*.wpengine.com"]},
            **default(list),
        ),
    }


ProductIn = Schema.from_dict(
    {
        "slug": fields.String(
            required=True, validate=SLUG, metadata={"example": "jannah"}
        ),
        **_policy_fields(defaults=True),
    },
    name="ProductIn",
)
ProductPatch = Schema.from_dict(_policy_fields(defaults=False), name="ProductPatch")


class ProductOut(Schema):
    id = fields.UUID()
    slug = fields.String()
    name = fields.String()
    key_prefix = fields.String()
    max_domains = fields.Integer()
    max_dev_domains = fields.Integer(allow_none=True)
    max_deactivations = fields.Integer()
    token_ttl = fields.Integer()
    grace_period = fields.Integer()
    expiry_policy = fields.String()
    dev_patterns = fields.List(fields.String())
    archived = fields.Function(lambda product: product.archived_at is not None)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    archived_at = fields.AwareDateTime(allow_none=True)


class ProductList(Schema):
    data = fields.List(fields.Nested(ProductOut))


# --- licenses ---------------------------------------------------------------


def _license_fields(defaults: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {"load_default": None} if defaults else {}
    return {
        "max_domains": fields.Integer(
            strict=True,
            allow_none=True,
            validate=validate.Range(min=1, max=100_000),
            metadata={
                "description": "Overrides the product's max_domains; null: use it."
            },
            **extra,
        ),
        "expires_at": fields.AwareDateTime(
            allow_none=True,
            metadata={"example": "2027-12-31T23:59:59Z"},
            **extra,
        ),
        "updates_until": fields.AwareDateTime(
            allow_none=True, metadata={"example": "2027-12-31T23:59:59Z"}, **extra
        ),
        "customer_email": fields.Email(
            allow_none=True,
            validate=validate.Length(max=320),
            metadata={"example": "buyer@example.com"},
            **extra,
        ),
        "customer_name": fields.String(
            allow_none=True,
            validate=validate.Length(max=200),
            metadata={"example": "Ada Lovelace"},
            **extra,
        ),
        "notes": fields.String(
            allow_none=True,
            validate=validate.Length(max=10_000),
            metadata={"example": "Order #1042"},
            **extra,
        ),
        "meta": fields.Dict(
            data_key="metadata",
            keys=fields.String(),
            validate=_metadata,
            metadata={"description": "Free-form object: ≤ 50 keys, scalar values."},
            **extra,
        ),
    }


LicenseIn = Schema.from_dict(
    {
        "product": fields.String(
            required=True, validate=SLUG, metadata={"example": "jannah"}
        ),
        **_license_fields(defaults=True),
    },
    name="LicenseIn",
)
LicenseBatchIn = Schema.from_dict(
    {
        "product": fields.String(
            required=True, validate=SLUG, metadata={"example": "jannah"}
        ),
        "count": fields.Integer(
            strict=True,
            required=True,
            validate=validate.Range(min=1, max=1000),
            metadata={
                "description": "How many licenses to issue (1 to 1,000).",
                "example": 100,
            },
        ),
        **_license_fields(defaults=True),
    },
    name="LicenseBatchIn",
)
LicensePatch = Schema.from_dict(_license_fields(defaults=False), name="LicensePatch")


class RenewIn(Schema):
    days = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=1, max=3650),
        metadata={
            "description": "Days to add to expires_at and updates_until.",
            "example": 365,
        },
    )


class LicenseOut(Schema):
    id = fields.UUID()
    product = fields.Function(lambda license: license.product.slug)
    key = fields.String(
        metadata={
            "description": "Present on create and re-key, and on get with a write key "
            "(a read key sees `key_hint` only)."
        }
    )
    key_hint = fields.String(metadata={"description": "Last four symbols of the key."})
    status = fields.String()
    max_domains = fields.Integer(attribute="seat_limit")
    expires_at = fields.AwareDateTime(allow_none=True)
    updates_until = fields.AwareDateTime(allow_none=True)
    customer_email = fields.String(allow_none=True)
    customer_name = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    meta = fields.Dict(data_key="metadata")
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class LicenseList(Schema):
    data = fields.List(fields.Nested(LicenseOut))
    next = fields.String(allow_none=True)


class LicenseBatchOut(Schema):
    data = fields.List(fields.Nested(LicenseOut))


class LicenseSearch(Schema):
    """The body of ``POST /licenses/search``: the filters, and a key kept off URLs."""

    product = fields.String(validate=SLUG, load_default=None)
    status = fields.String(
        validate=validate.OneOf(["active", "suspended", "revoked"]), load_default=None
    )
    customer_email = fields.String(validate=validate.Length(max=320), load_default=None)
    domain = fields.String(validate=validate.Length(max=2048), load_default=None)
    expires_before = fields.AwareDateTime(load_default=None)
    expires_after = fields.AwareDateTime(load_default=None)
    key = fields.String(
        validate=validate.Length(max=200),
        load_default=None,
        metadata={"description": "Find a license by its full key (not in the URL)."},
    )
    limit = LIMIT
    cursor = CURSOR


class LicenseQuery(Schema):
    product = fields.String(validate=SLUG, load_default=None)
    status = fields.String(
        validate=validate.OneOf(["active", "suspended", "revoked"]), load_default=None
    )
    customer_email = fields.String(validate=validate.Length(max=320), load_default=None)
    domain = fields.String(
        validate=validate.Length(max=2048),
        load_default=None,
        metadata={"description": "Licenses with a live activation on this domain."},
    )
    expires_before = fields.AwareDateTime(load_default=None)
    expires_after = fields.AwareDateTime(load_default=None)
    key = fields.String(
        validate=validate.Length(max=200),
        load_default=None,
        metadata={
            "description": "Find a license by its full key. Deprecated: a URL ends up "
            "in logs; use POST /licenses/search (the access log redacts `key=`)."
        },
    )
    customer_name = fields.String(
        validate=validate.Length(max=200),
        load_default=None,
        metadata={"description": "Customer name contains this (any case)."},
    )
    limit = LIMIT
    cursor = CURSOR


# --- activations --------------------------------------------------------------


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
    # what the site's update checks last reported (runtime/siteversions.py)
    theme_version = fields.String(
        allow_none=True,
        metadata={
            "description": "The installed theme version the site last reported in an "
            "update check; null until it reports one.",
            "example": "7.1.0",
        },
    )
    wp_version = fields.String(
        allow_none=True,
        metadata={
            "description": "The WordPress version the site last reported.",
            "example": "6.5.2",
        },
    )
    php_version = fields.String(
        allow_none=True,
        metadata={
            "description": "The PHP version the site last reported.",
            "example": "8.2.10",
        },
    )
    versions_reported_at = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When those versions were last written (advisory: "
            "unchanged versions are rewritten at most once per LAST_SEEN_INTERVAL)."
        },
    )


class ActivationList(Schema):
    data = fields.List(fields.Nested(ActivationOut))
    next = fields.String(allow_none=True)


class ActivationQuery(Schema):
    license_id = fields.UUID(load_default=None)
    domain = fields.String(validate=validate.Length(max=2048), load_default=None)
    development = fields.Boolean(load_default=None)
    active = fields.Boolean(load_default=None)
    limit = LIMIT
    cursor = CURSOR


class PageQuery(Schema):
    limit = LIMIT
    cursor = CURSOR


# --- API keys and signing keys -----------------------------------------------------


class ApiKeyIn(Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "billing system"},
    )
    scope = fields.String(
        load_default="read",
        validate=validate.OneOf(["read", "write"]),
        metadata={"description": "read: GET only; write: everything."},
    )


class ApiKeyOut(Schema):
    id = fields.UUID()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The visible start of the key."})
    scope = fields.String()
    key = fields.String(metadata={"description": "The key itself: on create only."})
    created_at = fields.AwareDateTime()
    last_used_at = fields.AwareDateTime(allow_none=True)
    revoked_at = fields.AwareDateTime(allow_none=True)


class ApiKeyList(Schema):
    data = fields.List(fields.Nested(ApiKeyOut))


class SigningKeyOut(Schema):
    id = fields.UUID()
    kid = fields.String()
    status = fields.String(
        metadata={"description": "active (signs), verifying (in JWKS), retired."}
    )
    jwk = fields.Method("_jwk")
    created_at = fields.AwareDateTime()
    retired_at = fields.AwareDateTime(allow_none=True)

    def _jwk(self, key: Any) -> dict[str, str]:
        from license_server.signing import public_jwk

        return public_jwk(key.kid, key.public_key)


class SigningKeyList(Schema):
    data = fields.List(fields.Nested(SigningKeyOut))


# --- events and stats -----------------------------------------------------------


class EventOut(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    actor = fields.String()
    action = fields.String()
    subject_type = fields.String()
    subject_id = fields.String()
    data = fields.Dict()
    created_at = fields.AwareDateTime()
    prev_digest = fields.String()
    digest = fields.String()


class EventList(Schema):
    data = fields.List(fields.Nested(EventOut))
    next = fields.String(allow_none=True)


class EventQuery(Schema):
    action = fields.String(validate=validate.Length(max=64), load_default=None)
    actor = fields.String(validate=validate.Length(max=64), load_default=None)
    subject_type = fields.String(validate=validate.Length(max=32), load_default=None)
    subject_id = fields.String(validate=validate.Length(max=64), load_default=None)
    since = fields.AwareDateTime(load_default=None)
    until = fields.AwareDateTime(load_default=None)
    limit = LIMIT
    cursor = CURSOR


class DailyOut(Schema):
    date = fields.String()
    activations = fields.Integer()
    validations = fields.Integer()


class ProductStatsOut(Schema):
    product = fields.String()
    licenses_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    active_domains = fields.Integer()
    daily = fields.List(fields.Nested(DailyOut))


class StatsOut(Schema):
    licenses_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    active_domains = fields.Integer()
    products = fields.List(fields.Nested(ProductStatsOut))
    updates = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "Per product slug: update checks, versions, downloads."
        },
    )
