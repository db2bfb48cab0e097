"""Admin use cases: endpoints, the vendor's webhook key, deliveries and resends.

Each is one transaction that commits at its end and records its change in the
vendor's event chain. A ``v1`` endpoint's secret is returned once, by the call
that creates or rotates it, and kept sealed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from license_server import errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Vendor
from license_server.models.webhooks import (
    DeliveryState,
    SignatureScheme,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookKey,
    WebhookMessage,
)
from license_server.services import events, pages
from license_server.webhooks import outbox, signatures, ssrf

ROTATION_OVERLAP = timedelta(hours=24)
UPDATABLE = ("url", "event_types", "description", "enabled")


def _record(
    keyring: Keyring,
    vendor_id: uuid.UUID,
    actor: str,
    action: str,
    subject: tuple[str, uuid.UUID],
    data: dict[str, Any],
    now: datetime,
) -> None:
    event = events.NewEvent(actor, action, subject[0], str(subject[1]), data)
    events.append(keyring=keyring, vendor_id=vendor_id, events=[event], now=now)


def _vet(policy: ssrf.Policy, url: str) -> None:
    try:
        policy.vet(url)
    except ssrf.UnsafeTarget as exc:
        raise errors.WebhookUrlRefused(str(exc), detail={"url": url}) from exc


def _ensure_key(keyring: Keyring, vendor_id: uuid.UUID, now: datetime) -> None:
    current = db.session.scalar(
        select(WebhookKey.id).where(
            WebhookKey.vendor_id == vendor_id, WebhookKey.retires_at.is_(None)
        )
    )
    if current is None:
        _add_key(keyring, vendor_id, now)


def _add_key(keyring: Keyring, vendor_id: uuid.UUID, now: datetime) -> WebhookKey:
    new = signatures.generate_key(keyring)
    key = WebhookKey(
        vendor_id=vendor_id,
        kid=new.kid,
        public_key=new.public_bytes,
        private_key_sealed=new.private_sealed,
        created_at=now,
    )
    db.session.add(key)
    db.session.flush()
    return key


def create_endpoint(
    *,
    keyring: Keyring,
    policy: ssrf.Policy,
    vendor_id: uuid.UUID,
    actor: str,
    now: datetime,
    url: str,
    event_types: list[str],
    description: str = "",
    enabled: bool = True,
    scheme: str = SignatureScheme.V1A,
) -> tuple[WebhookEndpoint, str | None]:
    """Register an endpoint; return it and its ``v1`` secret (None for ``v1a``)."""
    _vet(policy, url)
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        url=url,
        description=description,
        event_types=event_types,
        enabled=enabled,
        scheme=scheme,
        created_at=now,
        updated_at=now,
    )
    secret = None
    if scheme == SignatureScheme.V1:
        secret = signatures.new_secret()
        endpoint.secret_sealed = keyring.seal_webhook_secret(secret, str(endpoint.id))
    else:
        _ensure_key(keyring, vendor_id, now)
    db.session.add(endpoint)
    db.session.flush()
    _record(
        keyring,
        vendor_id,
        actor,
        "webhook_endpoint.created",
        ("webhook_endpoint", endpoint.id),
        {"url": url, "event_types": event_types, "scheme": scheme},
        now,
    )
    db.session.commit()
    return endpoint, secret


def get_endpoint(*, vendor_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """Return one of the vendor's endpoints, or 404."""
    endpoint = db.session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.vendor_id == vendor_id, WebhookEndpoint.id == endpoint_id
        )
    )
    if endpoint is None:
        raise errors.NotFound("No such webhook endpoint.")
    return endpoint


def list_endpoints(*, vendor_id: uuid.UUID) -> list[WebhookEndpoint]:
    """List the vendor's endpoints, oldest first."""
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.vendor_id == vendor_id)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
    )


def update_endpoint(
    *,
    keyring: Keyring,
    policy: ssrf.Policy,
    vendor_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
) -> WebhookEndpoint:
    """Change an endpoint's URL, event types, description or enabled flag."""
    endpoint = get_endpoint(vendor_id=vendor_id, endpoint_id=endpoint_id)
    if "url" in changes:
        _vet(policy, changes["url"])
    before = {name: getattr(endpoint, name) for name in UPDATABLE if name in changes}
    for name in before:
        setattr(endpoint, name, changes[name])
    if changes.get("enabled"):
        endpoint.disabled_reason = None
    endpoint.updated_at = now
    after = {name: getattr(endpoint, name) for name in before}
    _record(
        keyring,
        vendor_id,
        actor,
        "webhook_endpoint.updated",
        ("webhook_endpoint", endpoint.id),
        {"before": before, "after": after},
        now,
    )
    db.session.commit()
    return endpoint


