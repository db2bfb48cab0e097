"""Public endpoints: activate, validate, deactivate, JWKS (PROTOCOL §2)."""

from __future__ import annotations

from typing import Any, cast

from flask import Response, current_app, g, request

from license_server import errors, keys, metrics
from license_server.api import context, docs
from license_server.api.parsing import Blueprint
from license_server.channels.api import PUBLIC_ERRORS as CHANNEL_ERRORS
from license_server.channels.api import admit_purchase_code
from license_server.runtime import Runtime
from license_server.schemas import public as schemas
from license_server.services import activations, validation, vendors
from license_server.updates import release_keys
from license_server.webhooks.endpoints import public_jwks as webhook_jwks

blp = Blueprint(
    "public", __name__, url_prefix="/v1", description="Activation and validation."
)
blp.accepts_forms = True
PUBLIC_ERRORS = (400, 413, 415, 422, 429, 503)


@blp.post("/activate")
@blp.arguments(schemas.ActivateIn())
@blp.response(201, schemas.ActivateOut, description="A new activation.")
@blp.alt_response(200, schema=schemas.ActivateOut, description="Already active.")
@blp.alt_response(
    409,
    schema=schemas.RefusalOut,
    description="ACTIVATION_LIMIT_REACHED or PRODUCT_MISMATCH, with the signed token.",
)
@blp.alt_response(
    403,
    schema=schemas.RefusalOut,
    description="REVOKED, SUSPENDED or EXPIRED, with the signed token.",
)
@blp.alt_response(
    404,
    schema=schemas.RefusalOut,
    description="NOT_FOUND with the signed token; or PRODUCT_NOT_FOUND (error shape).",
)
@docs.raises(*docs.SIGNED_REFUSALS, errors.ProductNotFound, errors.Conflict)
@docs.raises(errors.InvalidKeyFormat, errors.InvalidDomain, *CHANNEL_ERRORS)
def activate(args: dict[str, Any]) -> Response:
    """Activate a domain on a license (idempotent per domain)."""
    args.pop("version", None)
    admit_purchase_code(args["license_key"], args["product"])
    body, status = activated(context.runtime(), args, request.remote_addr)
    return _answer(body, status)


def activated(
    runtime: Runtime,
    args: dict[str, Any],
    client_address: str | None,
    parsed: keys.LicenseKey | None = None,
) -> tuple[dict[str, Any], int]:
    """Run the activate use case; return its answer's body and HTTP status.

    Shared by the view above and the fast lane, as :func:`validated` is. A refusal
    raises :class:`activations.ActivationRefused` (counted first).
    """
    try:
        answer, created = activations.activate(
            runtime=runtime,
            client_address=client_address,
            now=runtime.now(),
            parsed=parsed,
            **args,
        )
    except activations.ActivationRefused as refusal:
        metrics.count_result("activate", refusal.code)
        raise
    metrics.count_result("activate", str(answer.code))
    return answer.body(), 201 if created else 200


@blp.post("/validate")
@blp.arguments(schemas.ValidateIn())
@blp.response(200, schemas.ValidateOut)
@docs.raises(errors.ProductNotFound, errors.InvalidKeyFormat, errors.InvalidDomain)
@docs.raises(*CHANNEL_ERRORS)
def validate(args: dict[str, Any]) -> Response:
    """Validate a license on a domain; the answer is signed, positive or negative."""
    args.pop("version", None)
    admit_purchase_code(args["license_key"], args["product"])
    body, g.answer_code = validated(context.runtime(), args)
    return _answer(body, 200)


def validated(
    runtime: Runtime, args: dict[str, Any], parsed: keys.LicenseKey | None = None
) -> tuple[dict[str, Any], str]:
    """Run the validate use case; return its answer's body and result code.

    Shared by the view above and the fast lane (:mod:`license_server.api.fastlane`),
    which serves the common request without Flask's request machinery (and passes
    the key it has ``parsed`` already).
    """
    answer = validation.validate(
        runtime=runtime, now=runtime.now(), parsed=parsed, **args
    )
    code = str(answer.code)
    metrics.count_result("validate", code)
    body = answer.body()
    body.pop("activation_id", None)  # validate's answer has none (PROTOCOL §2)
    return body, code


def _answer(body: dict[str, Any], status: int) -> Response:
    """Render a signed answer as JSON, as the documented schema would.

    The body is already the schema's shape (:meth:`Answer.body`), so it is encoded
    directly, as ``jsonify`` would, rather than dumped through marshmallow first: the
    hot path skips a schema walk per answer (``tests/server/test_public_api.py``
    compares both renderings).
    """
    response = cast("Response", current_app.json.response(body))
    response.status_code = status
    return response


@blp.post("/deactivate")
@blp.arguments(schemas.DeactivateIn())
@blp.response(200, schemas.DeactivateOut)
@docs.raises(
    activations.NoSuchActivation,  # an unknown key and a domain without a seat alike
    activations.DeactivationLimitReached,
    errors.InvalidKeyFormat,
    errors.InvalidDomain,
)
def deactivate(args: dict[str, Any]) -> dict[str, Any]:
    """Free the seat a domain holds, at once."""
    activation = activations.deactivate(
        keyring=context.keyring(),
        client_address=request.remote_addr,
        now=context.now(),
        **args,
    )
    return {"deactivated": True, "domain": activation.domain}


@blp.get("/vendors/<vendor>/jwks.json")
@blp.response(200, schemas.Jwks)
@docs.raises(errors.NotFound)
def jwks(vendor: str) -> dict[str, Any]:
    """Publish a vendor's public keys (for tooling; clients pin theirs)."""
    found = vendors.vendor_by_slug(vendor)
    # release keys (use "release") sign packages, not tokens: docs/UPDATES.md §4;
    # webhook keys (kids "webhook-…") sign webhooks: docs/WEBHOOKS.md
    releases = release_keys.public_jwks(found.id)
    hooks = webhook_jwks(found.id, context.now())
    return {"keys": vendors.public_keys(found.id) + releases + hooks}
