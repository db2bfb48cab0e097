"""Import an EDD store: downloads -> products, licences (keys kept), sites -> seats.

One transaction per run, and idempotent: every product, licence and activation it
creates is linked to its EDD id (``edd_items``, ``edd_licenses``), so a second run
over the same store finds them and changes nothing. Everything created is an event
in the vendor's chain (actor ``import:edd``). ``dry_run`` does the whole import and
rolls it back, so its summary is exactly what a real run would do.

What changes on the way (docs/EDD.md): seats are per canonical domain, so EDD sites
that differ only by path (``example.com/blog/`` and ``example.com/shop/``) become one
activation (counted in ``sites_merged``); development hosts by our label rules take
no seat; EDD's limit 0 ("unlimited") is our largest seat count, answered to EDD
clients as ``unlimited``; ``disabled`` licences are suspended (a vendor can
reinstate them, as EDD can re-enable them); ``private`` licences are skipped.
Imported products expire like EDD (``expiry_policy = restrict``).

Bundles, as EDD keeps them: a bundle's purchase has one licence for the bundle
download and one child licence (its own key) per bundled download. Children are
imported as licences of their own products with what EDD computes for them: the
bundle licence's activation limit (unless they have their own) and expiry, and
suspended when the bundle licence is disabled. The bundle licence is imported too,
as a licence of the bundle's product, marked ``bundle`` (the EDD endpoint refuses
to activate it, as EDD does, unless the request names one of its items).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Table, select

from license_server import domains, keys
from license_server.compat import edd_items
from license_server.compat.edd_source import Download, LicenseRow, Store
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import (
    Activation,
    EddLicense,
    EddStore,
    License,
    LicenseStatus,
    Product,
)
from license_server.services import bulk, events, products

ACTOR = "import:edd"
UNLIMITED_SEATS = 100_000  # the admin API's largest max_domains
BATCH = 500  # licences read and written together

_LICENSES = cast(Table, License.__table__)
_LICENSE_COLUMNS = (
    "id",
    "vendor_id",
    "product_id",
    "key_hash",
    "key_sealed",
    "key_hint",
    "status",
    "max_domains",
    "expires_at",
    "updates_until",
    "customer_email",
    "customer_name",
    "metadata",
    "created_at",
    "updated_at",
)
_EDD_LICENSES = cast(Table, EddLicense.__table__)
_EDD_COLUMNS = (
    "license_id",
    "vendor_id",
    "edd_id",
    "download_id",
    "price_id",
    "payment_id",
    "unlimited",
    "imported_at",
    "parent_edd_id",
    "bundle",
)
_ACTIVATIONS = cast(Table, Activation.__table__)
_ACTIVATION_COLUMNS = (
    "id",
    "vendor_id",
    "license_id",
    "domain",
    "development",
    "created_at",
    "last_seen_at",
    "deactivated_by_owner",
)


@dataclass
class Summary:
    """What an import did (or, with ``dry_run``, would do)."""

    products_created: int = 0
    products_found: int = 0
    licenses_created: int = 0
    licenses_found: int = 0
    licenses_skipped: int = 0
    activations_created: int = 0
    sites_merged: int = 0
    sites_invalid: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        """Return the counts by name."""
        return asdict(self)


class _Clock:
    """Converts the store's local times (and local-time timestamps) to UTC."""

    def __init__(self, timezone: str | None, offset_minutes: int) -> None:
        self.zone = None
        if timezone:
            try:
                self.zone = ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                self.zone = None
        self.offset = timedelta(minutes=offset_minutes)

    def utc(self, local: datetime) -> datetime:
        if self.zone is not None:
            return local.replace(tzinfo=self.zone).astimezone(UTC)
        return (local - self.offset).replace(tzinfo=UTC)

    def from_stamp(self, stamp: int) -> datetime:
        # EDD's timestamps are local wall time written as if it were UTC
        local = datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None)
        return self.utc(local)


def _limit(row: LicenseRow, download: Download | None) -> int:
    if row.limit is not None:
        return row.limit
    if download is None:
        return 0
    if row.price_id is not None and row.price_id in download.price_limits:
        return download.price_limits[row.price_id]
    return download.limit


def _inherit(
    row: LicenseRow, parent: LicenseRow | None, bundle: Download | None
) -> LicenseRow:
    """A child licence as EDD sees it: its bundle licence's limit, expiry, state."""
    if parent is None:
        return row
    status = "disabled" if parent.status == "disabled" else row.status
    return dataclasses.replace(
        row,
        limit=row.limit if row.limit is not None else _limit(parent, bundle),
        expiration=parent.expiration,
        status=status,
    )


def _seats(limit: int) -> int:
    return UNLIMITED_SEATS if limit == 0 else min(limit, UNLIMITED_SEATS)


