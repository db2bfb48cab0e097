"""Admin API for webhooks: endpoints, the webhook key, deliveries and resends.

Authenticated and scoped exactly as :mod:`license_server.api.admin` (the same
before/after hooks): another vendor's ids answer 404, read keys may only GET.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app

from license_server import errors
from license_server.api import admin, context
from license_server.api import raises as raise_docs
from license_server.api.docs import ADMIN_ERRORS, ADMIN_WRITE_ERRORS
from license_server.api.docs import errors as documented
from license_server.api.parsing import Blueprint
from license_server.api.raises import raises
from license_server.schemas import webhooks as schemas
from license_server.webhooks import endpoints, ssrf
from license_server.webhooks.runner import settings_from_config

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/v1/admin/webhooks",
    description="Signed webhooks: endpoints, deliveries, the webhook key.",
)
blp.before_request(admin.authenticate)
raise_docs.admin_layer_raises("webhooks")  # what admin.authenticate can answer
blp.after_request(admin.store_idempotent_answer)
reads = documented(blp, *ADMIN_ERRORS)
writes = documented(blp, *ADMIN_WRITE_ERRORS)


class WithSecret:
    """An endpoint with its clear v1 secret, for the one answer that shows it."""

    def __init__(self, endpoint: object, secret: str | None) -> None:
        self.endpoint, self.secret = endpoint, secret

    def __getattr__(self, name: str) -> object:
        return getattr(self.endpoint, name)


def _policy() -> ssrf.Policy:
    return settings_from_config(current_app.config).policy


@blp.post("/endpoints")
@blp.arguments(schemas.EndpointIn)
@blp.response(201, schemas.EndpointOut)
@writes
def create_endpoint(args: dict[str, Any]) -> Any:
    """Register an endpoint; a v1 endpoint's `secret` is in this answer only."""
    endpoint, secret = endpoints.create_endpoint(
        policy=_policy(), **context.scoped(), **args
    )
    return WithSecret(endpoint, secret) if secret else endpoint


@blp.get("/endpoints")
@blp.response(200, schemas.EndpointList)
@reads
def list_endpoints() -> Any:
    """List the vendor's webhook endpoints."""
    return {"data": endpoints.list_endpoints(vendor_id=context.vendor_id())}


@blp.get("/endpoints/<uuid:endpoint_id>")
@blp.response(200, schemas.EndpointOut)
@reads
@raises(errors.NotFound)
def get_endpoint(endpoint_id: uuid.UUID) -> Any:
    """Get one endpoint (never its secret)."""
    return endpoints.get_endpoint(
        vendor_id=context.vendor_id(), endpoint_id=endpoint_id
    )


@blp.patch("/endpoints/<uuid:endpoint_id>")
@blp.arguments(schemas.EndpointPatch)
@blp.response(200, schemas.EndpointOut)
@writes
@raises(errors.NotFound)
def update_endpoint(changes: dict[str, Any], endpoint_id: uuid.UUID) -> Any:
    """Change an endpoint's URL, event types, description, or enable it again."""
    return endpoints.update_endpoint(
        policy=_policy(), endpoint_id=endpoint_id, changes=changes, **context.scoped()
    )


@blp.delete("/endpoints/<uuid:endpoint_id>")
@blp.response(204)
@writes
@raises(errors.NotFound)
def delete_endpoint(endpoint_id: uuid.UUID) -> None:
    """Delete an endpoint and its deliveries."""
    endpoints.delete_endpoint(endpoint_id=endpoint_id, **context.scoped())


@blp.post("/endpoints/<uuid:endpoint_id>/test")
@blp.response(202, schemas.DeliveryOut)
@writes
@raises(errors.NotFound)
def test_endpoint(endpoint_id: uuid.UUID) -> Any:
    """Queue a `test.ping` to the endpoint."""
    delivery = endpoints.send_test(endpoint_id=endpoint_id, **context.scoped())
    return endpoints.delivery_views([delivery])[0]


@blp.post("/endpoints/<uuid:endpoint_id>/rotate-secret")
@blp.response(200, schemas.EndpointOut)
@writes
@raises(errors.NotFound)
def rotate_endpoint_secret(endpoint_id: uuid.UUID) -> Any:
    """Give a v1 endpoint a new secret (shown once); the old one signs for 24 h."""
    endpoint, secret = endpoints.rotate_secret(
        endpoint_id=endpoint_id, **context.scoped()
    )
    return WithSecret(endpoint, secret)


@blp.get("/endpoints/<uuid:endpoint_id>/deliveries")
@blp.arguments(schemas.DeliveryQuery, location="query")
@blp.response(200, schemas.DeliveryList)
@reads
@raises(errors.NotFound)
def list_deliveries(args: dict[str, Any], endpoint_id: uuid.UUID) -> Any:
    """List an endpoint's deliveries, newest first, with their attempts."""
    page = endpoints.list_deliveries(
        vendor_id=context.vendor_id(), endpoint_id=endpoint_id, **args
    )
    return {"data": endpoints.delivery_views(page.data), "next": page.next}


@blp.get("/deliveries/<uuid:delivery_id>")
@blp.response(200, schemas.DeliveryOut)
@reads
@raises(errors.NotFound)
def get_delivery(delivery_id: uuid.UUID) -> Any:
    """Get one delivery with its attempts."""
    delivery = endpoints.get_delivery(
        vendor_id=context.vendor_id(), delivery_id=delivery_id
    )
    return endpoints.delivery_views([delivery])[0]


@blp.post("/deliveries/<uuid:delivery_id>/resend")
@blp.response(202, schemas.DeliveryOut)
@writes
@raises(errors.NotFound)
def resend_delivery(delivery_id: uuid.UUID) -> Any:
    """Send a delivery again now (same webhook-id), with a fresh retry schedule."""
    delivery = endpoints.resend(delivery_id=delivery_id, **context.scoped())
    return endpoints.delivery_views([delivery])[0]


@blp.get("/keys")
@blp.response(200, schemas.WebhookKeyList)
@reads
def list_webhook_keys() -> Any:
    """List the vendor's v1a webhook keys (public halves)."""
    return {"data": endpoints.list_keys(vendor_id=context.vendor_id())}


@blp.post("/keys/rotate")
@blp.response(201, schemas.WebhookKeyOut)
@writes
def rotate_webhook_key() -> Any:
    """Make a new webhook key; the current one keeps signing for 24 h."""
    return endpoints.rotate_key(**context.scoped())
