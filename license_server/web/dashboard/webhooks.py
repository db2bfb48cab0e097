"""Webhook endpoints (owners only): create, edit, enable, delete, test, rotate a
secret; deliveries.

Every write calls :mod:`license_server.webhooks.endpoints`, the service the admin
API calls, with the same SSRF policy; each is an event whose actor is the
signed-in user. A ``v1`` endpoint's secret is shown on the answer that creates it
(or rotates it) and never again. Like API keys, webhooks are an owner's business:
their targets and answers are integration details, and their messages carry
customers' data.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from license_server import errors
from license_server.models.webhooks import SignatureScheme
from license_server.schemas import webhooks as schemas
from license_server.web.common import forms
from license_server.web.dashboard import access, bp
from license_server.webhooks import endpoints, ssrf
from license_server.webhooks.runner import settings_from_config
from license_server.webhooks.types import ALL, EVENT_TYPES, TEST_PING

# what an endpoint may subscribe to (a test ping goes to every endpoint anyway)
CHOICES = [ALL, *(name for name in EVENT_TYPES if name != TEST_PING)]
DELIVERIES_PAGE = 20
RESPONSE_SHOWN = 300  # characters of an answer shown per attempt


def _policy() -> ssrf.Policy:
    return settings_from_config(current_app.config).policy


def _form_values(
    form_errors: dict[str, list[str]], *, creating: bool
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "url": forms.text("url"),
        "description": forms.text("description"),
        "event_types": request.form.getlist("event_types"),
    }
    if creating:
        raw["scheme"] = forms.text("scheme") or "v1a"
    schema = schemas.EndpointIn() if creating else schemas.EndpointPatch()
    try:
        loaded: dict[str, Any] = schema.load(raw)
    except ValidationError as exc:
        for name, messages in exc.messages.items():  # type: ignore[union-attr]
            form_errors[name] = _messages(messages)
        return {}
    if ALL in loaded["event_types"]:
        loaded["event_types"] = [ALL]
    return loaded


def _messages(found: Any) -> list[str]:
    if isinstance(found, dict):
        return sorted({m for value in found.values() for m in _messages(value)})
    if isinstance(found, list):
        return [m for value in found for m in _messages(value)]
    return [str(found)]


def _render_list(
    form_errors: dict[str, list[str]], status: int = 200
) -> tuple[str, int]:
    page = render_template(
        "dashboard/webhooks.html",
        endpoints=endpoints.list_endpoints(vendor_id=access.vendor_id()),
        choices=CHOICES,
        errors=form_errors,
        form=request.form if request.method == "POST" else None,
    )
    return page, status


@bp.get("/webhooks")
@access.require("owner")
def webhooks() -> Any:
    """List the vendor's webhook endpoints; a form adds one."""
    return _render_list({})


@bp.post("/webhooks")
@access.require("owner")
def webhook_create() -> Any:
    """Register an endpoint; a v1 endpoint's secret is shown on this answer only."""
    form_errors: dict[str, list[str]] = {}
    values = _form_values(form_errors, creating=True)
    if form_errors:
        return _render_list(form_errors, 422)
    try:
        endpoint, secret = endpoints.create_endpoint(
            policy=_policy(), **access.scoped(), **values
        )
    except errors.WebhookUrlRefused as exc:
        return _render_list({"url": [exc.text]}, 422)
    if secret is None:
        flash("Endpoint added. Send it a test event to check it answers.", "ok")
        return redirect(url_for("dashboard.webhook_page", endpoint_id=endpoint.id))
    return render_template(
        "dashboard/webhook_secret.html", endpoint=endpoint, secret=secret
    )


def _render_endpoint(
    endpoint: Any, form_errors: dict[str, list[str]], status: int = 200
) -> tuple[str, int]:
    page = endpoints.list_deliveries(
        vendor_id=access.vendor_id(),
        endpoint_id=endpoint.id,
        cursor=request.args.get("cursor") or None,
        limit=DELIVERIES_PAGE,
    )
    shown = render_template(
        "dashboard/webhook.html",
        endpoint=endpoint,
        deliveries=endpoints.delivery_views(page.data),
        next_url=(
            url_for("dashboard.webhook_page", endpoint_id=endpoint.id, cursor=page.next)
            if page.next
            else None
        ),
        choices=CHOICES,
        errors=form_errors,
        form=request.form if request.method == "POST" else None,
        shown=RESPONSE_SHOWN,
    )
    return shown, status


def _endpoint(endpoint_id: uuid.UUID) -> Any:
    return endpoints.get_endpoint(vendor_id=access.vendor_id(), endpoint_id=endpoint_id)


