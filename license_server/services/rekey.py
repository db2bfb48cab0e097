"""Master key rotation: re-seal every stored secret under a new master key.

All in one transaction, through the keyring's public functions only: every signing
key, license key and stored idempotent answer is opened with the old keyring and
sealed with the new one (bound to the same row), each license's lookup hash is
recomputed from its key, and every vendor's event chain is checked under the old
key and its MACs recomputed under the new one (a chain that does not verify stops
the rotation: re-keying it would make tampering verify). Nothing is written unless
the old key opens everything. Admin API keys are stored only as keyed hashes of a text
the server never kept, so they cannot be carried over: each live one is reissued
(same id, name and scope, a new text shown once) and the old texts stop working.
Client-address hashes already in events stay as they are (the addresses were never
stored); new events hash addresses under the new key. Other areas that seal secrets
under the master key add a :data:`Resealer` with :func:`register`.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update

from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.keys import parse_key
from license_server.models import (
    ApiKey,
    Event,
    IdempotencyKey,
    License,
    ReleaseKey,
    SigningKey,
    Vendor,
)
from license_server.models.portal import MailMessage
from license_server.models.users import StaffUser
from license_server.models.webhooks import WebhookEndpoint, WebhookKey
from license_server.services import events
from license_server.services.common import record_event
from license_server.services.vendors import API_KEY_PREFIX

M = TypeVar("M")
ACTOR = "cli:master-key-rotate"
# (old keyring, new keyring) -> {vendor id: number of secrets re-sealed}
Resealer = Callable[[Keyring, Keyring], Counter[uuid.UUID]]
_RESEALERS: dict[str, Resealer] = {}
# "table.column" of every stored value the registered re-sealers rewrite
_COVERED: set[str] = {"api_keys.key_hash"}  # reissued below, not re-sealed


class WrongOldKey(RuntimeError):
    """The old master key does not open the stored secrets."""


class ChainBroken(RuntimeError):
    """An event chain does not verify, so its MACs are not re-keyed."""


@dataclass(frozen=True)
class ReissuedKey:
    """An admin API key's new text (shown once)."""

    vendor_id: uuid.UUID
    key_id: uuid.UUID
    name: str
    token: str


@dataclass
class RotationReport:
    """What a rotation re-sealed, per kind, and the API keys it reissued."""

    counts: dict[str, int] = field(default_factory=dict)
    api_keys: list[ReissuedKey] = field(default_factory=list)


def register(kind: str, resealer: Resealer, covers: tuple[str, ...]) -> None:
    """Add a re-sealer of the ``covers`` columns ("table.column"), at import."""
    _RESEALERS[kind] = resealer
    _COVERED.update(covers)


def covered_columns() -> frozenset[str]:
    """Return every column a rotation rewrites (a test holds it to the models)."""
    return frozenset(_COVERED)


def _in_batches(model: type[M], size: int = 1000) -> Iterator[M]:
    """Yield every row of ``model`` by id, flushing and forgetting each batch."""
    last: Any = None
    while True:
        query = select(model).order_by(model.id).limit(size)  # type: ignore[attr-defined]
        if last is not None:
            query = query.where(model.id > last)  # type: ignore[attr-defined]
        rows = list(db.session.scalars(query))
        if not rows:
            return
        yield from rows
        db.session.flush()
        last = rows[-1].id  # type: ignore[attr-defined]
        for row in rows:
            db.session.expunge(row)


