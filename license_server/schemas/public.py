"""Schemas of the public endpoints (PROTOCOL §2)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from license_server.examples import SAMPLE_KEY

_KEY = fields.String(
    required=True,
    validate=validate.Length(min=1, max=200),
    metadata={"example": SAMPLE_KEY},
)
_DOMAIN = fields.String(
    required=True,
    # no minimum: an empty host is INVALID_DOMAIN (400), like every unusable one
    validate=validate.Length(max=2048),
    metadata={
        "description": "A host or URL; canonicalised (PROTOCOL §3).",
        "example": "https://www.shop.example.com",
    },
)
_PRODUCT = fields.String(
    required=True,
    # "vendor/product", or a bare product slug (the first product that took it)
    validate=validate.Regexp(r"^(?:[^/]{1,64}/)?[^/]{1,64}$"),
    metadata={
        "example": "acme-themes/jannah",
        "description": "`vendor/product`; a bare slug names the first product "
        "that took it (clients of protocol 1).",
    },
)
_NONCE = fields.String(
    load_default=None,
    validate=validate.Length(min=1, max=128),
    metadata={
        "description": "Echoed in the answer and in the signed token.",
        "example": "b7Qd2mX9",
    },
)


_VERSION = fields.String(
    load_default=None,
    validate=validate.Length(max=64),
    metadata={
        "description": "The installed theme's version (informational).",
        "example": "1.0.0",
    },
)


class ValidateIn(Schema):
    license_key = _KEY
    domain = _DOMAIN
    product = _PRODUCT
    nonce = _NONCE
    version = _VERSION


class ActivateIn(Schema):
    license_key = _KEY
    domain = _DOMAIN
    product = _PRODUCT
    nonce = _NONCE
    version = _VERSION
    environment = fields.String(
        load_default=None,
        validate=validate.Length(max=32),
        metadata={
            "description": "The client's own claim; recorded, never trusted.",
            "example": "production",
        },
    )


class DeactivateIn(Schema):
    license_key = _KEY
    domain = _DOMAIN


class LicenseClaim(Schema):
    status = fields.String()
    expires_at = fields.String(allow_none=True)
    updates_until = fields.String(allow_none=True)
    max_domains = fields.Integer()
    active_domains = fields.Integer()


class ValidateOut(Schema):
    valid = fields.Boolean(required=True)
    code = fields.String(required=True)
    detail = fields.String(required=True)
    license = fields.Nested(LicenseClaim, allow_none=True)
    domain = fields.String(required=True)
    nonce = fields.String(allow_none=True)
    ts = fields.String(required=True)
    token = fields.String(
        required=True, metadata={"description": "EdDSA JWT (typ license+jwt)."}
    )


class ActivateOut(ValidateOut):
    activation_id = fields.String(required=True)


class DeactivateOut(Schema):
    deactivated = fields.Boolean(required=True)
    domain = fields.String(required=True)


class Jwk(Schema):
    kty = fields.String()
    crv = fields.String()
    x = fields.String()
    kid = fields.String()
    alg = fields.String()
    use = fields.String()
    public_key_b64 = fields.String(
        metadata={"description": "Release keys only: base64 for wp_trusted_keys."}
    )


class Jwks(Schema):
    keys = fields.List(fields.Nested(Jwk))


class RefusalDetail(Schema):
    license = fields.Nested(LicenseClaim, allow_none=True)
    domain = fields.String(required=True)
    nonce = fields.String(allow_none=True)
    ts = fields.String(required=True)


class RefusalOut(Schema):
    """A refused activation: the error shape plus the signed negative answer."""

    code = fields.String(
        required=True, metadata={"example": "ACTIVATION_LIMIT_REACHED"}
    )
    message = fields.String(required=True)
    detail = fields.Nested(RefusalDetail, required=True)
    request_id = fields.String(required=True)
    valid = fields.Boolean(required=True, metadata={"example": False})
    token = fields.String(required=True, metadata={"description": "EdDSA JWT."})
