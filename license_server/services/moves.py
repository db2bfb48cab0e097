"""A site owner frees a seat or moves a licence from one domain to another.

A move is one transaction: under the licence row lock (PostgreSQL; SQLite's
single writer elsewhere) the old activation ends within the licence's
deactivation limit, the new domain takes a seat through the same atomic
``INSERT ... SELECT ... WHERE seats < limit`` that activation uses, one
``activation.moved`` event goes into the vendor's chain (and so to the webhook
outbox) and the ``domain_moved`` mail into the mail outbox. Any refusal rolls all
of it back: the old site keeps its seat.

The limit is the one the public ``/v1/deactivate`` endpoint applies (see
:func:`end_counted`): a site owner's move spends one deactivation of the product's
``max_deactivations`` a day, so no licence is cycled across many sites by mixing
the two. The dashboard's move (:func:`staff_move`) is the same use case without
that limit: the vendor's own deactivations never count against it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from license_server import errors, mail
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Activation, License
from license_server.services import activations, common
from license_server.services.unit import transactional
from license_server.services.validation import is_development
from license_server.validation.state import read_product, read_state

DeactivationLimitReached = activations.DeactivationLimitReached


class MoveRefused(errors.APIError):
    status_code, code, message = (
        409,
        "ACTIVATION_LIMIT_REACHED",
        "The new domain needs a seat the licence does not have.",
    )


class SameDomain(errors.APIError):
    status_code, code, message = (
        409,
        "ALREADY_ACTIVE",
        "The licence is active on this domain already.",
    )


def end_counted(license: License, activation: Activation, *, now: datetime) -> None:
    """End an owner's activation within the licence's deactivation limit.

    The one limit ``/v1/deactivate`` applies (the product's ``max_deactivations``
    in 24 hours, default 3): :func:`activations.end_within_limit` counts and ends in
    one statement under the licence row lock the caller holds.
    """
    activations.end_within_limit(license, activation, now=now)
    db.session.refresh(activation)


def _lock(license_id: uuid.UUID) -> None:
    db.session.execute(
        select(License.id).where(License.id == license_id).with_for_update()
    )


def _owned(
    vendor_id: uuid.UUID, email: str, license_id: uuid.UUID, activation_id: uuid.UUID
) -> tuple[License, Activation]:
    """Return the customer's licence and its live activation, else 404."""
    license = db.session.scalar(
        select(License).where(
            License.vendor_id == vendor_id,
            License.id == license_id,
            func.lower(License.customer_email) == email,
        )
    )
    if license is None:
        raise errors.NotFound("No such licence.")
    _lock(license.id)
    activation = db.session.scalar(
        select(Activation).where(
            Activation.id == activation_id,
            Activation.license_id == license.id,
            Activation.deactivated_at.is_(None),
        )
    )
    if activation is None:
        raise errors.NotFound("This site holds no seat of this licence any more.")
    db.session.refresh(activation)  # under the lock: a concurrent end is seen
    return license, activation


@transactional
def deactivate(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    email: str,
    license_id: uuid.UUID,
    activation_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> Activation:
    """Free the seat of one of the customer's sites, within the licence's limit."""
    license, activation = _owned(vendor_id, email, license_id, activation_id)
    end_counted(license, activation, now=now)
    common.record_event(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="activation.deactivated",
        subject_type="activation",
        subject_id=activation.id,
        data={"license_id": str(license.id), "domain": activation.domain},
        now=now,
    )
    return activation


@dataclass(frozen=True)
class Moved:
    """The outcome of a move: the ended and the new activation."""

    old: Activation
    new: Activation


@transactional
def move(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    email: str,
    license_id: uuid.UUID,
    activation_id: uuid.UUID,
    domain: str,
    actor: str,
    portal_url: str | None,
    now: datetime,
) -> Moved:
    """Move one of the customer's sites to ``domain`` atomically (see the module)."""
    site = common.canonical_domain(domain)
    license, old = _owned(vendor_id, email, license_id, activation_id)
    return _move(
        keyring, license, old, site,
        counted=True, actor=actor, portal_url=portal_url, now=now,
    )  # fmt: skip


@transactional
def staff_move(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    activation_id: uuid.UUID,
    domain: str,
    actor: str,
    portal_url: str | None,
    now: datetime,
) -> Moved:
    """Move one of the vendor's activations to ``domain``: the dashboard's move.

    The same transaction, seat guard, ``activation.moved`` event and
    ``domain_moved`` mail as :func:`move`; the one difference is the limit. A move
    by the vendor's staff is neither refused by the licence's deactivation limit
    nor counted in it (no deactivation by the vendor is): it is how support helps a
    customer who has used up their moves, and the event names the staff member.
    """
    site = common.canonical_domain(domain)
    old = db.session.scalar(
        select(Activation).where(
            Activation.vendor_id == vendor_id, Activation.id == activation_id
        )
    )
    if old is None:
        raise errors.NotFound("No such activation.")
    license = db.session.get_one(License, old.license_id)
    _lock(license.id)
    db.session.refresh(old)  # under the lock: a concurrent end is seen
    if old.deactivated_at is not None:
        raise errors.Conflict("This activation has ended already; nothing to move.")
    return _move(
        keyring, license, old, site,
        counted=False, actor=actor, portal_url=portal_url, now=now,
    )  # fmt: skip


def _move(
    keyring: Keyring,
    license: License,
    old: Activation,
    site: str,
    *,
    counted: bool,
    actor: str,
    portal_url: str | None,
    now: datetime,
) -> Moved:
    """End ``old`` and give ``site`` a seat, under the licence lock the caller holds."""
    if site == old.domain:
        raise SameDomain()
    connection = db.session.connection()
    product = license.product
    # the vendor-scoped identifier: a bare slug may name another vendor's product
    item = read_product(connection, f"{product.vendor.slug}/{product.slug}")
    state = read_state(connection, license.key_hash, site)
    if item is None or state is None:
        raise errors.NotFound("No such licence.")
    if state.activation_id is not None:
        raise SameDomain()
    if counted:
        end_counted(license, old, now=now)
    else:
        old.deactivated_at = now
    db.session.flush()
    development = is_development(site, item)
    limit = item.max_dev_domains if development else state.seat_limit(item)
    new_id, bump = activations._insert_if_seat_free(  # the activation's own seat guard
        state=state,
        site=site,
        development=development,
        environment=None,
        limit=limit,
        now=now,
    )
    if new_id is None:
        raise MoveRefused()
    common.record_event(
        keyring=keyring,
        vendor_id=license.vendor_id,
        actor=actor,
        action="activation.moved",
        subject_type="activation",
        subject_id=new_id,
        data={
            "license_id": str(license.id),
            "from_activation_id": str(old.id),
            "from_domain": old.domain,
            "domain": site,
            "development": development,
        },
        now=now,
        bumped=bump,
    )
    _mail(license, old.domain, site, portal_url)
    return Moved(old, db.session.get_one(Activation, new_id))


def _mail(license: License, old: str, new: str, portal_url: str | None) -> None:
    if not license.customer_email:
        return
    try:
        mail.enqueue(
            db.session,
            vendor_id=license.vendor_id,
            to=license.customer_email,
            template="domain_moved",
            context={
                "product_name": license.product.name,
                "key_hint": license.key_hint,
                "old_domain": old,
                "new_domain": new,
                "portal_url": portal_url,
            },
        )
    except ValueError:  # an address no mail can go to; the move stands
        return
