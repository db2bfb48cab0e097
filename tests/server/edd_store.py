"""A throwaway EDD 3.x store in the machine's MariaDB, for the import tests.

The tables are written from EDD's own definitions: WordPress's ``posts``,
``postmeta`` and ``options`` (the columns EDD reads), EDD 3.0's ``edd_customers``
and EDD Software Licensing 3.6+'s ``edd_licenses``, ``edd_licensemeta`` and
``edd_license_activations`` (``CREATE TABLE`` as in their ``create_table()``).
Without MariaDB the tests skip, unless ``REQUIRE_MARIADB=1`` (CI): then they fail.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from license_server.compat import php

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}

SCHEMA = [
    """CREATE TABLE wp_posts (
    ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
    post_author bigint(20) unsigned NOT NULL DEFAULT 0,
    post_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
    post_date_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
    post_content longtext NOT NULL,
    post_title text NOT NULL,
    post_excerpt text NOT NULL,
    post_status varchar(20) NOT NULL DEFAULT 'publish',
    post_name varchar(200) NOT NULL DEFAULT '',
    post_modified datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
    post_modified_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
    post_parent bigint(20) unsigned NOT NULL DEFAULT 0,
    post_type varchar(20) NOT NULL DEFAULT 'post',
    PRIMARY KEY (ID),
    KEY post_name (post_name(191)),
    KEY type_status_date (post_type, post_status, post_date, ID)
    ) DEFAULT CHARACTER SET utf8mb4""",
    """CREATE TABLE wp_postmeta (
    meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
    post_id bigint(20) unsigned NOT NULL DEFAULT 0,
    meta_key varchar(255) DEFAULT NULL,
    meta_value longtext,
    PRIMARY KEY (meta_id),
    KEY post_id (post_id),
    KEY meta_key (meta_key(191))
    ) DEFAULT CHARACTER SET utf8mb4""",
    """CREATE TABLE wp_options (
    option_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
    option_name varchar(191) NOT NULL DEFAULT '',
    option_value longtext NOT NULL,
    autoload varchar(20) NOT NULL DEFAULT 'yes',
    PRIMARY KEY (option_id),
    UNIQUE KEY option_name (option_name)
    ) DEFAULT CHARACTER SET utf8mb4""",
    """CREATE TABLE wp_edd_customers (
    id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
    user_id bigint(20) unsigned NOT NULL DEFAULT '0',
    email varchar(100) NOT NULL default '',
    name varchar(255) NOT NULL default '',
    status varchar(20) NOT NULL default '',
    purchase_value decimal(18,9) NOT NULL default '0',
    purchase_count bigint(20) unsigned NOT NULL default '0',
    date_created datetime NOT NULL default CURRENT_TIMESTAMP,
    date_modified datetime NOT NULL default CURRENT_TIMESTAMP,
    uuid varchar(100) NOT NULL default '',
    PRIMARY KEY (id),
    UNIQUE KEY email (email),
    KEY user (user_id),
    KEY status (status(20))
    ) DEFAULT CHARACTER SET utf8mb4""",
    """CREATE TABLE wp_edd_licenses (
    id bigint(20) NOT NULL AUTO_INCREMENT,
    license_key varchar(64) NOT NULL,
    status varchar(20) NOT NULL,
    download_id bigint(20) NOT NULL,
    price_id varchar(20),
    payment_id bigint(20) NOT NULL,
    cart_index bigint(20) NOT NULL,
    date_created DATETIME NOT NULL,
    expiration bigint(32),
    parent varchar(20) NOT NULL,
    customer_id varchar(20) NOT NULL,
    user_id varchar(20) NOT NULL,
    PRIMARY KEY (id),
    KEY download_id_and_price_id (download_id, price_id)
    ) CHARACTER SET utf8 COLLATE utf8_general_ci""",
    """CREATE TABLE wp_edd_licensemeta (
    meta_id bigint(20) NOT NULL AUTO_INCREMENT,
    license_id bigint(20) NOT NULL,
    meta_key varchar(255) DEFAULT NULL,
    meta_value longtext,
    PRIMARY KEY (meta_id),
    KEY license_id (license_id),
    KEY meta_key (meta_key(191))
    ) CHARACTER SET utf8 COLLATE utf8_general_ci""",
    """CREATE TABLE wp_edd_license_activations (
    site_id bigint(20) NOT NULL AUTO_INCREMENT,
    site_name varchar(128) NOT NULL,
    license_id bigint(20) NOT NULL,
    activated TINYINT(1) NOT NULL,
    is_local TINYINT(1) NOT NULL,
    PRIMARY KEY (site_id),
    UNIQUE KEY (site_name, license_id)
    ) CHARACTER SET utf8 COLLATE utf8_general_ci""",
]


def _connect(database: str | None = None) -> Any:
    reason = "the EDD import tests need MariaDB at 127.0.0.1:3306 (root) and PyMySQL"
    try:
        import pymysql

        return pymysql.connect(database=database, autocommit=True, **MARIADB)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - any failure to reach it
        if os.environ.get("REQUIRE_MARIADB") == "1":
            pytest.fail(f"{reason}; REQUIRE_MARIADB=1 forbids skipping: {exc}")
        pytest.skip(f"{reason}: {exc}")


@dataclass
class Expected:
    """What the generated store holds, for the assertions."""

    url: str
    licenses: dict[int, dict[str, Any]]  # EDD id -> key, status, limit, domains
    # bundle purchases: the bundle licence and its children, as EDD creates them
    bundles: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def edd_store(
    licenses: int = 300, seed: int = 7, bundles: int = 0
) -> Iterator[Expected]:
    """Create, fill and finally drop an EDD store database (with ``bundles``)."""
    name = f"edd_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    server = _connect()
    with server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        connection = _connect(name)
        with connection.cursor() as cursor:
            for statement in SCHEMA:
                cursor.execute(statement)
            rng = random.Random(seed)
            expected = _fill(cursor, rng, licenses)
            sold = _fill_bundles(cursor, rng, bundles) if bundles else []
        connection.close()
        yield Expected(f"mysql://root@127.0.0.1:3306/{name}", expected, sold)
    finally:
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.close()


DOWNLOADS = [  # id, title, slug, default limit, per-price limits
    (11, "Jannah News Theme", "jannah-news", 1, {}),
    (12, "Sahifa Magazine", "sahifa", 0, {}),
    (13, "Bimber Viral", "bimber", 2, {1: 1, 2: 5, 3: 0}),
]
NOW = datetime(2026, 12, 1, 9, 0, 0)  # the store's local time


def _fill(cursor: Any, rng: random.Random, count: int) -> dict[int, dict[str, Any]]:
    cursor.executemany(
        "INSERT INTO wp_options (option_name, option_value) VALUES (%s, %s)",
        [("timezone_string", ""), ("gmt_offset", "2")],
    )
    for download_id, title, slug, limit, prices in DOWNLOADS:
        cursor.execute(
            "INSERT INTO wp_posts (ID, post_content, post_title, post_excerpt, "
            "post_name, post_type) VALUES (%s, '', %s, '', %s, 'download')",
            (download_id, title, slug),
        )
        meta = [(download_id, "_edd_sl_enabled", "1")]
        meta.append((download_id, "_edd_sl_limit", str(limit)))
        if prices:
            value = {
                i: {"name": f"Tier {i}", "license_limit": str(n)}
                for i, n in prices.items()
            }
            meta.append((download_id, "edd_variable_prices", php.serialize(value)))
        cursor.executemany(
            "INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES (%s,%s,%s)",
            meta,
        )
    customers = [(f"buyer{i}@example.org", f"Buyer {i}") for i in range(1, 81)]
    cursor.executemany(
        "INSERT INTO wp_edd_customers (email, name) VALUES (%s, %s)", customers
    )
    expected: dict[int, dict[str, Any]] = {}
    for number in range(1, count + 1):
        download_id, _title, _slug, limit, prices = rng.choice(DOWNLOADS)
        price_id = rng.choice(list(prices)) if prices else None
        status = rng.choices(
            ["active", "inactive", "expired", "disabled", "private"],
            weights=[50, 20, 15, 10, 5],
        )[0]
        key = uuid.UUID(int=rng.getrandbits(128)).hex
        created = NOW - timedelta(days=rng.randint(30, 900))
        lifetime = rng.random() < 0.3
        if status == "expired":
            expiration = int((NOW - timedelta(days=rng.randint(1, 300))).timestamp())
        else:
            expiration = (
                0
                if lifetime
                else int((NOW + timedelta(days=rng.randint(1, 400))).timestamp())
            )
        own_limit = rng.choice([None, None, None, 3, 0])
        cursor.execute(
            "INSERT INTO wp_edd_licenses (license_key, status, download_id, price_id, "
            "payment_id, cart_index, date_created, expiration, parent, customer_id, "
            "user_id) VALUES (%s, %s, %s, %s, %s, 0, %s, %s, '0', %s, '0')",
            (
                key,
                status,
                download_id,
                price_id,
                1000 + number,
                created,
                expiration,
                str(rng.randint(1, 80)),
            ),
        )
        if own_limit is not None:
            cursor.execute(
                "INSERT INTO wp_edd_licensemeta (license_id, meta_key, meta_value) "
                "VALUES (%s, '_edd_sl_limit', %s)",
                (number, str(own_limit)),
            )
        sites = []
        if status in ("active", "disabled", "expired"):
            for _ in range(rng.randint(1, 3)):
                host = f"site{rng.randint(1, 5000)}.com"
                sites.append(rng.choice([f"{host}/", f"www.{host}/", f"{host}/blog/"]))
            if rng.random() < 0.2:
                sites.append(f"{host}/shop/")  # a second path of one domain
            if rng.random() < 0.1:
                sites.append("localhost/")
        sites = list(dict.fromkeys(s.replace("www.", "") for s in sites))
        cursor.executemany(
            "INSERT INTO wp_edd_license_activations (site_name, license_id, activated, "
            "is_local) VALUES (%s, %s, 1, %s)",
            [(site, number, int(site.startswith("localhost"))) for site in sites],
        )
        if rng.random() < 0.1:  # a deactivated site: not imported
            cursor.execute(
                "INSERT INTO wp_edd_license_activations (site_name, license_id, "
                "activated, is_local) VALUES (%s, %s, 0, 0)",
                (f"old{number}.net/", number),
            )
        limit_used = (
            own_limit
            if own_limit is not None
            else (prices.get(price_id, limit) if prices else limit)
        )
        domains = sorted({site.split("/")[0] for site in sites})
        expected[number] = {
            "key": key,
            "status": status,
            "limit": limit_used,
            "domains": domains,
            "download_id": download_id,
            "expiration": expiration,
        }
    return expected


BUNDLE = (14, "Theme Club", "theme-club", 3, (11, 12))  # id, title, slug, limit, items


def _license_row(
    cursor: Any,
    key: str,
    status: str,
    download_id: int,
    expiration: int,
    parent: int,
    payment: int,
) -> int:
    cursor.execute(
        "INSERT INTO wp_edd_licenses (license_key, status, download_id, price_id, "
        "payment_id, cart_index, date_created, expiration, parent, customer_id, "
        "user_id) VALUES (%s, %s, %s, NULL, %s, 0, %s, %s, %s, '1', '0')",
        (key, status, download_id, payment, NOW - timedelta(days=40), expiration,
         str(parent)),
    )  # fmt: skip
    return int(cursor.lastrowid)


def _fill_bundles(cursor: Any, rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Sell ``count`` bundles as EDD SL 3.x does: a bundle licence, one child each.

    The bundle download carries ``_edd_product_type = bundle`` and
    ``_edd_bundled_products``; each child licence has its own key and its parent's
    id in ``parent``. EDD computes a child's limit and expiry from its parent: the
    children here store other values, so an import that read them would be wrong.
    The second bundle is disabled; the third's first child has its own limit (1).
    """
    bundle_id, title, slug, limit, items = BUNDLE
    cursor.execute(
        "INSERT INTO wp_posts (ID, post_content, post_title, post_excerpt, "
        "post_name, post_type) VALUES (%s, '', %s, '', %s, 'download')",
        (bundle_id, title, slug),
    )
    cursor.executemany(
        "INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES (%s,%s,%s)",
        [
            (bundle_id, "_edd_sl_enabled", "1"),
            (bundle_id, "_edd_sl_limit", str(limit)),
            (bundle_id, "_edd_product_type", "bundle"),
            (
                bundle_id,
                "_edd_bundled_products",
                php.serialize([str(i) for i in items]),
            ),
        ],
    )
    sold = []
    for number in range(count):
        expiration = int((NOW + timedelta(days=100 + number)).timestamp())
        status = "disabled" if number == 1 else "active"
        key = uuid.UUID(int=rng.getrandbits(128)).hex
        parent = _license_row(
            cursor, key, status, bundle_id, expiration, 0, 9000 + number
        )
        children = {}
        for item in items:
            child_key = uuid.UUID(int=rng.getrandbits(128)).hex
            child = _license_row(
                cursor, child_key, "inactive", item, 0, parent, 9000 + number
            )
            children[item] = {"id": child, "key": child_key, "limit": limit}
        if number == 2:
            first = children[items[0]]
            cursor.execute(
                "INSERT INTO wp_edd_licensemeta (license_id, meta_key, meta_value) "
                "VALUES (%s, '_edd_sl_limit', '1')",
                (first["id"],),
            )
            first["limit"] = 1
        sold.append(
            {
                "id": parent,
                "key": key,
                "status": status,
                "expiration": expiration,
                "limit": limit,
                "children": children,
            }
        )
    return sold
