"""The fast lane: the hot public requests served without Flask's request machinery.

Validation and the update check are the hot paths (every theme install re-checks
both), activation the busiest write, and much of what they cost when served
through Flask was the framework's, not their own: building a request and its
context, routing, webargs and marshmallow reading the body, a response object,
the hooks. The fast lane is a WSGI middleware inside the app (under ``ProxyFix``,
so it sees the client's address as the app does) that serves the **common**
``POST /v1/validate``, ``POST /v1/updates/check`` and ``POST /v1/activate``
itself and hands **everything else** to Flask, unchanged:

- it takes a request only when it is one of those with an
  ``application/json`` body of a declared length within ``MAX_CONTENT_LENGTH``,
  headers within ``MAX_HEADER_BYTES``, no NUL in the path or query, and a body
  that is one flat UTF-8 JSON object whose fields are exactly the schema's
  (:class:`~license_server.schemas.public.ValidateIn`, ``ActivateIn``,
  :class:`~license_server.updates.schemas.UpdateCheckIn`), each a string passing
  the schema's own validators, with no NUL, no lone surrogate and no field twice;
  a validate or activate key must not be an Envato purchase code (their first use
  is verified first), and an update check must name its host (``Host``) on an app that
  neither pins ``SERVER_NAME`` nor lists ``TRUSTED_HOSTS`` (its package URLs are
  built from the host, as Flask's ``request.host`` would);
- any other request, including every one that would be refused for its form,
  goes to Flask with its body put back: the strict parser, the schema and the
  error handlers answer it, so every refusal stays the one the protocol documents;
- what it serves, it serves with the same steps in the same order and the same
  bytes: the same rate-limit round (:func:`throttle.count` / :func:`throttle.settle`),
  the same use case and answer (:func:`public.validated`, :func:`public.activated`,
  :func:`license_server.updates.check.check_update`), the same error bodies
  (:func:`errors.error_body`, :func:`errors.unexpected`), the same metrics,
  request id, security headers and buffer flush as :mod:`license_server.api.hooks`.

``tests/server/test_fastlane.py`` sends each request of a table through the fast
lane and through Flask alone, with the clock frozen, and compares status, headers
and body byte for byte (304 answers to ``If-None-Match`` included; activations on
twin copies of one database, since they write).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from marshmallow import ValidationError, missing
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.sansio.utils import get_host

from license_server import errors, keys, metrics
from license_server import runtime as runtimes
from license_server.api import hooks, public, throttle
from license_server.api.headers import API_HEADERS
from license_server.schemas.public import ActivateIn, ValidateIn
from license_server.updates import check as update_checks
from license_server.updates import of as updates_of
from license_server.updates.schemas import UpdateCheckIn

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# what a route's answer is: status, JSON body (None: no body), headers, result code
Served = tuple[int, dict[str, Any] | None, dict[str, str], str | None]
_BASE_URL = "license_server.base_url"  # the update check's root URL, in the environ


class _Field:
    """One body field as the schema declares it: required, nullable, validators."""

    def __init__(self, name: str, field: Any) -> None:
        self.name = name
        self.required = bool(field.required)
        self.nullable = bool(field.allow_none)
        self.validators = tuple(field.validators)
        default = field.load_default
        self.default = None if default is missing else default
        if callable(self.default):
            raise TypeError(f"the fast lane takes plain defaults only, not {name!r}")
        if type(field).__name__ != "String":
            raise TypeError(f"the fast lane reads text fields only, not {name!r}")


def _fields(schema: Any) -> dict[str, _Field]:
    return {
        field.data_key or name: _Field(field.data_key or name, field)
        for name, field in schema.fields.items()
    }


FIELDS = _fields(ValidateIn())
ACTIVATE_FIELDS = _fields(ActivateIn())
UPDATE_FIELDS = _fields(UpdateCheckIn())


class _Object(list[tuple[str, Any]]):
    """A JSON object's members in order, as the parser met them (duplicates kept)."""


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    return _Object(pairs)