def delete_endpoint(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> None:
    """Delete an endpoint with its pending and past deliveries."""
    endpoint = get_endpoint(vendor_id=vendor_id, endpoint_id=endpoint_id)
    db.session.delete(endpoint)
    _record(
        keyring,
        vendor_id,
        actor,
        "webhook_endpoint.deleted",
        ("webhook_endpoint", endpoint.id),
        {"url": endpoint.url},
        now,
    )
    db.session.commit()


def rotate_secret(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> tuple[WebhookEndpoint, str]:
    """Give a ``v1`` endpoint a new secret; the old one also signs for 24 h."""
    endpoint = get_endpoint(vendor_id=vendor_id, endpoint_id=endpoint_id)
    if endpoint.scheme != SignatureScheme.V1:
        raise errors.WebhookSchemeMismatch()
    secret = signatures.new_secret()
    endpoint.previous_secret_sealed = endpoint.secret_sealed
    endpoint.previous_secret_until = now + ROTATION_OVERLAP
    endpoint.secret_sealed = keyring.seal_webhook_secret(secret, str(endpoint.id))
    endpoint.updated_at = now
    _record(
        keyring,
        vendor_id,
        actor,
        "webhook_endpoint.secret_rotated",
        ("webhook_endpoint", endpoint.id),
        {"previous_valid_until": endpoint.previous_secret_until.isoformat()},
        now,
    )
    db.session.commit()
    return endpoint, secret


def send_test(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> WebhookDelivery:
    """Queue a ``test.ping`` to an endpoint; return its delivery."""
    endpoint = get_endpoint(vendor_id=vendor_id, endpoint_id=endpoint_id)
    vendor = db.session.get_one(Vendor, vendor_id)
    delivery_id = outbox.queue_ping(endpoint=endpoint, vendor=vendor, now=now)
    _record(
        keyring,
        vendor_id,
        actor,
        "webhook_endpoint.tested",
        ("webhook_endpoint", endpoint.id),
        {"delivery_id": str(delivery_id)},
        now,
    )
    db.session.commit()
    return db.session.get_one(WebhookDelivery, delivery_id)


def list_keys(*, vendor_id: uuid.UUID) -> list[WebhookKey]:
    """List the vendor's webhook keys that still sign, newest first."""
    return list(
        db.session.scalars(
            select(WebhookKey)
            .where(WebhookKey.vendor_id == vendor_id)
            .order_by(WebhookKey.created_at.desc())
        )
    )


def public_jwks(vendor_id: uuid.UUID, now: datetime) -> list[dict[str, str]]:
    """Return the JWKs of the vendor's webhook keys that still sign."""
    return [
        signatures.jwk(key.kid, key.public_key)
        for key in list_keys(vendor_id=vendor_id)
        if key.retires_at is None or key.retires_at > now
    ]


def rotate_key(
    *, keyring: Keyring, vendor_id: uuid.UUID, actor: str, now: datetime
) -> WebhookKey:
    """Make a new webhook key; the current ones keep signing for 24 h."""
    for old in db.session.scalars(
        select(WebhookKey).where(
            WebhookKey.vendor_id == vendor_id, WebhookKey.retires_at.is_(None)
        )
    ):
        old.retires_at = now + ROTATION_OVERLAP
    key = _add_key(keyring, vendor_id, now)
    _record(
        keyring,
        vendor_id,
        actor,
        "webhook_key.rotated",
        ("webhook_key", key.id),
        {},
        now,
    )
    db.session.commit()
    return key


def list_deliveries(
    *,
    vendor_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    state: str | None = None,
    cursor: str | None = None,
    limit: int = pages.MAX_LIMIT,
) -> pages.Page[WebhookDelivery]:
    """List an endpoint's deliveries, newest first."""
    endpoint = get_endpoint(vendor_id=vendor_id, endpoint_id=endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    return pages.paginate(
        query,
        columns=[WebhookDelivery.created_at, WebhookDelivery.id],
        parse=[datetime.fromisoformat, uuid.UUID],
        key=lambda row: [row.created_at.isoformat(), str(row.id)],
        cursor=cursor,
        limit=limit,
    )


def get_delivery(*, vendor_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Return one of the vendor's deliveries, or 404."""
    delivery = db.session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.vendor_id == vendor_id, WebhookDelivery.id == delivery_id
        )
    )
    if delivery is None:
        raise errors.NotFound("No such webhook delivery.")
    return delivery


def attempts_of(delivery_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[WebhookAttempt]]:
    """Return the attempts of deliveries, oldest first, by delivery id."""
    found: dict[uuid.UUID, list[WebhookAttempt]] = {id_: [] for id_ in delivery_ids}
    if delivery_ids:
        rows = db.session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
        )
        for attempt in rows:
            found[attempt.delivery_id].append(attempt)
    return found


def resend(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    delivery_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> WebhookDelivery:
    """Send a delivery again now, with a fresh retry schedule (same webhook-id)."""
    delivery = get_delivery(vendor_id=vendor_id, delivery_id=delivery_id)
    delivery.state, delivery.tries = DeliveryState.PENDING, 0
    delivery.next_attempt_at, delivery.finished_at = now, None
    _record(
        keyring,
        vendor_id,
        actor,
        "webhook_delivery.resent",
        ("webhook_delivery", delivery.id),
        {"endpoint_id": str(delivery.endpoint_id)},
        now,
    )
    db.session.commit()
    return delivery


def delivery_views(deliveries: list[WebhookDelivery]) -> list[dict[str, Any]]:
    """Describe deliveries for the admin API: event type, webhook-id, attempts."""
    ids = [d.message_id for d in deliveries]
    rows = db.session.execute(
        select(WebhookMessage.id, WebhookMessage.event_type).where(
            WebhookMessage.id.in_(ids)
        )
    )
    kinds = {row.id: row.event_type for row in rows}
    attempts = attempts_of([d.id for d in deliveries])
    return [
        {
            "id": d.id,
            "endpoint_id": d.endpoint_id,
            "webhook_id": outbox.message_id(d.message_id),
            "event_type": kinds.get(d.message_id),
            "state": d.state,
            "tries": d.tries,
            "next_attempt_at": d.next_attempt_at,
            "last_status": d.last_status,
            "created_at": d.created_at,
            "finished_at": d.finished_at,
            "attempts": attempts[d.id],
        }
        for d in deliveries
    ]
