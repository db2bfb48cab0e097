"""Strict bodies for every route: one parser, the protocol's error codes.

A body must be ``application/json`` (else 415), valid UTF-8 JSON (else 400
``MALFORMED_JSON``) holding one object, without duplicate keys, ``NaN``/``Infinity``,
lone surrogates, numbers longer than :data:`MAX_NUMBER_DIGITS` or nesting deeper than
:data:`MAX_DEPTH`. A NUL character is 422 ``VALIDATION_ERROR``, except in the top-level
``domain``, where it is what every unusable host is: 400 ``INVALID_DOMAIN`` (§3).

Blueprints that set ``accepts_forms`` (the public endpoints, PROTOCOL §7) also take
``application/x-www-form-urlencoded`` — what WordPress's ``wp_remote_post()`` sends
for an array body — with the same fields and the same strictness: every value is
text, a field named twice is refused (400 ``MALFORMED_BODY``), and the schema
refuses unknown fields exactly as for JSON. Their OpenAPI request bodies list both
media types with the same schema.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser

from license_server import errors

MAX_DEPTH = 32
# Python refuses to convert integers over 4,300 digits (a ValueError, once a 500);
# no field of ours needs more than a few, so anything this long is malformed.
MAX_NUMBER_DIGITS = 100


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise errors.MalformedJSON(f"Duplicate key {name!r} in the body.")
        result[name] = value
    return result


def _no_constants(name: str) -> Any:
    raise errors.MalformedJSON(f"{name} is not valid JSON.")


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise errors.MalformedJSON(
            f"A number in the body is longer than {MAX_NUMBER_DIGITS} digits."
        )
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise errors.MalformedJSON(
            f"A number in the body is longer than {MAX_NUMBER_DIGITS} characters."
        )
    return float(text)


def _check_domain(value: Any) -> None:
    """A host with NUL is a value that cannot be a host: 400 INVALID_DOMAIN (§3)."""
    if isinstance(value, str) and "\x00" in value:
        raise errors.InvalidDomain("A domain cannot contain NUL (U+0000).")


def _check(value: Any, depth: int = 1) -> None:
    """Refuse deep nesting and lone surrogates anywhere in a parsed value."""
    if depth > MAX_DEPTH:
        raise errors.MalformedJSON(f"The body nests deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_text(name)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise errors.MalformedJSON("The body holds a lone surrogate.") from exc
    if "\x00" in text:
        raise NulCharacter()


def parse_body(data: bytes) -> dict[str, Any]:
    """Parse a request body strictly; return the JSON object it holds."""
    if not data.strip():
        raise errors.MalformedJSON("The body is empty; send a JSON object.")
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constants,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.MalformedJSON(f"The body is not valid JSON: {exc}.") from exc
    except RecursionError as exc:
        raise errors.MalformedJSON("The body nests too deeply.") from exc
    if not isinstance(value, dict):
        raise errors.MalformedJSON("The body must be a JSON object.")
    _check_domain(value.get("domain"))
    _check(value)
    return value


FORM = "application/x-www-form-urlencoded"


def parse_form(request: flask.Request) -> dict[str, Any]:
    """Return a form body's fields, refusing a field given twice or holding NUL."""
    if request.get_data(cache=True).lstrip()[:1] in (b"{", b"["):
        # `curl -d '{...}'` without a Content-Type: say so, not "unknown field '{...'"
        raise MalformedBody(
            "The body is JSON sent as a form (application/x-www-form-urlencoded, "
            "curl -d's default): send the header Content-Type: application/json."
        )
    form = request.form
    fields: dict[str, Any] = {}
    for name in form:
        values = form.getlist(name)
        if len(values) != 1:
            raise MalformedBody(f"The field {name!r} is given {len(values)} times.")
        if name == "domain":
            _check_domain(values[0])
        _check_text(name)
        _check_text(values[0])
        fields[name] = values[0]
    return fields


def accepts_forms(request: flask.Request) -> bool:
    """Return whether this request's blueprint takes form-encoded bodies."""
    blueprint = flask.current_app.blueprints.get(request.blueprint or "")
    return bool(getattr(blueprint, "accepts_forms", False))


def parse_body_once() -> dict[str, Any]:
    """Parse this request's body (JSON, or a form where allowed), once per request."""
    body: dict[str, Any] | None = flask.g.get("_parsed_body")
    if body is None:
        request = flask.request
        if request.mimetype == FORM and accepts_forms(request):
            body = parse_form(request)
        else:
            body = parse_body(request.get_data(cache=True))
        flask.g._parsed_body = body
    return body


class MalformedBody(errors.APIError):
    status_code, code, message = (
        400,
        "MALFORMED_BODY",
        "The form body is not valid.",
    )


class NulCharacter(errors.APIError):
    status_code, code, message = (
        422,
        "VALIDATION_ERROR",
        "Text may not contain NUL (U+0000) characters.",
    )


class HeadersTooLarge(errors.APIError):
    status_code, code, message = (
        431,
        "HEADERS_TOO_LARGE",
        "The request headers are too large.",
    )


class StrictParser(FlaskParser):
    """webargs parser that reads JSON bodies with :func:`parse_body`."""

    def load_json(self, req: flask.Request, schema: Any) -> Any:
        """Return the parsed body, refusing other media types with 415."""
        if core.is_json(req.mimetype):
            return parse_body_once()
        if req.mimetype == FORM and accepts_forms(req):
            return parse_body_once()
        expected = "application/json"
        if accepts_forms(req):
            expected += f" or {FORM}"
        raise errors.UnsupportedMediaType(
            f"Expected {expected}, got {req.mimetype or 'no content type'}."
        )


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """flask-smorest Blueprint: :class:`StrictParser` bodies, derived error docs."""

    ARGUMENTS_PARSER = StrictParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Build the blueprint; its error answers are documented by ``raises``."""
        from license_server.api import raises  # imports this module

        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(
            functools.partial(raises.prepare_errors_doc, blueprint=self)
        )
        self._prepare_doc_cbks.append(self._document_form_bodies)

    def _document_form_bodies(self, doc: dict[str, Any], *_: Any, **__: Any) -> Any:
        """List a form body beside JSON, same schema, where ``accepts_forms``."""
        content = doc.get("requestBody", {}).get("content", {})
        if getattr(self, "accepts_forms", False) and "application/json" in content:
            content.setdefault(FORM, dict(content["application/json"]))
        return doc
