"""Import an EDD 3.x store from a real MariaDB: counts, keys, seats, idempotency."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from license_server.cli import main
from license_server.compat import edd_import, edd_source
from license_server.extensions import db
from license_server.models import Activation, Event, License, Product
from license_server.runtime import of as runtime_of
from tests.conftest import VendorFixture, public_call, use_embedded
from tests.server.edd_store import Expected, edd_store
from tests.server.hardening_support import snapshot

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def store() -> Iterator[Expected]:
    with edd_store(licenses=300) as expected:
        yield expected


def _import(
    app: Flask, vendor: VendorFixture, url: str, **extra: Any
) -> dict[str, Any]:
    with app.app_context():
        summary = edd_import.import_store(
            keyring=runtime_of(app).keyring,
            vendor_id=vendor.new.vendor.id,
            store=edd_source.read_mysql(url),
            now=NOW,
            **extra,
        )
        db.session.remove()
    return summary.as_dict()


def _count(app: Flask, model: Any, *where: Any) -> int:
    with app.app_context():
        value = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
    return int(value or 0)


def test_import_counts_keys_seats_and_a_second_run_changes_nothing(
    app: Flask, client: FlaskClient, vendor: VendorFixture, store: Expected
) -> None:
    rows = store.licenses
    kept = {n: r for n, r in rows.items() if r["status"] != "private"}
    dry = _import(app, vendor, store.url, dry_run=True)
    assert dry["licenses_created"] == len(kept)
    assert _count(app, License) == 0  # the dry run wrote nothing

    summary = _import(app, vendor, store.url)
    assert summary["products_created"] == 3
    assert summary["licenses_created"] == len(kept)
    assert summary["licenses_skipped"] == len(rows) - len(kept)
    domains = sum(len(r["domains"]) for r in kept.values())
    assert summary["activations_created"] == domains
    assert summary["sites_merged"] > 0  # example.com/ and example.com/shop/: one seat
    assert _count(app, License) == len(kept)
    assert _count(app, Activation, Activation.deactivated_at.is_(None)) == domains
    assert _count(app, Product) == 3
    # every created object is an event in the vendor's chain
    created = summary["products_created"] + len(kept) + domains
    assert _count(app, Event, Event.actor == "import:edd") == created + 1  # + store

    before = snapshot(app)
    again = _import(app, vendor, store.url)
    assert again["licenses_created"] == again["activations_created"] == 0
    assert again["products_created"] == 0
    assert again["licenses_found"] == len(kept)
    assert snapshot(app) == before

    # imported keys validate (our API) where they hold a seat, and answer EDD checks
    checked = 0
    for number, row in kept.items():
        if row["status"] != "active" or not row["domains"] or checked >= 20:
            continue
        product = _product_slug(app, row["download_id"])
        status, body = public_call(
            client,
            "validate",
            license_key=row["key"],
            domain=row["domains"][0],
            product=product,
        )
        assert (status, body["code"]) == (200, "VALID"), (number, body)
        answer = client.post(
            "/",
            data={
                "edd_action": "check_license",
                "license": row["key"],
                "item_id": row["download_id"],
                "url": f"https://{row['domains'][0]}/",
            },
        ).get_json()
        assert answer["license"] == "valid" and answer["success"] is True
        assert answer["license_limit"] == row["limit"]
        if row["limit"] == 0:
            assert answer["activations_left"] == "unlimited"
        checked += 1
    assert checked == 20


def _product_slug(app: Flask, download_id: int) -> str:
    from license_server.compat import edd_items

    with app.app_context():
        vendor_id = db.session.scalar(select(Product.vendor_id))
        product = edd_items.product_for_item_id(vendor_id, download_id)
        assert product is not None
        slug = product.slug
        db.session.remove()
    return slug


def test_imported_seats_hold_the_limit(
    app: Flask, client: FlaskClient, vendor: VendorFixture, store: Expected
) -> None:
    _import(app, vendor, store.url)
    full = next(
        r
        for r in store.licenses.values()
        if r["status"] == "active"
        and r["limit"] == 1
        and [d for d in r["domains"] if d != "localhost"]
        and r["expiration"] == 0
    )
    answer = client.post(
        "/",
        data={
            "edd_action": "activate_license",
            "license": full["key"],
            "item_id": full["download_id"],
            "url": "https://a-new-site.example.org/",
        },
    ).get_json()
    assert answer["success"] is False
    assert answer["error"] == "no_activations_left"
    # EDD's max_sites is the site count: every imported site keeps its seat
    assert answer["max_sites"] == len([d for d in full["domains"] if d != "localhost"])


def test_cli_import_dry_run_then_real_then_idempotent(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    store: Expected,
    embedded_template: Path,
) -> None:
    use_embedded(monkeypatch, embedded_template, tmp_path)
    runner = CliRunner()
    made = runner.invoke(main, ["vendors", "create", "Store", "--slug", "store"])
    assert made.exit_code == 0, made.output
    args = ["import", "edd", "--vendor", "store", "--database-url", store.url]
    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output
    first = runner.invoke(main, [*args, "--json"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, [*args, "--json"])
    assert '"licenses_created": 0' in second.output
    assert '"activations_created": 0' in second.output
    assert '"licenses_created": 0' not in first.output
