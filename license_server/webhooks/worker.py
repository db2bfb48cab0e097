"""Deliver the outbox: claim one due delivery, sign, POST, record the attempt.

On PostgreSQL a delivery is claimed with ``FOR UPDATE SKIP LOCKED`` and the row lock
is held until its attempt is recorded, so any number of workers share the outbox and
never send one delivery twice; a worker that dies mid-delivery loses its lock with
its connection, and the delivery is sent again (the receiver dedups by
``webhook-id``). SQLite has one writer and one worker: the read transaction ends
before the POST, so the server's writes never wait for a receiver.

A delivery waits while an earlier delivery of the same license to the same endpoint
is still pending, so each license's events arrive in the order they happened.
"""

from __future__ import annotations

import random
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import aliased

from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models.webhooks import (
    DeliveryState,
    SignatureScheme,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookKey,
    WebhookMessage,
)
from license_server.services import events
from license_server.webhooks import metrics, schedule, signatures, ssrf, transport
from license_server.webhooks.outbox import message_id

Clock = Callable[[], datetime]
WORKER_ACTOR = "system:webhooks"


def system_clock() -> datetime:
    """Return the current time, aware UTC."""
    return datetime.now(UTC)


@dataclass
class Settings:
    """How the worker delivers: where it may send, how long it waits."""

    policy: ssrf.Policy = field(default_factory=ssrf.Policy)
    timeout: float = 15.0
    tls: ssl.SSLContext | None = None
    jitter: schedule.Jitter = random.uniform


