"""One inbound store event: verify, read, act once, deliver the key, log.

The use case runs in one transaction: the receipt (the once-only guard, a unique
``(connection, dedupe key)``), the licences with their events in the vendor's chain
and their webhooks in the outbox, the links to the store's ids, the key's e-mail in
the mail outbox, and the log row. A second delivery of the same event, or a second
event about an order already issued (even at the same moment, in another process),
fails on the receipt's unique key: its transaction rolls back whole and only a
``duplicate`` log row is written. A refused signature, a malformed body, an event
we do not act on and a product with no mapping are logged too, each in its own
short transaction; an unmapped product keeps no receipt, so the store's resend
issues once the vendor has added the mapping.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from license_server import errors, mail
from license_server.channels import signatures, stores
from license_server.channels.errors import (
    ConnectionNotFound,
    MalformedEvent,
    SignatureExpired,
    SignatureInvalid,
)
from license_server.channels.stores import Action, Ignored, Sale
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import License, LicenseStatus, Product
from license_server.models.channels import (
    Outcome,
    RefundPolicy,
    StoreConnection,
    StoreEvent,
    StoreKind,
    StoreLink,
    StoreMapping,
    StoreReceipt,
)
from license_server.services import licenses
from license_server.services.unit import transaction

SECRET_PURPOSE = "store-secret"  # noqa: S105 - a sealing context, not a secret
_WOO_PING = re.compile(rb"webhook_id=\d{1,20}")


@dataclass(frozen=True)
class Received:
    """What came of one inbound event (the answer to the store)."""

    outcome: Outcome
    event_type: str | None = None
    reason: str | None = None
    license_ids: tuple[str, ...] = ()


class _Duplicate(Exception):
    """The receipt exists: this event (or this order's issue) was acted on."""


class _Unmapped(Exception):
    """No line of the order maps to a product of ours."""


def actor(connection: StoreConnection) -> str:
    """Return the event-chain actor of a connection's changes."""
    return f"channel:{connection.id}"


def open_secret(keyring: Keyring, connection: StoreConnection) -> str:
    """Decrypt a connection's signing secret."""
    return keyring.open_channel_secret(
        connection.secret_sealed, purpose=SECRET_PURPOSE, row_id=str(connection.id)
    )


def deliver_key(
    session: Session,
    *,
    vendor_id: uuid.UUID,
    to: str | None,
    key: str,
    license: License,
    product: Product,
) -> bool:
    """Queue the ``license_delivered`` e-mail with the new key; False without e-mail."""
    if to is None:
        return False
    context: dict[str, Any] = {
        "license_key": key,
        "product_name": product.name,
        "customer_name": license.customer_name,
        "expires_at": license.expires_at.date().isoformat()
        if license.expires_at
        else None,
    }
    try:
        mail.enqueue(
            session,
            vendor_id=vendor_id,
            to=to,
            template="license_delivered",
            context=context,
        )
    except ValueError:  # not a plain address: the licence stands, the vendor sends it
        return False
    return True


def _log(
    connection: StoreConnection, now: datetime, received: Received, event_id: str | None
) -> None:
    db.session.add(
        StoreEvent(
            vendor_id=connection.vendor_id,
            connection_id=connection.id,
            received_at=now,
            event_type=(received.event_type or "")[:100] or None,
            external_id=(event_id or "")[:255] or None,
            outcome=received.outcome,
            reason=(received.reason or "")[:500] or None,
            license_ids=list(received.license_ids),
        )
    )


def _log_alone(
    connection: StoreConnection, now: datetime, received: Received, event_id: str | None
) -> Received:
    with transaction():
        _log(connection, now, received, event_id)
    return received


def _header_type(kind: str, headers: Mapping[str, str]) -> str | None:
    name = {
        StoreKind.WOOCOMMERCE: "x-wc-webhook-topic",
        StoreKind.LEMONSQUEEZY: "x-event-name",
    }.get(StoreKind(kind))
    return headers.get(name) if name else None


def receive(
    *,
    keyring: Keyring,
    connection_id: uuid.UUID,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Received:
    """Act on one inbound event of a connection, once; log what came of it.

    ``headers`` are the request's, their names in lower case.
    """
    connection = db.session.get(StoreConnection, connection_id)
    if connection is None or not connection.enabled:
        db.session.rollback()
        raise ConnectionNotFound()
    kind = connection.kind
    if (
        kind == StoreKind.WOOCOMMERCE
        and "x-wc-webhook-signature" not in headers
        and _WOO_PING.fullmatch(body.strip())
    ):  # WooCommerce checks a new webhook's URL with this unsigned ping
        ping = Received(Outcome.IGNORED, "ping", "WooCommerce's ping of a new webhook")
        return _log_alone(connection, now, ping, None)
    try:
        signatures.verify(kind, open_secret(keyring, connection), headers, body, now)
    except (SignatureInvalid, SignatureExpired) as refusal:
        refused = Received(
            Outcome.REFUSED, _header_type(kind, headers), f"{refusal.code}: {refusal}"
        )
        _log_alone(connection, now, refused, headers.get("webhook-id"))
        raise
    try:
        sale = stores.read(kind, body, headers)
    except MalformedEvent as failure:
        failed = Received(Outcome.FAILED, _header_type(kind, headers), str(failure))
        _log_alone(connection, now, failed, headers.get("webhook-id"))
        raise
    if isinstance(sale, Ignored):
        ignored = Received(Outcome.IGNORED, sale.event_type, sale.reason)
        return _log_alone(connection, now, ignored, sale.event_id)
    return _act(keyring, connection, sale, now)


def _act(
    keyring: Keyring, connection: StoreConnection, sale: Sale, now: datetime
) -> Received:
    try:
        with transaction():
            received = _apply(keyring, connection, sale, now)
            _log(connection, now, received, sale.event_id)
        return received
    except _Duplicate:
        duplicate = Received(
            Outcome.DUPLICATE, sale.event_type, f"acted on already ({sale.dedupe})"
        )
    except _Unmapped as unmapped:
        duplicate = Received(Outcome.UNMAPPED, sale.event_type, str(unmapped))
    except errors.APIError as failure:  # an archived product, say: the store retries
        _log_alone(
            connection,
            now,
            Received(Outcome.FAILED, sale.event_type, f"{failure.code}: {failure}"),
            sale.event_id,
        )
        raise
    return _log_alone(connection, now, duplicate, sale.event_id)


def _claim(connection: StoreConnection, key: str, now: datetime) -> None:
    """Insert the receipt; a unique violation means this was acted on already."""
    db.session.add(
        StoreReceipt(
            vendor_id=connection.vendor_id,
            connection_id=connection.id,
            dedupe_key=key[:255],
            created_at=now,
        )
    )
    try:
        db.session.flush()
    except IntegrityError:
        raise _Duplicate() from None


def _links(connection: StoreConnection, references: tuple[str, ...]) -> list[StoreLink]:
    """Return one link per licence tied to any of the references."""
    rows = db.session.scalars(
        select(StoreLink)
        .where(
            StoreLink.connection_id == connection.id,
            StoreLink.reference.in_(references),
        )
        .order_by(StoreLink.created_at, StoreLink.id)
    )
    seen: dict[uuid.UUID, StoreLink] = {}
    for row in rows:
        seen.setdefault(row.license_id, row)
    return list(seen.values())


def _apply(
    keyring: Keyring, connection: StoreConnection, sale: Sale, now: datetime
) -> Received:
    if sale.action is Action.RENEWAL and not _links(connection, sale.references):
        sale = replace(sale, action=Action.PURCHASE)  # the first news of this order
    _claim(connection, sale.dedupe, now)
    linked = _links(connection, sale.references)
    if sale.action is Action.PURCHASE:
        if linked:
            return _done(Outcome.UNCHANGED, sale, linked, "issued already")
        return _issue(keyring, connection, sale, now)
    if not linked:
        raise _Unmapped("no licence of ours is tied to this order")
    if sale.action is Action.RENEWAL:
        return _renew(keyring, connection, sale, linked, now)
    if sale.action is Action.LINK:
        return _link(connection, sale, linked, now)
    return _end(keyring, connection, sale, linked, now)


def _done(
    outcome: Outcome, sale: Sale, links: list[StoreLink], reason: str | None = None
) -> Received:
    return Received(
        outcome, sale.event_type, reason, tuple(str(link.license_id) for link in links)
    )


def _days(count: int | None, now: datetime) -> datetime | None:
    return None if count is None else now + timedelta(days=count)


def _issue(
    keyring: Keyring, connection: StoreConnection, sale: Sale, now: datetime
) -> Received:
    mappings = {
        row.external_id: row
        for row in db.session.scalars(
            select(StoreMapping).where(StoreMapping.connection_id == connection.id)
        )
    }
    issued: list[str] = []
    mailed = 0
    for item in sale.items:
        mapping = next((mappings[i] for i in item.ids if i in mappings), None)
        if mapping is None:
            continue
        product = db.session.get_one(Product, mapping.product_id)
        made = licenses.create_licenses(
            keyring=keyring,
            vendor_id=connection.vendor_id,
            actor=actor(connection),
            product=product.slug,
            count=item.quantity,
            now=now,
            max_domains=mapping.max_domains,
            expires_at=_days(mapping.duration_days, now),
            updates_until=_days(mapping.updates_days, now),
            customer_email=sale.email,
            customer_name=sale.name,
            meta={"channel": connection.kind, "order": sale.references[0]},
        )
        for license, key in made:
            db.session.add_all(
                StoreLink(
                    vendor_id=connection.vendor_id,
                    connection_id=connection.id,
                    reference=reference,
                    license_id=license.id,
                    mapping_id=mapping.id,
                    created_at=now,
                )
                for reference in sale.references
            )
            mailed += deliver_key(
                db.session(),
                vendor_id=connection.vendor_id,
                to=sale.email,
                key=key,
                license=license,
                product=product,
            )
            issued.append(str(license.id))
    if not issued:
        offered = sorted({i for item in sale.items for i in item.ids})[:10]
        raise _Unmapped(f"no mapping for the store's ids {offered}")
    reason = None if mailed else "no buyer e-mail in the event: the key was not mailed"
    return Received(Outcome.ISSUED, sale.event_type, reason, tuple(issued))


def _mapping(link: StoreLink) -> StoreMapping | None:
    return (
        None
        if link.mapping_id is None
        else db.session.get(StoreMapping, link.mapping_id)
    )


def _renew(
    keyring: Keyring,
    connection: StoreConnection,
    sale: Sale,
    links: list[StoreLink],
    now: datetime,
) -> Received:
    if sale.initial:
        return _done(
            Outcome.UNCHANGED, sale, links, "the first payment: issued already"
        )
    renewed = []
    for link in links:
        mapping = _mapping(link)
        days = mapping.duration_days or mapping.updates_days if mapping else None
        if days:
            licenses.renew_license(
                keyring=keyring,
                vendor_id=connection.vendor_id,
                license_id=link.license_id,
                days=days,
                actor=actor(connection),
                now=now,
            )
            renewed.append(link)
    if not renewed:
        return _done(Outcome.UNCHANGED, sale, links, "perpetual licences: no change")
    return _done(Outcome.RENEWED, sale, renewed)


def _link(
    connection: StoreConnection, sale: Sale, links: list[StoreLink], now: datetime
) -> Received:
    assert sale.link is not None  # noqa: S101 - Action.LINK always names one
    known = {link.license_id for link in _links(connection, (sale.link,))}
    db.session.add_all(
        StoreLink(
            vendor_id=connection.vendor_id,
            connection_id=connection.id,
            reference=sale.link,
            license_id=link.license_id,
            mapping_id=link.mapping_id,
            created_at=now,
        )
        for link in links
        if link.license_id not in known
    )
    return _done(Outcome.UNCHANGED, sale, links, f"tied to {sale.link}")


def _end(
    keyring: Keyring,
    connection: StoreConnection,
    sale: Sale,
    links: list[StoreLink],
    now: datetime,
) -> Received:
    """A refund (now) or a subscription's end (at its end): revoke or lapse."""
    at = now if sale.action is Action.REFUND else min(sale.ends_at or now, now)
    outcomes = set()
    for link in links:
        license = db.session.get_one(License, link.license_id)
        if license.status == LicenseStatus.REVOKED:
            continue
        mapping = _mapping(link)
        policy = mapping.refund_policy if mapping else RefundPolicy.REVOKE
        if policy == RefundPolicy.REVOKE:
            licenses.change_status(
                keyring=keyring,
                vendor_id=connection.vendor_id,
                license_id=license.id,
                change="revoke",
                actor=actor(connection),
                now=now,
            )
            outcomes.add(Outcome.REVOKED)
        elif license.expires_at is None or license.expires_at > at:
            licenses.update_license(
                keyring=keyring,
                vendor_id=connection.vendor_id,
                license_id=license.id,
                changes={"expires_at": at},
                actor=actor(connection),
                now=now,
            )
            outcomes.add(Outcome.LAPSED)
    if not outcomes:
        return _done(Outcome.UNCHANGED, sale, links, "ended already")
    outcome = Outcome.REVOKED if Outcome.REVOKED in outcomes else Outcome.LAPSED
    return _done(outcome, sale, links)


__all__ = ["Received", "actor", "deliver_key", "open_secret", "receive"]