class _Run:
    """One import: the vendor, the clock, the events to append, the counts."""

    def __init__(
        self, keyring: Keyring, vendor_id: uuid.UUID, store: Store, now: datetime
    ) -> None:
        self.keyring = keyring
        self.vendor_id = vendor_id
        self.store = store
        self.now = now
        self.clock = _Clock(store.timezone, store.gmt_offset_minutes)
        self.summary = Summary()
        self.events: list[events.NewEvent] = []
        self.products: dict[str, Product] = {}
        self.linked: set[int] = set()  # EDD ids with a licence here
        self.taken: set[bytes] = set()  # key digests with a licence (any vendor's)
        self.license_rows: list[tuple[Any, ...]] = []
        self.edd_rows: list[tuple[Any, ...]] = []
        self.activation_rows: list[tuple[Any, ...]] = []

    def event(self, action: str, kind: str, subject: uuid.UUID, **data: object) -> None:
        self.events.append(events.NewEvent(ACTOR, action, kind, str(subject), data))

    def product(self, download: Download) -> Product:
        """The download's product: found once a run by its EDD id or name, or made."""
        name = f"{download.id}:{download.title}"
        if name not in self.products:
            self.products[name] = self._product(download)
        return self.products[name]

    def _product(self, download: Download) -> Product:
        found = None
        if download.id:
            found = edd_items.product_for_item_id(self.vendor_id, download.id)
        if found is None:
            found = edd_items.product_for_item_name(self.vendor_id, download.title)
        if found is not None:
            self.summary.products_found += 1
            return found
        product = Product(
            id=uuid.uuid4(),
            vendor_id=self.vendor_id,
            slug=self._free_slug(download.slug or download.title),
            name=download.title[:200] or f"EDD download {download.id}",
            key_prefix="",
            max_domains=_seats(download.limit),
            # capped like every product (issue 17, item 7); a vendor may lift it
            max_dev_domains=products.DEFAULT_DEV_DOMAINS,
            max_deactivations=products.DEFAULT_DEACTIVATIONS,
            token_ttl=products.DEFAULT_TOKEN_TTL,
            grace_period=products.DEFAULT_GRACE_PERIOD,
            expiry_policy="restrict",
            dev_patterns=[],
            created_at=self.now,
            updated_at=self.now,
        )
        db.session.add(product)
        db.session.flush()
        ids = [download.id] if download.id else []
        edd_items.add_rows(product, ids, [product.name], self.now)
        self.summary.products_created += 1
        self.event("product.imported", "product", product.id, edd_item_id=download.id)
        return product

    def _free_slug(self, wanted: str) -> str:
        base = (edd_items.name_key(wanted) or "edd-download")[:56]
        slug, number = base, 1
        while db.session.scalar(select(Product.id).where(Product.slug == slug)):
            number += 1
            slug = f"{base}-{number}"
        return slug

    def licenses(self, batch: list[tuple[LicenseRow, Download]]) -> None:
        """Import a batch of licences: two reads, then one INSERT per table.

        What a licence finds (its EDD link, a licence with its key) is read for
        the whole batch at once; what the batch creates is remembered, so a row
        repeating an EDD id or a key is found or skipped as it would be after a
        flush. The products go first (ORM objects, flushed when made), then the
        licences, their EDD rows and their activations as Core rows
        (:mod:`services.bulk`: COPY on PostgreSQL), in that order for the
        foreign keys. The events keep the rows' order.
        """
        if not batch:
            return
        parsed = [(row, download, _key_of(row)) for row, download in batch]
        lookup = self.keyring.license_lookup
        digests = {key.body: lookup(key.body) for _, _, key in parsed if key}
        self.linked |= _existing(
            EddLicense.edd_id,
            [row.id for row, _, _ in parsed],
            EddLicense.vendor_id == self.vendor_id,
        )
        self.taken |= _existing(License.key_hash, list(digests.values()))
        for row, download, key in parsed:
            product = self.product(download)
            if row.id in self.linked:
                self.summary.licenses_found += 1
                continue
            digest = digests[key.body] if key else b""
            if key is None or row.status == "private" or digest in self.taken:
                self.summary.licenses_skipped += 1
                continue
            self.linked.add(row.id)
            self.taken.add(digest)
            self.license(row, key, digest, product, download)
        self.write()

    def license(
        self,
        row: LicenseRow,
        key: keys.LicenseKey,
        digest: bytes,
        product: Product,
        download: Download,
    ) -> None:
        limit = _limit(row, download)
        seats = _seats(limit)
        created = self.clock.utc(row.created)
        expires = None if not row.expiration else self.clock.from_stamp(row.expiration)
        license_id = uuid.uuid4()
        key_hint = key.body[-4:]
        self.license_rows.append(
            (
                license_id,
                self.vendor_id,
                product.id,
                digest,
                # bound to its row like every key (AES-GCM associated data)
                self.keyring.seal_license_key(
                    str(key), vendor_id=self.vendor_id, license_id=license_id
                ),
                key_hint,
                LicenseStatus.SUSPENDED
                if row.status == "disabled"
                else LicenseStatus.ACTIVE,
                None if seats == product.max_domains else seats,
                expires,
                expires,
                row.customer_email or None,
                row.customer_name or None,
                {},
                created,
                self.now,
            )
        )
        self.edd_rows.append(
            (
                license_id,
                self.vendor_id,
                row.id,
                row.download_id,
                row.price_id,
                row.payment_id,
                limit == 0,
                self.now,
                row.parent or None,
                download.bundle,
            )
        )
        self.summary.licenses_created += 1
        self.event(
            "license.imported",
            "license",
            license_id,
            edd_license_id=row.id,
            key_hint=key_hint,
            product=product.slug,
        )
        self.sites(license_id, product, row.sites, created)

    def sites(
        self,
        license_id: uuid.UUID,
        product: Product,
        sites: list[str],
        created: datetime,
    ) -> None:
        seen: set[str] = set()
        for site in sites:
            try:
                domain = domains.canonical_domain(site.strip())
            except domains.InvalidDomain:
                self.summary.sites_invalid += 1
                continue
            if domain in seen:
                self.summary.sites_merged += 1
                continue
            seen.add(domain)
            activation_id = uuid.uuid4()
            self.activation_rows.append(
                (
                    activation_id,
                    self.vendor_id,
                    license_id,
                    domain,
                    domains.is_development_host(domain, product.dev_patterns or ()),
                    created,
                    created,
                    False,
                )
            )
            self.summary.activations_created += 1
            self.event(
                "activation.imported",
                "activation",
                activation_id,
                license_id=str(license_id),
                domain=domain,
            )

    def write(self) -> None:
        """Insert the licences, EDD rows and activations made since the last write."""
        db.session.flush()  # the products (and the store settings) go first
        connection = db.session.connection()
        for table, columns, rows in (
            (_LICENSES, _LICENSE_COLUMNS, self.license_rows),
            (_EDD_LICENSES, _EDD_COLUMNS, self.edd_rows),
            (_ACTIVATIONS, _ACTIVATION_COLUMNS, self.activation_rows),
        ):
            if rows:
                bulk.insert_rows(connection, table, columns, rows)
                rows.clear()


