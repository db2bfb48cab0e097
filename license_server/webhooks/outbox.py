"""The outbox: webhook rows written in the transaction of the change they report.

:func:`services.events.append` calls :func:`write` right after it appends events to
the vendor's chain, so a committed change always has its deliveries and a rolled
back one never does. Endpoints that want none of the events cost one SELECT.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, select

from license_server.extensions import db
from license_server.models import Activation, License, Product, Release, Vendor
from license_server.models.webhooks import (
    DeliveryState,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from license_server.services import bulk
from license_server.webhooks import types

if TYPE_CHECKING:
    from license_server.services.events import NewEvent


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def message_id(message: uuid.UUID) -> str:
    """Return the ``webhook-id`` of a message (stable across retries and resends)."""
    return f"msg_{message.hex}"


def _license_object(license_id: str) -> dict[str, Any] | None:
    # the use case has just loaded or written it: an identity-map hit, no query
    license = db.session.get(License, uuid.UUID(license_id))
    if license is None:
        return None
    return {
        "id": str(license.id),
        "product": license.product.slug,
        "status": license.status,
        "key_hint": license.key_hint,
        "max_domains": license.max_domains,
        "expires_at": _iso(license.expires_at),
        "updates_until": _iso(license.updates_until),
        "customer_email": license.customer_email,
        "customer_name": license.customer_name,
        "metadata": license.meta,
        "created_at": _iso(license.created_at),
        "updated_at": _iso(license.updated_at),
    }


def _activation_object(activation_id: str) -> dict[str, Any] | None:
    activation = db.session.get(Activation, uuid.UUID(activation_id))
    if activation is None:
        return None
    return {
        "id": str(activation.id),
        "license_id": str(activation.license_id),
        "domain": activation.domain,
        "development": activation.development,
        "environment": activation.environment,
        "created_at": _iso(activation.created_at),
        "deactivated_at": _iso(activation.deactivated_at),
    }


def _release_object(release_id: str) -> dict[str, Any] | None:
    # what a vendor's tooling needs to announce or withdraw a version; no signature,
    # storage key or download URL (package URLs are per licence and site)
    release = db.session.get(Release, uuid.UUID(release_id))
    if release is None:
        return None
    product = db.session.get(Product, release.product_id)
    return {
        "id": str(release.id),
        "product": product.slug if product is not None else None,
        "version": release.version,
        "channel": release.channel,
        # a yank clears published_at: the first publication is what was announced
        "published_at": _iso(release.first_published_at),
        "yanked_at": _iso(release.yanked_at),
        "yank_reason": release.yank_reason,
        "sha256": release.sha256,
        "size": release.size,
        "requires": release.requires,
        "requires_php": release.requires_php,
        "tested": release.tested,
    }


def _object(event: NewEvent) -> dict[str, Any] | None:
    if event.subject_type == "license":
        return _license_object(event.subject_id)
    if event.subject_type == "activation":
        return _activation_object(event.subject_id)
    if event.subject_type == "release":
        return _release_object(event.subject_id)
    return None


def ordering_key(event: NewEvent) -> str:
    """Return the key whose deliveries go out in order: the license an event is on."""
    if event.subject_type == "license":
        return event.subject_id
    return str(
        event.data.get("license_id") or f"{event.subject_type}:{event.subject_id}"
    )


def body(
    *,
    message: uuid.UUID,
    event_type: str,
    vendor: Vendor,
    data: dict[str, Any],
    event: dict[str, Any] | None,
    now: datetime,
) -> str:
    """Return the JSON body of a webhook: the vendor, the event, the object."""
    payload = {
        "id": message_id(message),
        "type": event_type,
        "created_at": _iso(now),
        "vendor": {"id": str(vendor.id), "slug": vendor.slug},
        "event": event,
        "data": data,
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


# built once: every appended event with a webhook type runs it
_ENDPOINTS = select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
    WebhookEndpoint.vendor_id == bindparam("vendor"),
    WebhookEndpoint.enabled.is_(True),
)
# for the chain append's vendor update: does the vendor have an enabled endpoint?
# (by the same parameter as that update, not correlated: SQLite renders RETURNING
# columns unqualified, where ``id`` would name the endpoint's own)
HAS_ENDPOINTS = _ENDPOINTS.exists().label("has_endpoints")


# one statement each on the session's connection (services.bulk: COPY on PostgreSQL)
_MESSAGES = cast("Table", WebhookMessage.__table__)
_DELIVERIES = cast("Table", WebhookDelivery.__table__)


def write(
    *, vendor_id: uuid.UUID, events: Sequence[tuple[int, NewEvent]], now: datetime
) -> None:
    """Queue the webhooks of freshly appended events, in the caller's transaction."""
    wanted = [(seq, e, types.webhook_type(e.action)) for seq, e in events]
    typed = [(seq, e, kind) for seq, e, kind in wanted if kind is not None]
    if not typed:
        return
    endpoints = db.session.connection().execute(_ENDPOINTS, {"vendor": vendor_id}).all()
    if not endpoints:
        return
    vendor = db.session.get(Vendor, vendor_id)
    assert vendor is not None  # noqa: S101 - the chain append just updated it
    messages, deliveries = [], []
    for seq, event, kind in typed:
        targets = [
            id_ for id_, subscribed in endpoints if types.wants(subscribed, kind)
        ]
        if not targets:
            continue
        data = {
            "object": event.subject_type,
            "id": event.subject_id,
            event.subject_type: _object(event),
            "changes": event.data,
        }
        chain = {"seq": seq, "action": event.action, "actor": event.actor}
        message = uuid.uuid4()
        messages.append(
            {
                "id": message,
                "vendor_id": vendor_id,
                "event_type": kind,
                "event_seq": seq,
                "body": body(
                    message=message,
                    event_type=kind,
                    vendor=vendor,
                    data=data,
                    event=chain,
                    now=now,
                ),
                "created_at": now,
            }
        )
        deliveries += [
            _delivery(vendor_id, target, message, ordering_key(event), seq, now)
            for target in targets
        ]
    if messages:
        connection = db.session.connection()
        for table, rows in ((_MESSAGES, messages), (_DELIVERIES, deliveries)):
            columns = tuple(rows[0])
            bulk.insert_rows(
                connection, table, columns, [tuple(r[c] for c in columns) for r in rows]
            )


def _delivery(
    vendor_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    message: uuid.UUID,
    key: str,
    seq: int,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "vendor_id": vendor_id,
        "endpoint_id": endpoint_id,
        "message_id": message,
        "ordering_key": key,
        "seq": seq,
        "state": DeliveryState.PENDING,
        "tries": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def queue_ping(
    *, endpoint: WebhookEndpoint, vendor: Vendor, now: datetime
) -> uuid.UUID:
    """Queue a ``test.ping`` to one endpoint; return the delivery's id."""
    message = uuid.uuid4()
    db.session.add(
        WebhookMessage(
            id=message,
            vendor_id=vendor.id,
            event_type=types.TEST_PING,
            event_seq=None,
            body=body(
                message=message,
                event_type=types.TEST_PING,
                vendor=vendor,
                data={"object": "endpoint", "id": str(endpoint.id)},
                event=None,
                now=now,
            ),
            created_at=now,
        )
    )
    db.session.flush()  # the message before the delivery that refers to it
    row = _delivery(vendor.id, endpoint.id, message, f"ping:{message.hex}", 0, now)
    db.session.add(WebhookDelivery(**row))
    return row["id"]  # type: ignore[no-any-return]
