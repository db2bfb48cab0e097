"""Helpers shared by the services: events, key/domain parsing, lookups."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from license_server import domains, errors, keys
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import License
from license_server.services import events
from license_server.services.events import NewEvent

PUBLIC_ACTOR = "public"


def record_event(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | str,
    data: dict[str, Any] | None = None,
    now: datetime,
    bumped: events.Bump | None = None,
) -> None:
    """Append one event to the vendor's chain (committed with the change it records).

    ``bumped``: the chain as the caller's own statement bumped it
    (:func:`events.chain_bumped_by`).
    """
    event = NewEvent(actor, action, subject_type, str(subject_id), data or {})
    events.append(
        keyring=keyring, vendor_id=vendor_id, events=[event], now=now, bumped=bumped
    )


def record_change(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> None:
    """Record an event with the before/after values of the fields that changed."""
    changed = [name for name in before if before[name] != after.get(name)]
    record_event(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        data={
            "before": {name: before[name] for name in changed},
            "after": {name: after[name] for name in changed},
        },
        now=now,
    )


def public_actor(keyring: Keyring, client_address: str | None) -> str:
    """Return the actor for a public request: ``public:<hashed address>``."""
    if not client_address:
        return PUBLIC_ACTOR
    return f"{PUBLIC_ACTOR}:{keyring.client_address(client_address)}"


def parse_license_key(raw: str) -> keys.LicenseKey:
    """Parse a license key; a malformed one answers 400 ``INVALID_KEY_FORMAT``."""
    try:
        return keys.parse_key(raw)
    except keys.InvalidKeyFormat as exc:
        raise errors.InvalidKeyFormat(str(exc)) from exc


def canonical_domain(raw: str) -> str:
    """Canonicalise a domain, answering 400 ``INVALID_DOMAIN`` when it is not one."""
    try:
        return _canonical(raw)
    except domains.InvalidDomain as exc:
        raise errors.InvalidDomain(str(exc)) from exc


# The same sites check in again and again, and canonicalising (IDNA) is the costly
# part of a validation after the query: remember the answers (a pure function; a
# refusal is not remembered). 65,536 entries are a few MB per process.
_canonical = functools.lru_cache(maxsize=65_536)(domains.canonical_domain)


def license_by_key(keyring: Keyring, key: keys.LicenseKey) -> License | None:
    """Return the license with this key, found through its keyed hash."""
    digest = keyring.license_lookup(key.body)
    return db.session.scalar(select(License).where(License.key_hash == digest))


class Revealed:
    """An object with its clear secret (``key``), for the one answer that shows it."""

    def __init__(self, obj: object, key: str) -> None:
        self.obj = obj
        self.key = key

    def __getattr__(self, name: str) -> object:
        return getattr(self.obj, name)