def _key_of(row: LicenseRow) -> keys.LicenseKey | None:
    """The row's key (a legacy EDD key or one of ours), or None when it is neither."""
    key = keys.parse_legacy_key(row.key) if row.key else None
    if key is None:
        try:
            key = keys.parse_key(row.key)
        except keys.InvalidKeyFormat:
            key = None
    return key


def _existing(column: Any, values: list[Any], *where: Any) -> set[Any]:
    """Which of ``values`` are in ``column`` already (read a batch at a time)."""
    found: set[Any] = set()
    for start in range(0, len(values), BATCH):
        chunk = values[start : start + BATCH]
        found.update(
            db.session.scalars(select(column).where(column.in_(chunk), *where))
        )
    return found


def import_store(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    store: Store,
    now: datetime,
    dry_run: bool = False,
) -> Summary:
    """Import an EDD store into a vendor, in one transaction; return the counts."""
    run = _Run(keyring, vendor_id, store, now)
    if _store_settings(vendor_id, store, now):
        run.event(
            "edd.store_updated",
            "vendor",
            vendor_id,
            timezone=store.timezone,
            gmt_offset_minutes=store.gmt_offset_minutes,
        )
    by_id = {download.id: download for download in store.downloads if download.id}
    by_name = {download.title: download for download in store.downloads}
    rows = {row.id: row for row in store.licenses}
    batch: list[tuple[LicenseRow, Download]] = []
    for row in store.licenses:
        download = by_id.get(row.download_id) or by_name.get(row.product_name)
        if download is None:
            run.summary.licenses_skipped += 1
            continue
        parent = rows.get(row.parent) if row.parent else None
        if parent is not None:
            row = _inherit(row, parent, by_id.get(parent.download_id))
        batch.append((row, download))
        if len(batch) == BATCH:
            run.licenses(batch)
            batch = []
    run.licenses(batch)
    events.append(keyring=keyring, vendor_id=vendor_id, events=run.events, now=now)
    run.summary.dry_run = dry_run
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return run.summary


def _store_settings(vendor_id: uuid.UUID, store: Store, now: datetime) -> bool:
    """Keep the store's time zone; return whether it changed."""
    settings = db.session.get(EddStore, vendor_id)
    wanted = (store.timezone, store.gmt_offset_minutes)
    if (
        settings is not None
        and (settings.timezone, settings.gmt_offset_minutes) == wanted
    ):
        return False
    if settings is None:
        settings = EddStore(vendor_id=vendor_id)
        db.session.add(settings)
    settings.timezone, settings.gmt_offset_minutes = wanted
    settings.updated_at = now
    return True
