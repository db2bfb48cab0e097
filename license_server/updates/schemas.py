"""Schemas of the update endpoints (public and admin)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from license_server.models import Channel, ProductType

_CHANNEL = validate.OneOf([c.value for c in Channel])
_VERSION = validate.Length(min=1, max=64)
_SHORT = validate.Length(max=32)
_URL = validate.And(validate.Length(max=500), validate.URL(schemes={"http", "https"}))
_PERCENT = validate.Range(min=0, max=100)


class UpdateCheckIn(Schema):
    license_key = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "The site's license key.",
            "example": "JAN-G2MB7-AMC5X-33HVP-Y7CKC-X6H2F",
        },
    )
    domain = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2048),
        metadata={
            "description": "The site's host or URL; canonicalised (PROTOCOL §3).",
            "example": "shop.example.com",
        },
    )
    product = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The product's slug.", "example": "jannah"},
    )
    version = fields.String(
        required=True,
        validate=_VERSION,
        metadata={
            "description": "The installed version (PHP version_compare order).",
            "example": "7.1.0",
        },
    )
    channel = fields.String(load_default="stable", validate=_CHANNEL)
    wp_version = fields.String(load_default=None, validate=_SHORT)
    php_version = fields.String(load_default=None, validate=_SHORT)
    locale = fields.String(load_default=None, validate=validate.Length(max=16))
    nonce = fields.String(load_default=None, validate=validate.Length(min=1, max=128))


class Reason(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    renewal_url = fields.String(allow_none=True)


class UpdateCheckOut(Schema):
    product = fields.String(required=True)
    type = fields.String(required=True)
    installed_version = fields.String(required=True)
    channel = fields.String(required=True)
    update_available = fields.Boolean(required=True)
    entitled = fields.Boolean(required=True)
    new_version = fields.String(required=True)
    latest_version = fields.String(required=True)
    theme = fields.String(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    version = fields.String(required=True)
    url = fields.String(required=True)
    package = fields.String(allow_none=True)
    requires = fields.String(allow_none=True)
    requires_php = fields.String(allow_none=True)
    tested = fields.String(allow_none=True)
    last_updated = fields.String(allow_none=True)
    homepage = fields.String(allow_none=True)
    sections = fields.Dict(keys=fields.String(), values=fields.String())
    banners = fields.Dict(keys=fields.String(), values=fields.String())
    icons = fields.Dict(keys=fields.String(), values=fields.String())
    reason = fields.Nested(Reason, allow_none=True)
    code = fields.String(required=True)
    valid = fields.Boolean(required=True)
    license = fields.Dict(allow_none=True)
    domain = fields.String(required=True)
    nonce = fields.String(allow_none=True)
    ts = fields.String(required=True)
    token = fields.String(required=True)


class PucQuery(Schema):
    class Meta:
        unknown = "exclude"  # PUC and theme authors add their own arguments

    license_key = fields.String(load_default="", validate=validate.Length(max=200))
    domain = fields.String(load_default="", validate=validate.Length(max=2048))
    installed_version = fields.String(load_default="0", validate=_VERSION)
    channel = fields.String(load_default="stable", validate=_CHANNEL)
    php = fields.String(load_default=None, validate=_SHORT)
    wp = fields.String(load_default=None, validate=_SHORT)
    locale = fields.String(load_default=None, validate=validate.Length(max=16))


class ReleaseIn(Schema):
    version = fields.String(
        required=True,
        validate=_VERSION,
        metadata={
            "description": "The release's version (PHP version_compare order).",
            "example": "7.2.0",
        },
    )
    channel = fields.String(load_default="stable", validate=_CHANNEL)
    changelog = fields.String(load_default="", validate=validate.Length(max=200_000))
    requires = fields.String(load_default=None, allow_none=True, validate=_SHORT)
    requires_php = fields.String(load_default=None, allow_none=True, validate=_SHORT)
    tested = fields.String(load_default=None, allow_none=True, validate=_SHORT)
    rollout_percent = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=_PERCENT
    )


class ReleasePatch(Schema):
    changelog = fields.String(
        validate=validate.Length(max=200_000),
        metadata={"description": "Release notes in Markdown."},
    )
    requires = fields.String(
        allow_none=True,
        validate=_SHORT,
        metadata={
            "description": "The lowest WordPress version the release needs.",
            "example": "6.1",
        },
    )
    requires_php = fields.String(
        allow_none=True,
        validate=_SHORT,
        metadata={
            "description": "The lowest PHP version the release needs.",
            "example": "7.4",
        },
    )
    tested = fields.String(
        allow_none=True,
        validate=_SHORT,
        metadata={
            "description": "The newest WordPress version it was tested with.",
            "example": "6.7",
        },
    )
    rollout_percent = fields.Integer(
        allow_none=True,
        strict=True,
        validate=_PERCENT,
        metadata={
            "description": "Share of licenses offered it (staged rollout); null: all.",
            "example": 25,
        },
    )


class YankIn(Schema):
    reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=500)
    )


class ReleaseOut(Schema):
    id = fields.UUID(required=True)
    product_id = fields.UUID(required=True)
    version = fields.String(required=True)
    channel = fields.String(required=True)
    changelog = fields.String(required=True)
    requires = fields.String(allow_none=True)
    requires_php = fields.String(allow_none=True)
    tested = fields.String(allow_none=True)
    rollout_percent = fields.Integer(allow_none=True)
    sha256 = fields.String(allow_none=True)
    sha384 = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    signature = fields.String(allow_none=True)
    signature_kid = fields.String(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)
    yanked_at = fields.AwareDateTime(allow_none=True)
    yank_reason = fields.String(allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class ReleaseList(Schema):
    data = fields.List(fields.Nested(ReleaseOut))


class UpdateSettingsIn(Schema):
    type = fields.String(validate=validate.OneOf([t.value for t in ProductType]))
    renewal_url = fields.String(
        allow_none=True,
        validate=_URL,
        metadata={
            "description": "Where a site owner renews; shown when not entitled.",
            "example": "https://example.com/renew",
        },
    )
    homepage = fields.String(
        allow_none=True,
        validate=_URL,
        metadata={
            "description": "The product's home page URL.",
            "example": "https://example.com/jannah",
        },
    )
    channels = fields.List(
        fields.String(validate=_CHANNEL),
        validate=validate.Length(min=1, max=2),
        metadata={
            "description": "Channels a license may receive unless its rules differ.",
            "example": ["stable", "beta"],
        },
    )
    rollout_percent = fields.Integer(
        strict=True,
        validate=_PERCENT,
        metadata={
            "description": "Default staged-rollout share for new releases.",
            "example": 100,
        },
    )
    description = fields.String(
        validate=validate.Length(max=100_000),
        metadata={"description": "The product's description (plugin details screen)."},
    )
    installation = fields.String(
        validate=validate.Length(max=100_000),
        metadata={"description": "Installation notes (plugin details screen)."},
    )
    banners = fields.Dict(
        keys=fields.String(validate=validate.OneOf(["low", "high"])),
        values=fields.String(validate=_URL),
        metadata={"description": "Banner image URLs for the plugin details screen."},
    )
    icons = fields.Dict(
        keys=fields.String(validate=validate.OneOf(["1x", "2x", "svg"])),
        values=fields.String(validate=_URL),
        metadata={"description": "Icon URLs for the plugin details screen."},
    )


class UpdateSettingsOut(Schema):
    type = fields.String()
    renewal_url = fields.String(allow_none=True)
    homepage = fields.String(allow_none=True)
    channels = fields.List(fields.String())
    rollout_percent = fields.Integer()
    description = fields.String()
    installation = fields.String()
    banners = fields.Dict(keys=fields.String(), values=fields.String())
    icons = fields.Dict(keys=fields.String(), values=fields.String())


class UpdateRulesIn(Schema):
    max_version = fields.String(
        allow_none=True,
        validate=_VERSION,
        metadata={
            "description": "The newest version this license may receive; null: no cap.",
            "example": "7.9",
        },
    )
    channels = fields.List(
        fields.String(validate=_CHANNEL),
        allow_none=True,
        validate=validate.Length(max=2),
        metadata={
            "description": "Channels this license may receive.",
            "example": ["stable"],
        },
    )


class UpdateRulesOut(Schema):
    max_version = fields.String(allow_none=True)
    channels = fields.List(fields.String(), allow_none=True)


class ReleaseKeyOut(Schema):
    id = fields.UUID(required=True)
    kid = fields.String(required=True)
    status = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    retired_at = fields.AwareDateTime(allow_none=True)
    public_key_b64 = fields.String(required=True)
    jwk = fields.Dict(required=True)


class ReleaseKeyList(Schema):
    data = fields.List(fields.Nested(ReleaseKeyOut))
