"""HTTP layer: thin routes over the services, documented by flask-smorest."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, cast

from apispec import APISpec
from flask import Flask, Response
from flask_smorest import Api as _Api
from werkzeug.exceptions import HTTPException

from license_server import errors, logredact, web
from license_server.schemas.errors import ErrorOut


class Api(_Api):  # type: ignore[misc]
    """flask-smorest's Api, answering HTTP errors in the protocol's shape.

    The OpenAPI document is written when it is first read (``/openapi.json``,
    ``/docs``, ``flask openapi print``, a test), not when the app is built:
    flask-smorest documents each blueprint's routes as it registers it, about 60 %
    of building an app, which an app that never serves its document (a worker that
    only validates, a test) need not pay. :meth:`register_blueprint` registers the
    routes at once and queues their documentation; the first read of :attr:`spec`
    runs the queue in registration order, the same calls flask-smorest makes, so
    the document is the same one (tests/server/test_lazy_openapi.py compares them
    byte for byte).
    """

    ERROR_SCHEMA = ErrorOut
    # every error answer is listed per status from what the route raises (raises.py)
    DEFAULT_ERROR_RESPONSE_NAME = None
    # False documents each blueprint when it is registered (flask-smorest's way)
    LAZY_DOCS = True

    def __init__(self, app: Flask | None = None, **kwargs: Any) -> None:
        """Build the Api; its document is written when first read."""
        self._spec: APISpec | None = None
        self._pending_docs: list[Callable[[], None]] = []
        # one thread writes the document; others wait for it (gthread workers)
        self._docs_lock = threading.RLock()
        self._documenting: int | None = None
        super().__init__(app, **kwargs)

    @property
    def spec(self) -> APISpec:
        """The OpenAPI document, with every registered blueprint documented.

        (``None`` only before ``init_app``, as in flask-smorest.)
        """
        if self._pending_docs and self._documenting != threading.get_ident():
            self._document_pending()
        return cast(APISpec, self._spec)

    @spec.setter
    def spec(self, value: APISpec | None) -> None:
        self._spec = value

    def _register_responses(self) -> None:
        """Queue flask-smorest's response per HTTP status (some 60 error schemas
        built: most of what is left of an app's build) for the first read.
        """
        self._queue_or_run(super()._register_responses)

    def _register_etag_headers(self) -> None:
        # queued after the responses, in flask-smorest's order (it reads spec)
        self._queue_or_run(super()._register_etag_headers)

    def _register_pagination_header(self) -> None:
        self._queue_or_run(super()._register_pagination_header)

    def _queue_or_run(self, step: Callable[[], None]) -> None:
        if self.LAZY_DOCS:
            self._pending_docs.append(step)
        else:
            step()

    def _document_pending(self) -> None:
        with self._docs_lock:
            self._documenting = threading.get_ident()
            try:
                while self._pending_docs:
                    self._pending_docs[0]()
                    # dropped once done, so no other thread reads a part-written spec
                    del self._pending_docs[0]
            finally:
                self._documenting = None

    def register_blueprint(
        self, blp: Any, *, parameters: Any = None, **options: Any
    ) -> None:
        """Register ``blp``'s routes now and queue their documentation.

        The same steps as flask-smorest's ``Api.register_blueprint``, with the two
        that write the document (its views, its tag) run on the first read.
        """
        if not self.LAZY_DOCS:
            super().register_blueprint(blp, parameters=parameters, **options)
            return
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)

        def document() -> None:
            blp.register_views_in_doc(
                self, self._app, self._spec, name=name, parameters=parameters
            )
            self.spec.tag({"name": name, "description": blp.description})

        self._pending_docs.append(document)

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Render HTTP errors with :func:`errors.handle_http_exception`."""
        return errors.handle_http_exception(error)


def api_of(app: Flask) -> Api:
    """Return ``app``'s flask-smorest Api (where the extension keeps it)."""
    found: Api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return found


def init_app(app: Flask) -> None:
    """Register the blueprints and the OpenAPI document on ``app``."""
    from license_server import updates
    from license_server.api import admin, docs, hooks, ops, public, throttle, webhooks
    from license_server.channels import api as channels_api
    from license_server.compat import edd_admin, edd_api  # noqa: F401 - admin routes

    api = Api(app, spec_kwargs=_spec_kwargs())
    api.register_blueprint(public.blp)
    api.register_blueprint(admin.blp)
    api.register_blueprint(ops.blp)
    edd_api.init_app(app)
    api.register_blueprint(webhooks.blp)
    api.register_blueprint(channels_api.blp)
    api.register_blueprint(channels_api.inbound_blp)
    updates.init_app(app, api)
    app.register_blueprint(docs.page)
    hooks.init_app(app)
    from license_server.updates import api as updates_api

    throttle.init_app(
        app,
        (public.blp, updates_api.blp, updates_api.edd_blp, channels_api.inbound_blp),
    )
    web.init_app(app)
    logredact.install()


DESCRIPTION = """Theme licensing server. The wire contract, what every field and
result code means, is [PROTOCOL.md](/docs/protocol).

- **public**: what a theme calls (no authentication): activate, validate,
  deactivate, and a vendor's public keys. Well-formed answers are signed.
- **admin**: what a vendor's scripts call, with `Authorization: Bearer lsk_...`
  (`license-server vendors create` prints the first key, `license-server api-keys
  create` more). A read-scoped key may only GET. POSTs accept an `Idempotency-Key`
  header (replayed for 24 hours).
- **ops**: liveness, readiness, metrics.

Every error answers `{"code", "message", "detail", "request_id"}`; each operation
lists the codes it can answer, by status.
"""


def _spec_kwargs() -> dict[str, Any]:
    return {
        "info": {"description": DESCRIPTION},
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
            }
        },
    }
