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
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

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
from license_server.services import events, products

ACTOR = "import:edd"
UNLIMITED_SEATS = 100_000  # the admin API's largest max_domains


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

    def event(self, action: str, kind: str, subject: uuid.UUID, **data: object) -> None:
        self.events.append(events.NewEvent(ACTOR, action, kind, str(subject), data))

    def product(self, download: Download) -> Product:
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

    def license(
        self, row: LicenseRow, product: Product, download: Download | None
    ) -> None:
        link = db.session.scalar(
            select(EddLicense).where(
                EddLicense.vendor_id == self.vendor_id, EddLicense.edd_id == row.id
            )
        )
        if link is not None:
            self.summary.licenses_found += 1
            return
        key = keys.parse_legacy_key(row.key) if row.key else None
        if key is None:
            try:
                key = keys.parse_key(row.key)
            except keys.InvalidKeyFormat:
                key = None
        digest = self.keyring.license_lookup(key.body) if key else b""
        taken = key and db.session.scalar(
            select(License.id).where(License.key_hash == digest)
        )
        if key is None or row.status == "private" or taken:
            self.summary.licenses_skipped += 1
            return
        limit = _limit(row, download)
        seats = _seats(limit)
        created = self.clock.utc(row.created)
        expires = None if not row.expiration else self.clock.from_stamp(row.expiration)
        license_id = uuid.uuid4()
        license = License(
            id=license_id,
            vendor_id=self.vendor_id,
            product_id=product.id,
            key_hash=digest,
            # bound to its row like every key (AES-GCM associated data)
            key_sealed=self.keyring.seal_license_key(
                str(key), vendor_id=self.vendor_id, license_id=license_id
            ),
            key_hint=key.body[-4:],
            status=LicenseStatus.SUSPENDED
            if row.status == "disabled"
            else LicenseStatus.ACTIVE,
            max_domains=None if seats == product.max_domains else seats,
            expires_at=expires,
            updates_until=expires,
            customer_email=(row.customer_email or None),
            customer_name=(row.customer_name or None),
            meta={},
            created_at=created,
            updated_at=self.now,
        )
        db.session.add(license)
        db.session.flush()  # no ORM relationship orders these inserts
        db.session.add(
            EddLicense(
                license_id=license.id,
                vendor_id=self.vendor_id,
                edd_id=row.id,
                download_id=row.download_id,
                price_id=row.price_id,
                payment_id=row.payment_id,
                unlimited=limit == 0,
                imported_at=self.now,
            )
        )
        db.session.flush()
        self.summary.licenses_created += 1
        self.event(
            "license.imported",
            "license",
            license.id,
            edd_license_id=row.id,
            key_hint=license.key_hint,
            product=product.slug,
        )
        self.sites(license, product, row.sites, created)

    def sites(
        self, license: License, product: Product, sites: list[str], created: datetime
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
            activation = Activation(
                id=uuid.uuid4(),
                vendor_id=self.vendor_id,
                license_id=license.id,
                domain=domain,
                development=domains.is_development_host(
                    domain, product.dev_patterns or ()
                ),
                environment=None,
                created_at=created,
                last_seen_at=created,
            )
            db.session.add(activation)
            self.summary.activations_created += 1
            self.event(
                "activation.imported",
                "activation",
                activation.id,
                license_id=str(license.id),
                domain=domain,
            )


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
    products_of: dict[str, Product] = {}
    for row in store.licenses:
        download = by_id.get(row.download_id) or by_name.get(row.product_name)
        if download is None:
            run.summary.licenses_skipped += 1
            continue
        name = f"{download.id}:{download.title}"
        if name not in products_of:
            products_of[name] = run.product(download)
        run.license(row, products_of[name], download)
        db.session.flush()
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