def read_args(data: bytes, fields: dict[str, _Field] = FIELDS) -> dict[str, Any] | None:
    """Return the body's fields when the schema would take them as they are.

    ``fields`` are the schema's (validate's by default). None means "not the
    common case": Flask's strict path answers it.
    """
    try:
        parsed = json.loads(data.decode("utf-8"), object_pairs_hook=_pairs)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError too
        return None
    if not isinstance(parsed, _Object):  # not one JSON object
        return None
    args: dict[str, Any] = {}
    for name, value in parsed:
        field = fields.get(name)
        if field is None or name in args:
            return None  # an unknown field, or one given twice
        if value is None:
            if not field.nullable:
                return None
        elif not isinstance(value, str) or "\x00" in value:
            return None
        else:
            try:
                value.encode("utf-8")
                for validator in field.validators:
                    validator(value)
            except (UnicodeEncodeError, ValidationError):
                return None
        args[name] = value
    for name, field in fields.items():
        if name not in args:
            if field.required:
                return None
            args[name] = field.default  # the schema's load_default
    return args


def _is_json(content_type: str) -> bool:
    return content_type.partition(";")[0].strip().lower() == "application/json"


@dataclass(frozen=True)
class Route:
    """A request the lane serves: its endpoint, its body's fields, its use case."""

    endpoint: str
    fields: dict[str, _Field]
    answer: Callable[[FastLane, dict[str, Any], dict[str, Any], Any], Served]
    admit: Callable[[FastLane, dict[str, Any], dict[str, Any]], bool]


def _activate(
    lane: FastLane, environ: dict[str, Any], args: dict[str, Any], parsed: Any
) -> Served:
    app = lane.app
    with app.app_context():  # the use case's transaction is the app's session
        body, status = public.activated(
            runtimes.of(app), args, environ.get("REMOTE_ADDR"), parsed
        )
    return status, body, {}, str(body["code"])


def _validate(
    lane: FastLane, environ: dict[str, Any], args: dict[str, Any], parsed: Any
) -> Served:
    body, code = public.validated(runtimes.of(lane.app), args, parsed)
    return 200, body, {}, code


def _admit_key(lane: FastLane, environ: dict[str, Any], args: dict[str, Any]) -> bool:
    """Validate and activate: not a purchase code (the Flask view admits those)."""
    if keys.parse_purchase_code(args["license_key"]) is not None:
        return False  # verified with Envato on first use, by the Flask view
    args.pop("version", None)  # informational on validate and activate
    return True


def _update_check(
    lane: FastLane, environ: dict[str, Any], args: dict[str, Any], parsed: Any
) -> Served:
    app = lane.app
    runtime = runtimes.of(app)
    with app.app_context():  # the catalog, the rules and stats read the session
        answer = update_checks.check_update(
            runtime=runtime,
            updates=updates_of(app),
            if_none_match=environ.get("HTTP_IF_NONE_MATCH"),
            base_url=environ[_BASE_URL],
            now=runtime.now(),
            parsed=parsed,
            **args,
        )
    if answer.body is None:
        return 304, None, {"ETag": answer.etag}, answer.code
    headers = {"ETag": answer.etag, "Cache-Control": "no-store"}
    return 200, answer.body, headers, answer.code


def _admit_update_check(
    lane: FastLane, environ: dict[str, Any], args: dict[str, Any]
) -> bool:
    # the package URL is built from the request's host, as Flask's request.host
    # would: only the plain case here (no pinned or trusted hosts to check)
    config = lane.app.config
    host_header = environ.get("HTTP_HOST")
    script_name = environ.get("SCRIPT_NAME", "")
    if (
        not host_header
        or config.get("SERVER_NAME")
        or config.get("TRUSTED_HOSTS")
        or not script_name.isascii()
    ):
        return False
    scheme = environ["wsgi.url_scheme"]
    host = get_host(scheme, host_header)
    if not host:  # characters a host cannot have: Flask's answer
        return False
    root = script_name.rstrip("/")
    environ[_BASE_URL] = f"{scheme}://{host}{root}/"  # for _update_check
    return True


ROUTES = {
    "/v1/validate": Route("public.validate", FIELDS, _validate, _admit_key),
    "/v1/activate": Route("public.activate", ACTIVATE_FIELDS, _activate, _admit_key),
    "/v1/updates/check": Route(
        "updates.update_check", UPDATE_FIELDS, _update_check, _admit_update_check
    ),
}


