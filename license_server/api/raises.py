"""Error answers documented from the error classes each route can raise.

A route declares the :class:`~license_server.errors.APIError` classes of the
services it calls with :func:`raises`; a blueprint declares those of its layer
(authentication, rate limits) with :func:`blueprint_raises`. The errors every
route of a kind can give come from what the shared layers raise: a JSON body
(:data:`BODY_ERRORS`), a query string (:data:`QUERY_ERRORS`), any request
(:data:`REQUEST_ERRORS`). :func:`prepare_errors_doc`, a flask-smorest doc callback,
turns the union into one OpenAPI response per status, listing each code with its
message and an example, so the reference cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from marshmallow import Schema

from license_server import errors
from license_server.api.parsing import HeadersTooLarge, MalformedBody, NulCharacter
from license_server.schemas.errors import ErrorOut
from license_server.services.idempotency import (
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)

ErrorClass = type[errors.APIError]
ERRORS_KEY = "raises"
READ_ONLY_KEY = "read_only"
WRITE_METHODS = {"post", "put", "patch", "delete"}


class PayloadTooLarge(errors.APIError):
    """Werkzeug raises the real one (``MAX_CONTENT_LENGTH``); this documents it."""

    status_code, code, message = (
        413,
        "PAYLOAD_TOO_LARGE",
        "The request body is too large.",
    )


class NoSuchRoute(errors.APIError):
    """Werkzeug's 404 for a path no route matches (a malformed id, say)."""

    status_code, code, message = 404, "NOT_FOUND", "No such resource."


BODY_ERRORS: tuple[ErrorClass, ...] = (
    errors.MalformedJSON,
    errors.UnsupportedMediaType,
    PayloadTooLarge,
    errors.ValidationFailed,
)
# what a form body adds, on blueprints that take them (``accepts_forms``)
FORM_ERRORS: tuple[ErrorClass, ...] = (MalformedBody,)
QUERY_ERRORS: tuple[ErrorClass, ...] = (errors.ValidationFailed,)
REQUEST_ERRORS: tuple[ErrorClass, ...] = (HeadersTooLarge, NulCharacter)
ADMIN_ERRORS: tuple[ErrorClass, ...] = (errors.Unauthorized, errors.ServiceUnavailable)
ADMIN_WRITE_ERRORS: tuple[ErrorClass, ...] = (errors.Forbidden,)
IDEMPOTENT_POST_ERRORS: tuple[ErrorClass, ...] = (
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    IdempotencyInFlight,
)

# Errors of a whole blueprint's layer, by blueprint name, and by method within it.
_BLUEPRINT_ERRORS: dict[str, dict[str, tuple[ErrorClass, ...]]] = {}


def raises(*classes: ErrorClass) -> Callable[[Any], Any]:
    """Declare the error classes a route can answer (beyond its layers' own)."""

    def decorate(view: Any) -> Any:
        doc = getattr(view, "_apidoc", None)
        if doc is None:
            doc = view._apidoc = {}
        doc.setdefault(ERRORS_KEY, [])
        doc[ERRORS_KEY] = [*doc[ERRORS_KEY], *classes]
        return view

    return decorate


def read_only(view: Any) -> Any:
    """Mark a POST that only reads (a search): no write or idempotency layer errors."""
    doc = getattr(view, "_apidoc", None)
    if doc is None:
        doc = view._apidoc = {}
    doc[READ_ONLY_KEY] = True
    return view


def blueprint_raises(
    name: str, *classes: ErrorClass, methods: Iterable[str] = ("*",)
) -> None:
    """Declare errors every route of blueprint ``name`` can answer (by method)."""
    table = _BLUEPRINT_ERRORS.setdefault(name, {})
    for method in methods:
        table[method.lower()] = (*table.get(method.lower(), ()), *classes)


def admin_layer_raises(name: str) -> None:
    """Declare on blueprint ``name`` what the admin authentication layer answers."""
    blueprint_raises(name, *ADMIN_ERRORS)
    blueprint_raises(
        name, *ADMIN_WRITE_ERRORS, methods=("post", "put", "patch", "delete")
    )
    blueprint_raises(name, *IDEMPOTENT_POST_ERRORS, methods=("post",))


def route_errors(
    blueprint: Any,
    method: str,
    operation: dict[str, Any],
    declared: Iterable[Any],
    *,
    reads_only: bool = False,
) -> list[ErrorClass]:
    """Return every error class one operation can answer, layers included."""
    found: list[ErrorClass] = list(declared)
    table = _BLUEPRINT_ERRORS.get(blueprint.name, {})
    found += table.get("*", ()) + (() if reads_only else table.get(method, ()))
    if "requestBody" in operation:
        found += BODY_ERRORS
        if getattr(blueprint, "accepts_forms", False):
            found += FORM_ERRORS
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        found += QUERY_ERRORS
    return found + list(REQUEST_ERRORS)


def schema_of(cls: ErrorClass) -> type[Schema]:
    """Return the schema an error class answers with (the error shape by default)."""
    schema: type[Schema] = getattr(cls, "doc_schema", ErrorOut)
    return schema


def by_status(classes: Iterable[ErrorClass]) -> dict[int, dict[str, ErrorClass]]:
    """Group error classes as ``{status: {code: class}}`` (the first class wins)."""
    grouped: dict[int, dict[str, ErrorClass]] = {}
    for cls in classes:
        grouped.setdefault(cls.status_code, {}).setdefault(cls.code, cls)
    return dict(sorted(grouped.items()))


def _example(cls: ErrorClass) -> dict[str, Any]:
    return {
        "summary": cls.code,
        "value": {
            "code": cls.code,
            "message": cls.message,
            "detail": {},
            "request_id": "3f2c1e0a9b8d4c7e",
            **getattr(cls, "doc_example", {}),
        },
    }


def _response(codes: dict[str, ErrorClass]) -> dict[str, Any]:
    found = sorted({schema_of(cls) for cls in codes.values()}, key=lambda s: s.__name__)
    # apispec turns the schema classes into components and references
    schema: Any = found[0] if len(found) == 1 else {"oneOf": found}
    return {
        "description": "\n".join(
            f"- `{code}`: {cls.message}" for code, cls in codes.items()
        ),
        "content": {
            "application/json": {
                "schema": schema,
                "examples": {code: _example(cls) for code, cls in codes.items()},
            }
        },
    }


def prepare_errors_doc(
    doc: dict[str, Any],
    doc_info: dict[str, Any],
    *,
    blueprint: Any,
    method: str,
    **_: Any,
) -> dict[str, Any]:
    """flask-smorest doc callback: add the operation's error answers to ``doc``."""
    responses = doc.setdefault("responses", {})
    for status in [key for key in responses if str(key).isdigit() and int(key) >= 400]:
        del responses[status]  # hand-written error docs give way to the derived ones
    declared = doc_info.get(ERRORS_KEY, [])
    reads_only = bool(doc_info.get(READ_ONLY_KEY))
    found = route_errors(blueprint, method, doc, declared, reads_only=reads_only)
    for status, codes in by_status(found).items():
        responses[str(status)] = _response(codes)
    return doc


def documented_codes(operation: dict[str, Any]) -> set[tuple[int, str]]:
    """Return the ``(status, code)`` pairs an OpenAPI operation documents."""
    pairs: set[tuple[int, str]] = set()
    for status, answer in operation.get("responses", {}).items():
        if not str(status).isdigit() or int(status) < 400:
            continue
        for line in answer.get("description", "").splitlines():
            if line.startswith("- `"):
                pairs.add((int(status), line[3:].split("`", 1)[0]))
    return pairs