@bp.route("/webhooks/<uuid:endpoint_id>", methods=["GET", "POST"])
@access.require("owner")
def webhook_page(endpoint_id: uuid.UUID) -> Any:
    """Show an endpoint with its deliveries and attempts; a POST edits it."""
    endpoint = _endpoint(endpoint_id)
    if request.method == "GET":
        return _render_endpoint(endpoint, {})
    form_errors: dict[str, list[str]] = {}
    values = _form_values(form_errors, creating=False)
    if form_errors:
        return _render_endpoint(endpoint, form_errors, 422)
    try:
        endpoints.update_endpoint(
            policy=_policy(), endpoint_id=endpoint.id, changes=values, **access.scoped()
        )
    except errors.WebhookUrlRefused as exc:
        return _render_endpoint(endpoint, {"url": [exc.text]}, 422)
    flash("Endpoint saved.", "ok")
    return redirect(url_for("dashboard.webhook_page", endpoint_id=endpoint.id))


@bp.post("/webhooks/<uuid:endpoint_id>/enabled")
@access.require("owner")
def webhook_enabled(endpoint_id: uuid.UUID) -> Response:
    """Turn an endpoint's deliveries on or off."""
    endpoint = _endpoint(endpoint_id)
    enabled = request.form.get("enabled") == "yes"
    endpoints.update_endpoint(
        policy=_policy(),
        endpoint_id=endpoint.id,
        changes={"enabled": enabled},
        **access.scoped(),
    )
    flash(
        "Endpoint enabled: deliveries resume."
        if enabled
        else "Endpoint disabled: nothing is sent to it until you enable it.",
        "ok",
    )
    return redirect(url_for("dashboard.webhook_page", endpoint_id=endpoint.id))


@bp.post("/webhooks/<uuid:endpoint_id>/delete")
@access.require("owner")
def webhook_delete(endpoint_id: uuid.UUID) -> Any:
    """Delete an endpoint and its deliveries (asks first)."""
    endpoint = _endpoint(endpoint_id)
    if request.form.get("confirm") != "yes":
        return render_template(
            "dashboard/confirm.html",
            question="Delete this webhook endpoint?",
            warning=f"Nothing more is sent to {endpoint.url}, and its delivery "
            "history is deleted with it.",
            button="Yes, delete",
            action=request.path,
            cancel=url_for("dashboard.webhook_page", endpoint_id=endpoint.id),
            hidden={},
        )
    endpoints.delete_endpoint(endpoint_id=endpoint.id, **access.scoped())
    flash("Endpoint deleted.", "ok")
    return redirect(url_for("dashboard.webhooks"))


@bp.post("/webhooks/<uuid:endpoint_id>/rotate-secret")
@access.require("owner")
def webhook_rotate_secret(endpoint_id: uuid.UUID) -> Any:
    """Give a ``v1`` endpoint a new secret (asks first); the old one signs 24 h more."""
    endpoint = _endpoint(endpoint_id)
    back = url_for("dashboard.webhook_page", endpoint_id=endpoint.id)
    if endpoint.scheme != SignatureScheme.V1:
        flash(errors.WebhookSchemeMismatch().text, "error")
        return redirect(back)
    if request.form.get("confirm") != "yes":
        return render_template(
            "dashboard/confirm.html",
            question="Rotate this endpoint's secret?",
            warning="A new secret is shown once, on the next page. For 24 hours "
            "every delivery is signed with both the new and the old secret; put "
            "the new one in your receiver within that time, after that only the "
            "new one signs.",
            button="Yes, rotate the secret",
            action=request.path,
            cancel=back,
            hidden={},
        )
    endpoint, secret = endpoints.rotate_secret(
        endpoint_id=endpoint.id, **access.scoped()
    )
    return render_template(
        "dashboard/webhook_secret.html",
        endpoint=endpoint,
        secret=secret,
        old_until=endpoint.previous_secret_until,
    )


@bp.post("/webhooks/<uuid:endpoint_id>/test")
@access.require("owner")
def webhook_test(endpoint_id: uuid.UUID) -> Response:
    """Queue a ``test.ping`` to the endpoint; the worker sends it within seconds."""
    endpoint = _endpoint(endpoint_id)
    endpoints.send_test(endpoint_id=endpoint.id, **access.scoped())
    flash(
        "Test event queued: the worker sends it within seconds. "
        "Reload this page to see the answer.",
        "ok",
    )
    return redirect(url_for("dashboard.webhook_page", endpoint_id=endpoint.id))


@bp.post("/webhook-deliveries/<uuid:delivery_id>/resend")
@access.require("owner")
def webhook_resend(delivery_id: uuid.UUID) -> Response:
    """Send a delivery again now, with the same webhook-id."""
    delivery = endpoints.resend(delivery_id=delivery_id, **access.scoped())
    flash("Delivery queued again: the worker sends it within seconds.", "ok")
    return redirect(url_for("dashboard.webhook_page", endpoint_id=delivery.endpoint_id))
