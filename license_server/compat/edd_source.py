"""Reading an EDD store: from its MySQL/MariaDB database (EDD 3.x tables) or its CSV.

The database holds what the import needs in these tables (``wp_`` is the table
prefix, configurable): ``posts``/``postmeta`` (downloads, their default activation
limit ``_edd_sl_limit``, per-price limits in ``edd_variable_prices``, and for
bundles ``_edd_product_type = bundle`` with ``_edd_bundled_products``),
``edd_licenses``, ``edd_licensemeta`` (a licence's own ``_edd_sl_limit``),
``edd_license_activations`` (``activated = 1`` rows: the sites), ``edd_customers``
and ``options`` (``timezone_string``, ``gmt_offset``). EDD's licence export CSV
(Downloads > Licenses > Export) has the licences with their sites, but no download
ids: products are then matched by name.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from license_server.compat import php

_PREFIX = re.compile(r"[A-Za-z0-9_]{0,32}")


@dataclass
class Download:
    """An EDD download (a product) and its default activation limits."""

    id: int
    title: str
    slug: str
    limit: int = 0
    price_limits: dict[str, int] = field(default_factory=dict)
    bundle: bool = False  # an EDD bundle: its licences have one child per item


@dataclass
class LicenseRow:
    """An EDD licence with its customer, limit and active sites."""

    id: int
    key: str
    status: str
    download_id: int
    product_name: str
    price_id: str | None
    payment_id: int
    created: datetime  # the store's local time
    expiration: int | None  # EDD's local-time timestamp; None or 0: lifetime
    customer_email: str | None
    customer_name: str | None
    limit: int | None  # the licence's own limit; None: the download's
    sites: list[str] = field(default_factory=list)
    parent: int = 0  # a bundle's child licence: its bundle licence's EDD id


@dataclass
class Store:
    """Everything read from one EDD store."""

    downloads: list[Download]
    licenses: list[LicenseRow]
    timezone: str | None = None
    gmt_offset_minutes: int = 0


def _int_or_none(value: Any) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    return php.absint(value)


def _price_limits(serialized: str | None) -> dict[str, int]:
    if not serialized:
        return {}
    try:
        prices = php.unserialize(serialized)
    except (php.UnserializeError, ValueError, IndexError):
        return {}
    limits = {}
    for price_id, price in (prices or {}).items():
        if isinstance(price, dict) and "license_limit" in price:
            limits[str(price_id)] = php.absint(price["license_limit"])
    return limits


def connect_mysql(url: str) -> Any:
    """Open a PyMySQL connection from ``mysql://user:password@host:port/database``."""
    try:
        import pymysql
    except ImportError as exc:  # pragma: no cover - the extra is documented
        raise RuntimeError("pip install 'license-server[edd]' for PyMySQL") from exc
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
        raise ValueError("the EDD database URL is mysql://user:pass@host:port/db")
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        charset="utf8mb4",
        cursorclass=pymysql.cursors.DictCursor,
    )


def read_mysql(url: str, prefix: str = "wp_") -> Store:
    """Read an EDD store from its database (read only)."""
    if _PREFIX.fullmatch(prefix) is None:
        raise ValueError("a table prefix is letters, digits and _")
    connection = connect_mysql(url)
    try:
        with connection.cursor() as cursor:
            return _read(cursor, prefix)
    finally:
        connection.close()


