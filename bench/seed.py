"""Seed a migrated database with many licenses, fast, for the benchmark.

Every seeded license is real: its key comes from :func:`keys.generate_key`, its
lookup hash from the server's keyring (HMAC-SHA256) and its ``key_sealed`` is the key
sealed with that keyring (AES-GCM), so the server finds it exactly as it finds a
license issued through the admin API, and a vendor could reveal it. Only the
``license.created`` events are left out (nothing on the validate path reads them).

PostgreSQL is loaded with ``COPY ... FROM STDIN`` (psycopg 3), SQLite with
``executemany`` in large transactions; both keep every index and constraint of the
migrated schema, and PostgreSQL is ``VACUUM ANALYZE``d afterwards, as a live table
would be.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from license_server import keys
from license_server.keyring import Keyring

BATCH = 20_000
LICENSE_COLUMNS = (
    "id, vendor_id, product_id, key_hash, key_sealed, key_hint, status, "
    "max_domains, created_at, updated_at"
)
ACTIVATION_COLUMNS = (
    "id, vendor_id, license_id, domain, development, created_at, last_seen_at"
)


@dataclass
class Target:
    """Where seeded rows go: the database, and the vendor and product they belong to."""

    url: str  # postgresql://... or sqlite:///path
    keyring: Keyring
    vendor_id: uuid.UUID
    product_id: uuid.UUID
    key_prefix: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgres")


@dataclass
class Seeded:
    """What a seeding call made: a sample of (key, domain) pairs to drive wrk with."""

    count: int
    sample: list[tuple[str, str]]
    seconds: float = 0.0
    every: int = 1


def _uuids(count: int) -> list[uuid.UUID]:
    raw = os.urandom(16 * count)
    return [
        uuid.UUID(bytes=raw[i : i + 16], version=4) for i in range(0, 16 * count, 16)
    ]


def _rows(
    target: Target,
    *,
    start: int,
    count: int,
    seats: int | None,
    activate: bool,
    every: int,
    sample: list[tuple[str, str]],
) -> Iterator[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
    """Yield batches of (license rows, activation rows)."""
    ring, now = target.keyring, target.now
    # seen two days ago: the first validation of each is due a last-seen write, as
    # it is in production where themes re-check about twice a day
    seen = now - timedelta(days=2)
    for first in range(start, start + count, BATCH):
        size = min(BATCH, start + count - first)
        license_ids, activation_ids = _uuids(size), _uuids(size)
        licenses: list[tuple[object, ...]] = []
        activations: list[tuple[object, ...]] = []
        for offset in range(size):
            number = first + offset
            key = keys.generate_key(target.key_prefix)
            text = str(key)
            license_id = license_ids[offset]
            licenses.append(
                (
                    license_id,
                    target.vendor_id,
                    target.product_id,
                    ring.license_lookup(key.body),
                    ring.seal_license_key(
                        text, vendor_id=target.vendor_id, license_id=license_id
                    ),
                    key.body[-4:],
                    "active",
                    seats,
                    now,
                    now,
                )
            )
            domain = f"shop-{number}.bench-site.com"
            if activate:
                activations.append(
                    (
                        activation_ids[offset],
                        target.vendor_id,
                        license_id,
                        domain,
                        False,
                        now,
                        seen,
                    )
                )
            if number % every == 0:
                sample.append((text, domain))
        yield licenses, activations


def seed(
    target: Target,
    *,
    start: int,
    count: int,
    every: int = 1,
    seats: int | None = None,
    activate: bool = True,
) -> Seeded:
    """Insert ``count`` licenses (numbered from ``start``), each with one activation.

    ``seats`` sets the licenses' own ``max_domains`` (None: the product's); with
    ``activate=False`` the licenses get no activation. Every ``every``-th new
    (key, domain) pair is returned, to drive wrk with.
    """
    began = time.perf_counter()
    sample: list[tuple[str, str]] = []
    batches = _rows(
        target,
        start=start,
        count=count,
        seats=seats,
        activate=activate,
        every=every,
        sample=sample,
    )
    if target.is_postgres:
        _copy_postgres(target.url, batches)
    else:
        _insert_sqlite(target.url, batches)
    return Seeded(count, sample, time.perf_counter() - began, every)


def _copy_postgres(
    url: str,
    batches: Iterator[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]],
) -> None:
    import psycopg

    with psycopg.connect(url) as connection:
        with connection.cursor() as cursor:
            for licenses, activations in batches:
                with cursor.copy(
                    f"COPY licenses ({LICENSE_COLUMNS}) FROM STDIN"
                ) as copy:
                    for row in licenses:
                        copy.write_row(row)
                if activations:
                    with cursor.copy(
                        f"COPY activations ({ACTIVATION_COLUMNS}) FROM STDIN"
                    ) as copy:
                        for row in activations:
                            copy.write_row(row)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE licenses")
        connection.execute("VACUUM ANALYZE activations")
        # write the bulk load's dirty pages now, not during the measurement
        connection.execute("CHECKPOINT")


def _sqlite_value(value: object) -> object:
    """Store values as SQLAlchemy does on SQLite: hex UUIDs, naive UTC text."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _insert_sqlite(
    url: str,
    batches: Iterator[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]],
) -> None:
    path = Path(url.removeprefix("sqlite:///"))
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        for licenses, activations in batches:
            with connection:
                connection.executemany(
                    f"INSERT INTO licenses ({LICENSE_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [tuple(map(_sqlite_value, row)) for row in licenses],
                )
                connection.executemany(
                    f"INSERT INTO activations ({ACTIVATION_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [tuple(map(_sqlite_value, row)) for row in activations],
                )
        connection.execute("ANALYZE")
    finally:
        connection.close()