@dataclass(frozen=True)
class _Job:
    """Everything one POST needs, copied out of the session."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    url: str
    msg_id: str
    body: str
    secrets: list[str]
    keys: list[Ed25519PrivateKey]


def _claim(now: datetime) -> WebhookDelivery | None:
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.ordering_key == WebhookDelivery.ordering_key,
        earlier.state == DeliveryState.PENDING,
        earlier.seq < WebhookDelivery.seq,
    )
    return db.session.scalar(
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.state == DeliveryState.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True),
            ~blocked,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.seq)
        .limit(1)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )


def signing_material(
    keyring: Keyring, endpoint: WebhookEndpoint, now: datetime
) -> tuple[list[str], list[Ed25519PrivateKey]]:
    """Return the endpoint's valid v1 secrets or its vendor's valid v1a keys."""
    if endpoint.scheme == SignatureScheme.V1:
        sealed = [endpoint.secret_sealed]
        until = endpoint.previous_secret_until
        if endpoint.previous_secret_sealed and until and until > now:
            sealed.append(endpoint.previous_secret_sealed)
        opened = [keyring.open_webhook_secret(s, str(endpoint.id)) for s in sealed if s]
        return opened, []
    rows = db.session.scalars(
        select(WebhookKey)
        .where(
            WebhookKey.vendor_id == endpoint.vendor_id,
            or_(WebhookKey.retires_at.is_(None), WebhookKey.retires_at > now),
        )
        .order_by(WebhookKey.created_at.desc())
    )
    keys = [signatures.open_key(keyring, k.kid, k.private_key_sealed) for k in rows]
    return [], keys


def _job(keyring: Keyring, delivery: WebhookDelivery, now: datetime) -> _Job:
    endpoint = db.session.get_one(WebhookEndpoint, delivery.endpoint_id)
    message = db.session.get_one(WebhookMessage, delivery.message_id)
    secrets_, keys = signing_material(keyring, endpoint, now)
    return _Job(
        delivery.id,
        endpoint.id,
        endpoint.url,
        message_id(message.id),
        message.body,
        secrets_,
        keys,
    )


def _send(job: _Job, settings: Settings, now: datetime) -> transport.Answer | str:
    try:
        target = settings.policy.vet(job.url)
        headers = signatures.headers(
            msg_id=job.msg_id,
            moment=now,
            body=job.body,
            secrets_=job.secrets,
            keys=job.keys,
        )
        return transport.post(
            target,
            body=job.body.encode(),
            headers=headers,
            timeout=settings.timeout,
            context=settings.tls,
        )
    except (ssrf.UnsafeTarget, transport.DeliveryError, ValueError) as exc:
        return str(exc)[:500]


def _record(
    delivery: WebhookDelivery,
    outcome: transport.Answer | str,
    *,
    keyring: Keyring,
    started: datetime,
    now: datetime,
    millis: int,
    settings: Settings,
) -> None:
    answer = outcome if isinstance(outcome, transport.Answer) else None
    db.session.add(
        WebhookAttempt(
            vendor_id=delivery.vendor_id,
            delivery_id=delivery.id,
            attempted_at=started,
            status_code=answer.status if answer else None,
            response_body=answer.body if answer else None,
            error=None if answer else str(outcome),
            duration_ms=millis,
        )
    )
    delivery.tries += 1
    delivery.last_status = answer.status if answer else None
    if answer is not None and 200 <= answer.status < 300:
        delivery.state, delivery.finished_at = DeliveryState.DELIVERED, now
        metrics.DELIVERED.inc()
        return
    if answer is not None and answer.status == 410:
        _disable(keyring, delivery.endpoint_id, "the receiver answered 410 Gone", now)
        delivery.state, delivery.finished_at = DeliveryState.FAILED, now
        metrics.FAILED.inc()
        return
    wait = None
    if answer is not None and answer.status in (429, 503):
        wait = schedule.retry_after_seconds(answer.retry_after, now)
    later = schedule.next_attempt(
        delivery.tries, now, retry_after=wait, jitter=settings.jitter
    )
    if later is None:
        delivery.state, delivery.finished_at = DeliveryState.FAILED, now
        metrics.FAILED.inc()
    else:
        delivery.next_attempt_at = later
        metrics.RETRIED.inc()


def _disable(
    keyring: Keyring, endpoint_id: uuid.UUID, reason: str, now: datetime
) -> None:
    endpoint = db.session.get_one(WebhookEndpoint, endpoint_id)
    endpoint.enabled, endpoint.disabled_reason, endpoint.updated_at = False, reason, now
    event = events.NewEvent(
        WORKER_ACTOR,
        "webhook_endpoint.disabled",
        "webhook_endpoint",
        str(endpoint.id),
        {"reason": reason},
    )
    events.append(
        keyring=keyring, vendor_id=endpoint.vendor_id, events=[event], now=now
    )


def deliver_one(*, keyring: Keyring, settings: Settings, clock: Clock) -> bool:
    """Make one attempt of one due delivery; return False when none is due."""
    started = clock()
    delivery = _claim(started)
    if delivery is None:
        db.session.rollback()
        return False
    job = _job(keyring, delivery, started)
    holds_lock = db.engine.dialect.name == "postgresql"
    if not holds_lock:
        db.session.rollback()  # SQLite: no transaction open while we wait
    begun = time.monotonic()
    outcome = _send(job, settings, started)
    millis = int((time.monotonic() - begun) * 1000)
    if not holds_lock:
        found = db.session.get(WebhookDelivery, job.delivery_id)
        if found is None or found.state != DeliveryState.PENDING:
            db.session.rollback()  # deleted, or resent meanwhile: nothing to record
            return True
        delivery = found
    _record(
        delivery,
        outcome,
        keyring=keyring,
        started=started,
        now=clock(),
        millis=millis,
        settings=settings,
    )
    db.session.commit()
    return True


def outbox_age(now: datetime) -> float:
    """Return the age in seconds of the oldest pending delivery (0 if none)."""
    oldest = db.session.scalar(
        select(func.min(WebhookDelivery.created_at)).where(
            WebhookDelivery.state == DeliveryState.PENDING
        )
    )
    db.session.rollback()
    if oldest is None:
        return 0.0
    return max((now - oldest).total_seconds(), 0.0)