def _read(cursor: Any, p: str) -> Store:
    cursor.execute(
        f"SELECT ID, post_title, post_name FROM {p}posts "  # noqa: S608 - checked prefix
        "WHERE post_type = 'download' ORDER BY ID"
    )
    downloads = {
        int(row["ID"]): Download(int(row["ID"]), row["post_title"], row["post_name"])
        for row in cursor.fetchall()
    }
    cursor.execute(
        f"SELECT post_id, meta_key, meta_value FROM {p}postmeta "  # noqa: S608
        "WHERE meta_key IN ('_edd_sl_limit', 'edd_variable_prices', "
        "'_edd_product_type')"
    )
    for row in cursor.fetchall():
        download = downloads.get(int(row["post_id"]))
        if download is None:
            continue
        if row["meta_key"] == "_edd_sl_limit":
            download.limit = php.absint(row["meta_value"])
        elif row["meta_key"] == "_edd_product_type":
            download.bundle = row["meta_value"] == "bundle"
        else:
            download.price_limits = _price_limits(row["meta_value"])
    cursor.execute(
        f"SELECT license_id, meta_value FROM {p}edd_licensemeta "  # noqa: S608
        "WHERE meta_key = '_edd_sl_limit'"
    )
    limits = {int(r["license_id"]): php.absint(r["meta_value"]) for r in cursor}
    cursor.execute(
        f"SELECT license_id, site_name FROM {p}edd_license_activations "  # noqa: S608
        "WHERE activated = 1 ORDER BY site_id"
    )
    sites: dict[int, list[str]] = {}
    for row in cursor.fetchall():
        sites.setdefault(int(row["license_id"]), []).append(row["site_name"])
    cursor.execute(
        "SELECT l.id, l.license_key, l.status, l.download_id, l.price_id, "  # noqa: S608
        "l.payment_id, l.date_created, l.expiration, l.parent, c.email, c.name "
        f"FROM {p}edd_licenses l LEFT JOIN {p}edd_customers c "
        "ON c.id = l.customer_id ORDER BY l.id"
    )
    licenses = []
    for row in cursor.fetchall():
        download = downloads.get(int(row["download_id"]))
        licenses.append(
            LicenseRow(
                id=int(row["id"]),
                key=row["license_key"] or "",
                status=row["status"] or "",
                download_id=int(row["download_id"]),
                product_name=download.title if download else "",
                price_id=_text_or_none(row["price_id"]),
                payment_id=php.absint(row["payment_id"]),
                created=row["date_created"],
                expiration=_int_or_none(row["expiration"]),
                customer_email=row["email"],
                customer_name=row["name"],
                limit=limits.get(int(row["id"])),
                sites=sites.get(int(row["id"]), []),
                parent=php.absint(row["parent"]),
            )
        )
    cursor.execute(
        f"SELECT option_name, option_value FROM {p}options "  # noqa: S608
        "WHERE option_name IN ('timezone_string', 'gmt_offset')"
    )
    options = {row["option_name"]: row["option_value"] for row in cursor.fetchall()}
    return Store(
        downloads=list(downloads.values()),
        licenses=licenses,
        timezone=options.get("timezone_string") or None,
        gmt_offset_minutes=_offset_minutes(options.get("gmt_offset")),
    )


def _text_or_none(value: Any) -> str | None:
    return None if value is None or str(value) == "" else str(value)


def _offset_minutes(value: Any) -> int:
    try:
        return round(float(value or 0) * 60)
    except ValueError:
        return 0


# EDD's export writes these (translated) headers; the English ones are read.
CSV_COLUMNS = {
    "License ID": "id",
    "License Key": "key",
    "License Status": "status",
    "Customer Email": "email",
    "Customer Name": "name",
    "Product Name": "product",
    "Price ID": "price_id",
    "Purchase Date": "date",
    "Expiration Date": "expiration",
    "Activation Limit": "limit",
    "Activated URLs": "urls",
}


def read_csv(path: Path, timezone: str | None = None) -> Store:
    """Read EDD's licence export CSV; downloads are named by their product names."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [
            {CSV_COLUMNS.get(k, k): v for k, v in row.items()}
            for row in csv.DictReader(handle)
        ]
    downloads: dict[str, Download] = {}
    licenses = []
    for row in rows:
        name = (row.get("product") or "").strip()
        if name and name not in downloads:
            downloads[name] = Download(0, name, php.sanitize_title(name))
        expiration = (row.get("expiration") or "").strip()
        licenses.append(
            LicenseRow(
                id=php.absint(row.get("id")),
                key=(row.get("key") or "").strip(),
                status=(row.get("status") or "").strip(),
                download_id=0,
                product_name=name,
                price_id=_text_or_none(row.get("price_id")),
                payment_id=0,
                created=datetime.fromisoformat((row.get("date") or "").strip()),
                expiration=None if expiration in ("", "lifetime") else int(expiration),
                customer_email=row.get("email") or None,
                customer_name=row.get("name") or None,
                limit=_int_or_none(row.get("limit")),
                sites=[
                    s.strip() for s in (row.get("urls") or "").split(",") if s.strip()
                ],
            )
        )
    return Store(list(downloads.values()), licenses, timezone=timezone)
