"""The append-only, hash-chained event log of each vendor.

Every state change appends an event in the same transaction. Each event stores its
per-vendor number (``seq``), the digest of the vendor's previous event and its own
digest: SHA-256 over the canonical JSON of its fields and the previous digest. The
vendor row holds the chain head; appending updates it first, which serialises the
appends of one vendor (a row lock on PostgreSQL, the writer lock on SQLite), so the
chain has no forks. :func:`verify_chain` recomputes it and reports the first broken
link: a changed event, a missing one, or a truncated tail.

The plain digests can be recomputed by anyone (they are for export and outside
checks), so each event also carries a keyed MAC: HMAC-SHA256, under a key derived
from the master secret, over the previous MAC and the same canonical payload. A
database writer who deletes or edits an event and rebuilds the digests cannot
rebuild the MACs; ``events verify`` checks both. (Cutting the newest events and
rolling the head back to an older one is caught only against a head kept
elsewhere: export the head now and then.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Insert,
    String,
    Table,
    Update,
    and_,
    bindparam,
    exists,
    insert,
    or_,
    select,
    update,
)

from license_server import driver
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Activation, Event, Vendor
from license_server.services import bulk, pages
from license_server.webhooks import outbox


@dataclass(frozen=True)
class NewEvent:
    """What to record: who did what to which object, and what changed."""

    actor: str
    action: str
    subject_type: str
    subject_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class ChainBreak:
    """The first event of a vendor's chain that does not verify."""

    vendor_id: uuid.UUID
    seq: int
    event_id: int | None
    reason: str


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _payload(prev: str, fields: dict[str, Any]) -> bytes:
    return json.dumps(
        {"prev": prev, **fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def event_digest(prev: str, fields: dict[str, Any]) -> str:
    """Return the SHA-256 digest chaining ``fields`` to the previous digest."""
    return hashlib.sha256(_payload(prev, fields)).hexdigest()


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False
).encode
# _payload's keys sorted: "prev" falls between "data" and "seq"
_BEFORE_PREV = ("action", "actor", "created_at", "data")
_AFTER_PREV = ("seq", "subject_id", "subject_type", "vendor_id")


def _payload_halves(fields: dict[str, Any]) -> tuple[str, str]:
    """Return the canonical JSON of ``fields`` cut where ``"prev"`` goes.

    ``_payload(prev, fields) == (left + json.dumps(prev) + right).encode()`` (the
    keys are sorted and exactly these), so an append serialises each event once
    for both its digest and its MAC, which chain on different previous values.
    """
    left = {name: fields[name] for name in _BEFORE_PREV}
    right = {name: fields[name] for name in _AFTER_PREV}
    if len(fields) != len(left) + len(right):
        raise ValueError(f"unexpected chained fields: {sorted(fields)}")
    return _CANONICAL(left)[:-1] + ',"prev":', "," + _CANONICAL(right)[1:]


def event_mac(keyring: Keyring, prev_mac: str, fields: dict[str, Any]) -> str:
    """Return the keyed MAC chaining ``fields`` to the previous event's MAC."""
    return keyring.chain_mac(_payload(prev_mac, fields))


def _fields(
    vendor_id: uuid.UUID, seq: int, event: NewEvent, now: datetime
) -> dict[str, Any]:
    return {
        "vendor_id": str(vendor_id),
        "seq": seq,
        "actor": event.actor,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "data": event.data,
        "created_at": _iso(now),
    }


# built once: an append pays neither their construction nor their cache keys again
# (the chain's numbers a bump returns, and whether any webhook endpoint may want
# these events: else the outbox skips its query of them)
_BUMPED = (
    Vendor.event_seq,
    Vendor.event_head,
    Vendor.event_mac_head,
    outbox.HAS_ENDPOINTS,
)
_BUMP = driver.Prepared(
    update(Vendor)
    .where(Vendor.id == bindparam("vendor"))
    .values(event_seq=Vendor.event_seq + bindparam("count", type_=BigInteger))
    .returning(*_BUMPED)
)


@dataclass(frozen=True)
class Bump:
    """A vendor's chain after a bump: its last number, heads, and whether hooked."""

    seq: int
    head: str
    mac: str
    hooked: bool


def chain_bumped_by(write: Insert, column: str) -> Update:
    """Return one statement: ``write``, then the chain bumped by one if it wrote.

    ``write`` (an INSERT returning ``column``) runs as a data-modifying WITH; the
    vendor (parameter ``vendor``) gets one more event number only when it wrote a
    row, in the same statement, so a use case saves the bump's round trip. The
    statement returns ``column``'s value, then what :class:`Bump` holds, and no
    row when ``write`` wrote none. PostgreSQL only (SQLite has no data-modifying
    WITH); :func:`append` takes the :class:`Bump` as ``bumped``.
    """
    written = write.cte("written")
    return (
        update(Vendor)
        .where(Vendor.id == bindparam("vendor"), exists(select(written.c[column])))
        .values(event_seq=Vendor.event_seq + 1)
        .returning(select(written.c[column]).scalar_subquery(), *_BUMPED)
        .add_cte(written)
    )


def _head_update(vendor: str, digest: str, mac: str) -> Update:
    """Move a vendor's chain head: the update, with its parameters' names."""
    return (
        update(Vendor)
        .where(Vendor.id == bindparam(vendor))
        .values(
            event_head=bindparam(digest, type_=String),
            event_mac_head=bindparam(mac, type_=String),
        )
    )


_HEAD = _head_update("vendor", "head", "mac")
# the columns of an event row, in the order append builds them (the id is the
# database's: its sequence numbers the rows in the order they are written)
_ROW = (
    "vendor_id",
    "seq",
    "actor",
    "action",
    "subject_type",
    "subject_id",
    "data",
    "created_at",
    "prev_digest",
    "digest",
    "mac",
)
_EVENTS = cast("Table", Event.__table__)
# PostgreSQL, one event (an activation's, a revocation's): the event row and the
# chain head in one statement (a data-modifying WITH runs once, to completion)
# (the parameters are named apart from every column: an UPDATE or INSERT would take
# a parameter named like one of its columns as a value to set)
_EVENT_AND_HEAD = driver.Prepared(
    insert(_EVENTS)
    .values(
        {name: bindparam(f"new_{name}", type_=_EVENTS.c[name].type) for name in _ROW}
    )
    .add_cte(_head_update("head_vendor", "head_digest", "head_mac").cte("head"))
)


class _Canonical:
    """The canonical halves of many events of one vendor at one time.

    Builds what :func:`_payload_halves` returns from the same pieces its encoder
    writes (sorted keys, no spaces), so an append serialises only what differs per
    event (its data, subject and number) and encodes a repeated string once.
    """

    def __init__(self, vendor_id: uuid.UUID, now: datetime) -> None:
        self._strings: dict[str, str] = {}
        self._created = _CANONICAL(_iso(now))
        self._vendor = _CANONICAL(str(vendor_id))

    def _text(self, value: str) -> str:
        found = self._strings.get(value)
        if found is None:
            found = self._strings[value] = _CANONICAL(value)
        return found

    def halves(self, seq: int, event: NewEvent) -> tuple[str, str]:
        """Return ``_payload_halves(_fields(vendor_id, seq, event, now))``."""
        if type(seq) is not int:  # noqa: E721 - a bool or a subclass encodes otherwise
            raise TypeError(f"an event number is an int, not {type(seq).__name__}")
        left = (
            f'{{"action":{self._text(event.action)},"actor":{self._text(event.actor)},'
            f'"created_at":{self._created},"data":{_CANONICAL(event.data)},"prev":'
        )
        right = (
            f',"seq":{seq},"subject_id":{_CANONICAL(event.subject_id)},'
            f'"subject_type":{self._text(event.subject_type)},'
            f'"vendor_id":{self._vendor}}}'
        )
        return left, right


def append(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    events: Sequence[NewEvent],
    now: datetime,
    bumped: Bump | None = None,
) -> None:
    """Append events to the vendor's chain, in the caller's transaction.

    ``bumped`` is the chain as the caller's own statement left it after bumping it
    for these events (:func:`chain_bumped_by`: one event); else this bumps it.
    """
    if not events:
        return
    db.session.flush()  # the ORM changes these events record go first
    connection = db.session.connection()
    if bumped is None:
        numbers = _BUMP.first(connection, {"vendor": vendor_id, "count": len(events)})
        if numbers is None:
            raise LookupError(f"no vendor {vendor_id} to append events to")
        bumped = Bump(*numbers)
    elif len(events) != 1:
        raise ValueError("a caller's bump numbers one event")
    seq, head, mac, hooked = bumped.seq, bumped.head, bumped.mac, bumped.hooked
    canonical = _Canonical(vendor_id, now)
    chain_mac = keyring.chain_mac
    heads = [head, mac]

    def rows() -> Iterator[tuple[Any, ...]]:
        # a generator: on PostgreSQL the first events are stored while the rest
        # are still being chained
        head, mac = heads
        for number, event in enumerate(events, start=seq - len(events) + 1):
            left, right = canonical.halves(number, event)
            digest = hashlib.sha256(
                f"{left}{_CANONICAL(head)}{right}".encode()
            ).hexdigest()
            next_mac = chain_mac(f"{left}{_CANONICAL(mac)}{right}".encode())
            yield (
                vendor_id,
                number,
                event.actor,
                event.action,
                event.subject_type,
                event.subject_id,
                event.data,
                now,
                head,
                digest,
                next_mac,
            )
            head, mac = digest, next_mac
        heads[:] = head, mac

    one = len(events) == 1 and connection.dialect.name == "postgresql"
    if one:
        (values,) = list(rows())  # run to its end: the chain's new head is set then
        row = {f"new_{name}": value for name, value in zip(_ROW, values, strict=True)}
        head, mac = heads
        _EVENT_AND_HEAD.first(
            connection,
            {**row, "head_vendor": vendor_id, "head_digest": head, "head_mac": mac},
        )
    else:
        bulk.insert_rows(connection, _EVENTS, _ROW, rows())
        head, mac = heads
    # the webhooks of these events commit or roll back with them
    first = seq - len(events) + 1
    if hooked:
        outbox.write(
            vendor_id=vendor_id, events=list(enumerate(events, start=first)), now=now
        )
    if not one:
        connection.execute(_HEAD, {"vendor": vendor_id, "head": head, "mac": mac})


def chained_fields(event: Event) -> dict[str, Any]:
    """Return the canonical fields a stored event's digest and MAC cover."""
    return _fields(
        event.vendor_id,
        event.seq,
        NewEvent(
            event.actor,
            event.action,
            event.subject_type,
            event.subject_id,
            event.data,
        ),
        event.created_at,
    )


def _verify_vendor(
    keyring: Keyring, vendor: Vendor, events: Iterable[Event]
) -> ChainBreak | None:
    head, mac, expected = "", "", 1
    for event in events:
        if event.seq != expected:
            return ChainBreak(vendor.id, expected, None, "event missing")
        fields = chained_fields(event)
        if event.prev_digest != head:
            return ChainBreak(vendor.id, event.seq, event.id, "previous digest differs")
        if event_digest(head, fields) != event.digest:
            return ChainBreak(vendor.id, event.seq, event.id, "event content changed")
        mac = event_mac(keyring, mac, fields)
        if not hmac.compare_digest(mac, event.mac):
            return ChainBreak(
                vendor.id, event.seq, event.id, "keyed MAC differs (chain rebuilt)"
            )
        head, expected = event.digest, expected + 1
    if not hmac.compare_digest(vendor.event_mac_head, mac):
        return ChainBreak(vendor.id, expected, None, "keyed chain head differs")
    if (vendor.event_seq, vendor.event_head) != (expected - 1, head):
        return ChainBreak(
            vendor.id, expected, None, "chain head differs (events removed)"
        )
    return None


def verify_chain(
    keyring: Keyring, vendor_id: uuid.UUID | None = None
) -> list[ChainBreak]:
    """Recompute the chains (all vendors, or one); return the first break of each."""
    query = select(Vendor).order_by(Vendor.slug)
    if vendor_id is not None:
        query = query.where(Vendor.id == vendor_id)
    breaks = []
    for vendor in db.session.scalars(query):
        events = db.session.scalars(
            select(Event)
            .where(Event.vendor_id == vendor.id)
            .order_by(Event.seq)
            .execution_options(yield_per=1000)
        )
        try:
            found = _verify_vendor(keyring, vendor, events)
        finally:
            events.close()  # a break stops early: release the server-side cursor
        if found is not None:
            breaks.append(found)
    return breaks


def license_timeline(
    *, vendor_id: uuid.UUID, license_id: uuid.UUID, limit: int = 200
) -> list[Event]:
    """Return a license's events and its activations' events, newest first."""
    # str() of each id, as events store them (SQLite keeps uuids without dashes)
    activation_ids = [
        str(found)
        for found in db.session.scalars(
            select(Activation.id).where(
                Activation.vendor_id == vendor_id, Activation.license_id == license_id
            )
        )
    ]
    query = (
        select(Event)
        .where(
            Event.vendor_id == vendor_id,
            or_(
                and_(
                    Event.subject_type == "license", Event.subject_id == str(license_id)
                ),
                and_(
                    Event.subject_type == "activation",
                    Event.subject_id.in_(activation_ids),
                ),
            ),
        )
        .order_by(Event.seq.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def list_events(
    *,
    vendor_id: uuid.UUID,
    action: str | None = None,
    actor: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = pages.MAX_LIMIT,
) -> pages.Page[Event]:
    """List the vendor's events with filters, newest first, one page."""
    query = select(Event).where(Event.vendor_id == vendor_id)
    for column, value in (
        (Event.action, action),
        (Event.actor, actor),
        (Event.subject_type, subject_type),
        (Event.subject_id, subject_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(Event.created_at >= since)
    if until is not None:
        query = query.where(Event.created_at < until)
    return pages.paginate(
        query,
        columns=[Event.seq],
        parse=[pages.cursor_number],
        key=lambda event: [event.seq],
        cursor=cursor,
        limit=limit,
    )
