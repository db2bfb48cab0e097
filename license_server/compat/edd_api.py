"""The EDD endpoint: ``edd_action`` on ``/``, ``/edd/<vendor>/`` and ``EDD_PATH``.

Requests come by GET or POST, form-encoded (PHP bracket names nest) or JSON, and
are answered with HTTP 200 and EDD's JSON, whatever the outcome (a rate-limited
request is the exception: see :mod:`license_server.compat.edd_limits`). On ``/``
and ``EDD_PATH`` the licence key names the vendor; ``/edd/<vendor>/`` scopes every
lookup (keys, item ids, item names) to one vendor. A request with ``changelog=1`` and
``download=<product slug>`` is EDD's changelog view (the ``url`` of a
``get_version`` answer). Any other request without ``edd_action`` is not for this
endpoint: 404 in our error shape.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from license_server import errors
from license_server.api import context
from license_server.api.parsing import Blueprint, NulCharacter, parse_body_once
from license_server.api.raises import raises
from license_server.compat import edd, edd_limits, php
from license_server.compat.edd_request import ACTIONS, EddRequest, parse
from license_server.services import vendors

_HANDLERS = {
    "activate_license": edd.activate,
    "deactivate_license": edd.deactivate,
    "check_license": edd.check,
}


class UnknownEddAction(errors.APIError):
    status_code, code, message = (
        404,
        "NOT_FOUND",
        "Not an EDD request: send edd_action = activate_license, "
        "deactivate_license, check_license or get_version.",
    )


def _no_nul(value: Any) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise NulCharacter()
    if isinstance(value, dict):
        for name, item in value.items():
            _no_nul(name)
            _no_nul(item)


def request_data() -> dict[str, Any]:
    """Return the request's parameters as PHP would see them (body over query)."""
    data = php.form_to_nested(request.args.items(multi=True))
    if request.method == "POST":
        if request.is_json:
            data.update(parse_body_once())
        else:
            data.update(php.form_to_nested(request.form.items(multi=True)))
    _no_nul(data)
    return data


def _context(vendor: str | None) -> edd.Context:
    vendor_id = vendors.vendor_by_slug(vendor).id if vendor else None
    return edd.Context(
        runtime=context.runtime(),
        now=context.now(),
        client_address=request.remote_addr,
        vendor_id=vendor_id,
    )


@raises(errors.NotFound, errors.ProductNotFound)
def answer(vendor: str | None = None) -> ResponseReturnValue:
    """Answer one EDD request (a bare ``GET /`` is the pointer to the docs)."""
    if vendor is None and request.method == "GET" and not request.query_string:
        if request.path == "/":
            from license_server.api import docs

            return docs.root()  # type: ignore[no-any-return]
    parsed = parse(request_data(), request.headers.get("User-Agent", ""))
    runtime = context.runtime()
    if parsed.action not in ACTIONS:
        if not php.is_empty(request.args.get("changelog")):
            edd_limits.check(runtime, "changelog", "")
            return _changelog(vendor, request.args.get("download", ""))
        raise UnknownEddAction()
    edd_limits.check(runtime, parsed.action, parsed.license)
    body = _dispatch(_context(vendor), parsed)
    if parsed.action in _HANDLERS and "expires" not in body:
        # licence fields are answered only for a key that exists: this one did not
        edd_limits.failed_lookup(runtime)
    return jsonify(body)


def _dispatch(ctx: edd.Context, parsed: EddRequest) -> dict[str, Any]:
    handler = _HANDLERS.get(parsed.action)
    if handler is None:
        from license_server.compat import edd_versions
        from license_server.updates import of as updates_of

        root = f"{request.scheme}://{request.host}{request.script_root}/"
        links = edd_versions.Links(
            updates=updates_of(current_app),
            root=root,
            here=root + request.path.lstrip("/"),
            fallback_url=parsed.url,
        )
        return edd_versions.get_version(ctx, parsed, links)
    return handler(ctx, parsed)


def _changelog(vendor: str | None, slug: str) -> ResponseReturnValue:
    """EDD's changelog view (``?changelog=1``): the product's release notes page."""
    from license_server.updates import api as updates_api

    item = context.runtime().reader.product(slug)
    if vendor is not None and vendors.vendor_by_slug(vendor).id != item.vendor_id:
        raise errors.ProductNotFound()
    return updates_api.changelog_page(item)


def make_blueprint(app: Flask) -> Blueprint:
    """Build the EDD blueprint for ``app`` (its routes depend on ``EDD_PATH``)."""
    blp = Blueprint(
        "edd",
        __name__,
        description="EDD Software Licensing compatibility (docs/EDD.md).",
    )
    paths = ["/", "/edd/<vendor>/"]
    extra = str(app.config.get("EDD_PATH") or "").strip()
    if extra and extra not in paths:
        paths.append("/" + extra.strip("/") + "/")
    for index, path in enumerate(paths):
        view = blp.route(path, methods=["GET", "POST"], endpoint=f"edd_{index}")
        documented = blp.response(200, description="EDD's JSON answer.")(answer)
        if path == "/":  # a browser's bare GET / is sent to the docs
            documented = blp.alt_response(302, description="A browser: to /docs.")(
                documented
            )
        view(documented)
    return blp


def init_app(app: Flask) -> None:
    """Register the EDD endpoint on ``app``'s API."""
    from license_server.api import api_of

    api_of(app).register_blueprint(make_blueprint(app))