class FastLane:
    """WSGI middleware serving the common hot requests (see the module doc)."""

    def __init__(self, app: Flask, inner: WSGIApp) -> None:
        self.app = app
        self.inner = inner

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Serve ``environ`` if it is a common hot request, else pass it on."""
        route = ROUTES.get(environ.get("PATH_INFO", ""))
        if route is None or environ.get("REQUEST_METHOD") != "POST":
            return self.inner(environ, start_response)
        started = time.perf_counter()
        args = self._admit(environ, route)
        if args is None:
            return self.inner(environ, start_response)
        status, body, extra = self._serve(environ, route, args, started)
        return self._respond(start_response, status, body, extra, environ)

    def _admit(self, environ: dict[str, Any], route: Route) -> dict[str, Any] | None:
        """Return the request's fields if the fast lane takes it, else None.

        A body it read and does not take is put back for Flask to read.
        """
        app = self.app
        config = app.config
        if app.debug or getattr(app.json, "compact", None) is False:  # indented
            return None
        if not _is_json(environ.get("CONTENT_TYPE", "")):
            return None
        if "HTTP_TRANSFER_ENCODING" in environ or "HTTP_CONTENT_ENCODING" in environ:
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        limit = config["MAX_CONTENT_LENGTH"]
        if length <= 0 or (limit is not None and length > limit):
            return None
        if hooks.header_bytes(environ) > config["MAX_HEADER_BYTES"]:
            return None
        if hooks.nul_in_target(environ):
            return None
        data = environ["wsgi.input"].read(length)
        args = read_args(data, route.fields) if len(data) == length else None
        if args is None or not route.admit(self, environ, args):
            environ["wsgi.input"] = io.BytesIO(data)
            return None
        return args

    def _serve(
        self,
        environ: dict[str, Any],
        route: Route,
        args: dict[str, Any],
        started: float,
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        """Count, answer, settle: the steps Flask's hooks and view take."""
        runtime = runtimes.of(self.app)
        rid = errors.request_id_of(environ)
        plan: throttle.Plan | None = None
        code: str | None = None
        try:
            try:  # once, for the key's counters and the use case
                parsed = keys.parse_key(args["license_key"])
            except keys.InvalidKeyFormat:
                parsed = None  # no key counters; the use case answers the 400
            if runtime.limiter.enabled:
                key = None
                if parsed is not None:
                    key = throttle.bucket_of_parsed(runtime.keyring, parsed)
                plan = throttle.count(
                    runtime, route.endpoint, environ.get("REMOTE_ADDR"), key
                )
            status, body, extra, code = route.answer(self, environ, args, parsed)
        except Exception as error:  # noqa: BLE001 - answered as Flask's handlers do
            status, body, extra, code = _refusal(error, rid)
        try:
            throttle.settle(runtime, plan, status, code)
        except Exception as error:  # noqa: BLE001
            status, body, extra, code = _refusal(error, rid)
        metrics.observe("POST", route.endpoint, status, time.perf_counter() - started)
        runtime.flush_due()
        return status, body, extra

    def _respond(
        self,
        start_response: Callable[..., Any],
        status: int,
        body: dict[str, Any] | None,
        extra: dict[str, str],
        environ: dict[str, Any],
    ) -> list[bytes]:
        """Write the answer as Flask's JSON response and the hooks would."""
        if body is None:  # 304: no body, and (as Werkzeug sends it) no entity headers
            data = b""
            headers = []
        else:
            data = (self.app.json.dumps(body, separators=(",", ":")) + "\n").encode()
            headers = [
                (
                    "Content-Type",
                    getattr(self.app.json, "mimetype", "application/json"),
                ),
                ("Content-Length", str(len(data))),
            ]
        headers += [
            *extra.items(),
            ("X-Request-ID", errors.request_id_of(environ)),
            *API_HEADERS,
        ]
        start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}", headers)
        return [data]


def _refusal(error: Exception, rid: str) -> Served:
    """Answer an exception as the app's error handlers do."""
    if not isinstance(error, errors.APIError):
        error = errors.unexpected(error, rid)
    body = errors.error_body(error.code, error.text, error.detail, rid, error.extra)
    return error.status_code, body, error.headers, error.code


def install(app: Flask) -> None:
    """Put the fast lane in front of ``app``'s WSGI application."""
    app.wsgi_app = FastLane(app, app.wsgi_app)  # type: ignore[method-assign]
