"""The errors the sales channels answer (stable codes, documented by ``raises``)."""

from __future__ import annotations

from license_server import errors


class SignatureInvalid(errors.APIError):
    status_code, code, message = (
        400,
        "INVALID_SIGNATURE",
        "The event's signature does not verify with this connection's secret.",
    )


class SignatureExpired(errors.APIError):
    status_code, code, message = (
        400,
        "SIGNATURE_EXPIRED",
        "The event's signed timestamp is more than 5 minutes from the server's time.",
    )


class MalformedEvent(errors.APIError):
    status_code, code, message = (
        400,
        "MALFORMED_EVENT",
        "The event is signed but its body is not the store's event shape.",
    )


class ConnectionNotFound(errors.APIError):
    status_code, code, message = (
        404,
        "NOT_FOUND",
        "No enabled store connection has this id.",
    )


class SecretRequired(errors.APIError):
    status_code, code, message = (
        422,
        "SECRET_REQUIRED",
        "Stripe makes the signing secret: paste the endpoint's whsec_ secret.",
    )


class MappingExists(errors.APIError):
    status_code, code, message = (
        409,
        "MAPPING_EXISTS",
        "This connection maps that store product id already.",
    )


class EnvatoUnavailable(errors.APIError):
    status_code, code, message = (
        503,
        "ENVATO_UNAVAILABLE",
        "Envato could not verify the purchase code just now; try again shortly.",
    )


class EnvatoRateLimited(errors.APIError):
    status_code, code, message = (
        429,
        "ENVATO_RATE_LIMITED",
        "Envato asks us to slow down; try again after the time in Retry-After.",
    )
