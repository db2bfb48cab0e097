"""The error body every non-2xx answer carries (PROTOCOL §5)."""

from __future__ import annotations

from marshmallow import Schema, fields


class ErrorOut(Schema):
    code = fields.String(required=True, metadata={"example": "VALIDATION_ERROR"})
    message = fields.String(required=True)
    detail = fields.Dict(required=True)
    request_id = fields.String(required=True)