def _signing_keys(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    for key in _in_batches(SigningKey):
        raw = old.open_signing_key(key.private_key_sealed, key.kid)
        key.private_key_sealed = new.seal_signing_key(raw, key.kid)
        done[key.vendor_id] += 1
    return done


def _licenses(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    for license in _in_batches(License):
        row = {"vendor_id": license.vendor_id, "license_id": license.id}
        text = old.open_license_key(license.key_sealed, **row)
        license.key_sealed = new.seal_license_key(text, **row)
        license.key_hash = new.license_lookup(parse_key(text).body)
        done[license.vendor_id] += 1
    return done


def _replays(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    for stored in _in_batches(IdempotencyKey):
        if stored.body_sealed is None:
            continue
        row = {"vendor_id": stored.vendor_id, "row_id": stored.id}
        body = old.open_replay(stored.body_sealed, **row)
        stored.body_sealed = new.seal_replay(body, **row)
        done[stored.vendor_id] += 1
    return done


def _event_macs(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    """Re-key every chain's MACs; a chain that does not verify is never re-keyed."""
    broken = events.verify_chain(old)
    if broken:
        # re-keying would make a tampered chain verify: stop and let people look
        raise ChainBroken(
            f"{len(broken)} event chain(s) do not verify under the old key "
            "(`license-server events verify`): nothing was changed"
        )
    done: Counter[uuid.UUID] = Counter()
    for vendor_id in list(db.session.scalars(select(Vendor.id).order_by(Vendor.id))):
        mac, batch = "", []
        rows = db.session.scalars(
            select(Event).where(Event.vendor_id == vendor_id).order_by(Event.seq)
        )
        for event in rows:
            mac = events.event_mac(new, mac, events.chained_fields(event))
            batch.append({"id": event.id, "mac": mac})
        if batch:
            db.session.execute(update(Event), batch)
        db.session.execute(
            update(Vendor)
            .where(Vendor.id == vendor_id)
            .values(event_mac_head=mac)
            .execution_options(synchronize_session=False)
        )
        done[vendor_id] = len(batch)
    return done


def _reissue_api_keys(new: Keyring, report: RotationReport) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    live = select(ApiKey).where(ApiKey.revoked_at.is_(None)).order_by(ApiKey.created_at)
    for key in db.session.scalars(live):
        token = API_KEY_PREFIX + secrets.token_urlsafe(32)
        key.prefix = token[:12]
        key.key_hash = new.api_key_lookup(token)
        report.api_keys.append(ReissuedKey(key.vendor_id, key.id, key.name, token))
        done[key.vendor_id] += 1
    return done


register("signing_keys", _signing_keys, ("signing_keys.private_key_sealed",))
register("license_keys", _licenses, ("licenses.key_sealed", "licenses.key_hash"))


def _release_keys(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    for key in _in_batches(ReleaseKey):
        raw = old.open_release_key(key.private_key_sealed, key.kid)
        key.private_key_sealed = new.seal_release_key(raw, key.kid)
        done[key.vendor_id] += 1
    return done


def _totp_secrets(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    for user in _in_batches(StaffUser):
        if user.totp_sealed is not None:
            secret = old.open_web_secret(user.totp_sealed, str(user.id))
            user.totp_sealed = new.seal_web_secret(secret, str(user.id))
            done[user.vendor_id] += 1
    return done


def _webhook_secrets(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    for endpoint in _in_batches(WebhookEndpoint):
        context = str(endpoint.id)
        for column in ("secret_sealed", "previous_secret_sealed"):
            sealed = getattr(endpoint, column)
            if sealed is not None:
                secret = old.open_webhook_secret(sealed, context)
                setattr(endpoint, column, new.seal_webhook_secret(secret, context))
                done[endpoint.vendor_id] += 1
    return done


def _webhook_keys(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    for key in _in_batches(WebhookKey):
        raw = old.open_signing_key(key.private_key_sealed, key.kid)
        key.private_key_sealed = new.seal_signing_key(raw, key.kid)
        done[key.vendor_id] += 1
    return done


register("release_keys", _release_keys, ("release_keys.private_key_sealed",))
register("totp_secrets", _totp_secrets, ("staff_users.totp_sealed",))
register(
    "webhook_secrets",
    _webhook_secrets,
    ("webhook_endpoints.secret_sealed", "webhook_endpoints.previous_secret_sealed"),
)
register("webhook_keys", _webhook_keys, ("webhook_keys.private_key_sealed",))
register("idempotent_answers", _replays, ("idempotency_keys.body_sealed",))
# last: the MACs re-keyed here are checked under the old key first
register("event_macs", _event_macs, ("events.mac", "vendors.event_mac_head"))


def _mail_secrets(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    for message in _in_batches(MailMessage):
        if message.secret_sealed is not None:
            row = {"vendor_id": message.vendor_id, "mail_id": message.id}
            opened = old.open_mail_secret(message.secret_sealed, **row)
            message.secret_sealed = new.seal_mail_secret(opened, **row)
            done[message.vendor_id] += 1
    return done


register("mail_secrets", _mail_secrets, ("mail_outbox.secret_sealed",))


def rotate_master_key(*, old: Keyring, new: Keyring, now: datetime) -> RotationReport:
    """Re-seal every stored secret from ``old`` to ``new`` in one transaction."""
    report = RotationReport()
    per_vendor: dict[uuid.UUID, dict[str, int]] = {}
    try:
        for kind, resealer in _RESEALERS.items():
            counts = resealer(old, new)
            report.counts[kind] = sum(counts.values())
            for vendor_id, count in counts.items():
                per_vendor.setdefault(vendor_id, {})[kind] = count
    except ChainBroken:
        db.session.rollback()
        raise
    except InvalidTag as exc:
        db.session.rollback()
        raise WrongOldKey(
            "the old master key does not open the stored secrets: nothing was changed"
        ) from exc
    reissued = _reissue_api_keys(new, report)
    report.counts["api_keys_reissued"] = sum(reissued.values())
    for vendor_id, count in reissued.items():
        per_vendor.setdefault(vendor_id, {})["api_keys_reissued"] = count
    for vendor_id, resealed in sorted(per_vendor.items()):
        record_event(
            keyring=new,
            vendor_id=vendor_id,
            actor=ACTOR,
            action="master_key.rotated",
            subject_type="vendor",
            subject_id=vendor_id,
            data=resealed,
            now=now,
        )
    db.session.commit()
    return report


# the sales channels' secrets register their own re-sealers
from license_server.channels import resealing  # noqa: E402,F401
