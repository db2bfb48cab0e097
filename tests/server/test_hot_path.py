"""The validate hot path: one query, bounded-stale caches, batched last-seen writes.

Two apps on one database stand for two server processes: what one commits, the
other must see at once (license state: never cached) or within ``CACHE_TTL``
(product settings, which key signs). Changes "from another process" are written
with plain SQL on a separate engine, so no ORM event of this process sees them.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text, update

from license_server import runtime as runtimes
from license_server.extensions import db
from license_server.models import Activation, SigningKey
from license_server.runtime import Runtime
from license_server.runtime import of as runtime_of
from license_server.runtime.caches import Generation, TTLCache
from license_server.runtime.lastseen import LastSeenBuffer
from license_server.signing import generate_signing_key
from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    make_app,
    new_vendor,
    public_call,
)
from tests.server.hardening_support import sql_statements


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _validate(client: FlaskClient, key: str, domain: str = "site.com") -> Any:
    status, body = public_call(
        client, "validate", license_key=key, domain=domain, product="jannah"
    )
    assert status == 200, body
    return body


def _activate(client: FlaskClient, key: str, domain: str = "site.com") -> Any:
    return public_call(
        client, "activate", license_key=key, domain=domain, product="jannah"
    )


@contextmanager
def _elsewhere(app: Flask) -> Iterator[Any]:
    """A connection of "another process": plain SQL, no ORM session events here."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def _hot(app: Flask) -> Runtime:
    return runtime_of(app)


@pytest.fixture
def second(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """Another app on the same database: a second server process."""
    other = make_app(database_url, tmp_path / "second")
    yield other
    with other.app_context():
        db.engine.dispose()


def test_a_warm_validation_is_one_select_and_no_write(
    database_url: str, tmp_path: Path
) -> None:
    # the test config writes usage counts at once; production buffers them too
    app = make_app(database_url, tmp_path / "instance", USAGE_FLUSH_INTERVAL=3600)
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    assert _activate(client, key)[0] == 201
    _age_activations(app)  # so the validation is due a last-seen update
    _validate(client, key)  # warm the product and signer caches
    with sql_statements(app) as statements:
        body = _validate(client, key)
    assert body["code"] == "VALID"
    assert len(statements) == 1, statements
    assert statements[0].lstrip().upper().startswith("SELECT")
    assert "key_hash" in statements[0]
    with app.app_context():
        db.engine.dispose()


def test_license_changes_in_another_process_count_at_once(
    app: Flask,
    second: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    license: dict[str, Any],
) -> None:
    other = second.test_client()
    assert _activate(client, license["key"])[0] == 201
    assert _validate(client, license["key"])["code"] == "VALID"  # caches warm
    generation = _hot(app).caches.generation.value
    url = f"/v1/admin/licenses/{license['id']}/suspend"
    assert other.post(url, headers=vendor.headers).status_code == 200
    assert (
        _hot(app).caches.generation.value == generation
    )  # nothing cached was invalidated
    assert _validate(client, license["key"])["code"] == "SUSPENDED"
    url = f"/v1/admin/licenses/{license['id']}/reinstate"
    assert other.post(url, headers=vendor.headers).status_code == 200
    assert _validate(client, license["key"])["code"] == "VALID"
    status, _ = public_call(
        other, "deactivate", license_key=license["key"], domain="site.com"
    )
    assert status == 200
    assert _validate(client, license["key"])["code"] == "DOMAIN_NOT_ACTIVATED"
    assert _activate(other, license["key"], "new-site.com")[0] == 201
    body = _validate(client, license["key"], "new-site.com")
    assert body["code"] == "VALID" and body["license"]["active_domains"] == 1
    url = f"/v1/admin/licenses/{license['id']}/revoke"
    assert other.post(url, headers=vendor.headers).status_code == 200
    assert _validate(client, license["key"], "new-site.com")["code"] == "REVOKED"


def _new_active_key(app: Flask, connection: Any, vendor_id: uuid.UUID) -> str:
    made = generate_signing_key(runtime_of(app).keyring)
    connection.execute(
        update(SigningKey)
        .where(SigningKey.vendor_id == vendor_id)
        .values(status="verifying")
    )
    connection.execute(
        SigningKey.__table__.insert().values(
            id=uuid.uuid4(),
            vendor_id=vendor_id,
            kid=made.kid,
            public_key=made.public_bytes,
            private_key_sealed=made.private_sealed,
            status="active",
            created_at=datetime.now(UTC),
        )
    )
    return made.kid


def test_a_signing_key_change_elsewhere_applies_within_the_cache_ttl(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    _activate(client, license["key"])
    first = jwt.get_unverified_header(_validate(client, license["key"])["token"])
    clock = FakeClock()
    _hot(app).caches.signers.clock = clock
    _hot(app).caches.signers.clear()
    _validate(client, license["key"])  # cached at clock.now
    with _elsewhere(app) as connection:
        kid = _new_active_key(app, connection, vendor.new.vendor.id)
    ttl = app.config["CACHE_TTL"]
    clock.now += ttl - 0.5
    token = _validate(client, license["key"])["token"]
    assert jwt.get_unverified_header(token)["kid"] == first["kid"]  # still cached
    clock.now += 1
    token = _validate(client, license["key"])["token"]
    assert jwt.get_unverified_header(token)["kid"] == kid


def test_a_product_change_elsewhere_applies_within_the_cache_ttl(
    app: Flask, client: FlaskClient, license: dict[str, Any]
) -> None:
    _activate(client, license["key"])
    clock = FakeClock()
    _hot(app).caches.products.clock = clock
    _hot(app).caches.products.clear()
    _validate(client, license["key"])
    with _elsewhere(app) as connection:
        connection.execute(text("UPDATE products SET token_ttl = 3600"))
    clock.now += app.config["CACHE_TTL"] - 0.5
    claims = jwt.decode(
        _validate(client, license["key"])["token"],
        options={"verify_signature": False},
    )
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600
    clock.now += 1
    claims = jwt.decode(
        _validate(client, license["key"])["token"],
        options={"verify_signature": False},
    )
    assert claims["exp"] - claims["iat"] == 3600


def test_a_change_committed_in_this_process_applies_at_once(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    key = create_license(client, vendor)["key"]
    _activate(client, key)
    _validate(client, key)
    url = f"/v1/admin/products/{product['id']}"
    patched = client.patch(url, json={"token_ttl": 600}, headers=vendor.headers)
    assert patched.status_code == 200
    claims = jwt.decode(
        _validate(client, key)["token"], options={"verify_signature": False}
    )
    assert claims["exp"] - claims["iat"] == 600


def test_an_unknown_product_is_not_cached(
    client: FlaskClient, vendor: VendorFixture
) -> None:
    body = {"license_key": "JAN-00000-00000-00000-00000-00000", "domain": "a.com"}
    status, answer = public_call(client, "validate", product="jannah", **body)
    assert (status, answer["code"]) == (404, "PRODUCT_NOT_FOUND")
    create_product(client, vendor)
    status, answer = public_call(client, "validate", product="jannah", **body)
    assert (status, answer["code"]) == (200, "NOT_FOUND")


def _last_seen(app: Flask) -> datetime:
    with app.app_context():
        seen = db.session.scalar(select(Activation.last_seen_at))
        db.session.remove()
    assert seen is not None
    return seen


def _age_activations(app: Flask, days: int = 2) -> datetime:
    old = datetime.now(UTC) - timedelta(days=days)
    with app.app_context():
        db.session.execute(update(Activation).values(last_seen_at=old))
        db.session.commit()
    return old


def test_last_seen_is_queued_then_written_in_one_batch(
    database_url: str, tmp_path: Path
) -> None:
    app = make_app(
        database_url,
        tmp_path / "instance",
        LAST_SEEN_INTERVAL=60,
        LAST_SEEN_FLUSH_INTERVAL=3600,
    )
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    _activate(client, key)
    old = _age_activations(app)
    began = datetime.now(UTC)
    with sql_statements(app) as statements:
        _validate(client, key)
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert _last_seen(app) == old  # queued, not written
    assert len(_hot(app).last_seen) == 1
    with app.app_context():
        assert _hot(app).last_seen.flush(db.engine) == 1
    assert _last_seen(app) >= began
    with app.app_context():
        db.engine.dispose()


def test_last_seen_flushes_when_due_and_at_exit(
    database_url: str, tmp_path: Path
) -> None:
    app = make_app(
        database_url,
        tmp_path / "instance",
        LAST_SEEN_INTERVAL=0,
        LAST_SEEN_FLUSH_INTERVAL=0,
    )
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor)
    key = create_license(client, vendor)["key"]
    _activate(client, key)
    _age_activations(app)
    began = datetime.now(UTC)
    _validate(client, key)  # a flush interval of 0: due at once
    assert _last_seen(app) >= began
    assert len(_hot(app).last_seen) == 0
    _hot(app).last_seen.interval = 3600
    _age_activations(app)
    _validate(client, key)
    assert len(_hot(app).last_seen) == 1
    runtimes.flush_all_at_exit()
    assert _last_seen(app) >= began
    with app.app_context():
        db.engine.dispose()


def test_last_seen_buffer_keeps_the_newest_time_and_survives_a_failed_write(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    buffer = LastSeenBuffer(interval=10, max_entries=3, clock=clock)
    first, second = uuid.uuid4(), uuid.uuid4()
    early = datetime(2030, 1, 1, tzinfo=UTC)
    buffer.add(first, early + timedelta(hours=1))
    buffer.add(first, early)  # older: ignored
    assert not buffer.due()
    clock.now += 10
    assert buffer.due()
    broken = create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.sqlite3'}")
    assert buffer.flush(broken) == 1
    broken.dispose()
    assert len(buffer) == 1  # kept for the next flush
    buffer.add(second, early)
    buffer.add(uuid.uuid4(), early)
    assert buffer.due()  # three pending: due by count
    assert buffer._pending[first] == early + timedelta(hours=1)


def test_ttl_cache_expires_and_is_cleared_by_an_invalidation() -> None:
    clock = FakeClock()
    generation = Generation()
    entries: TTLCache[str, int] = TTLCache(
        5, maxsize=2, clock=clock, generation=generation
    )
    assert entries.put("a", 1) == 1
    clock.now += 4.9
    assert entries.get("a") == 1
    clock.now += 0.1
    assert entries.get("a") is None  # expired at exactly ttl seconds
    entries.put("a", 1)
    generation.bump()
    assert entries.get("a") is None
    entries.put("a", 1)
    entries.put("b", 2)
    entries.put("c", 3)  # over maxsize: starts afresh
    assert (entries.get("a"), entries.get("c")) == (None, 3)
    assert TTLCache[str, int](0).put("x", 1) == 1  # ttl 0: never cached


def test_product_mismatch_token_has_a_subject_but_no_license_claim(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    create_product(client, vendor, slug="other", name="Other", key_prefix="")
    lic = create_license(client, vendor, product="other")
    body = _validate(client, lic["key"])
    assert (body["code"], body["license"]) == ("PRODUCT_MISMATCH", None)
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["sub"] == lic["id"] and "lic" not in claims


def test_active_domains_counts_live_production_seats_only(
    client: FlaskClient, vendor: VendorFixture
) -> None:
    create_product(client, vendor, max_domains=3)
    lic = create_license(client, vendor)
    for domain in ("a.com", "b.com", "localhost"):
        assert _activate(client, lic["key"], domain)[0] == 201
    public_call(client, "deactivate", license_key=lic["key"], domain="b.com")
    body = _validate(client, lic["key"], "a.com")
    assert body["license"]["active_domains"] == 1
    assert body["license"]["max_domains"] == 3
    assert _validate(client, lic["key"], "localhost")["code"] == "VALID"


def test_two_apps_in_one_process_share_no_cache_buffer_or_limit(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """Apps on different databases keep their own caches, buffers and counters."""
    apps = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.sqlite3"
        shutil.copy(sqlite_template, path)
        apps.append(
            make_app(
                f"sqlite:///{path}", tmp_path / name, RATELIMIT_VALIDATE="3/minute"
            )
        )
    first, second = apps
    keys = []
    for app in (first, second):
        client = app.test_client()
        vendor = new_vendor(app)
        create_product(client, vendor)
        key = create_license(client, vendor)["key"]
        assert _activate(client, key)[0] == 201
        keys.append(key)
    one, two = runtime_of(first), runtime_of(second)
    assert one is not two
    assert one.caches is not two.caches and one.limiter is not two.limiter
    one.caches.products.clear()
    two.caches.products.clear()
    _validate(first.test_client(), keys[0])
    # a product cached in the first app is not in the second's cache
    assert one.caches.products.get("jannah") is not None
    assert two.caches.products.get("jannah") is None
    # a commit that stales the first app's caches leaves the second's alone
    _validate(second.test_client(), keys[1])
    before = two.caches.generation.value
    client = first.test_client()
    vendor_headers = new_vendor(first, "Other Shop").headers
    assert (
        client.post(
            "/v1/admin/products",
            json={"slug": "other", "name": "Other"},
            headers=vendor_headers,
        ).status_code
        == 201
    )
    assert one.caches.products.get("jannah") is None  # invalidated at commit
    assert two.caches.generation.value == before
    assert two.caches.products.get("jannah") is not None
    # last-seen buffers are per app
    one.last_seen.interval = two.last_seen.interval = 3600
    _age_activations(first)
    _validate(first.test_client(), keys[0])
    assert len(one.last_seen) == 1 and len(two.last_seen) == 0
    # limits count per app: the first app's validations do not limit the second
    assert _validate(first.test_client(), keys[0])["code"] == "VALID"  # 3 of 3
    assert _validate(second.test_client(), keys[1])["code"] == "VALID"  # 2 of 3
    status, _ = public_call(
        first.test_client(),
        "validate",
        license_key=keys[0],
        domain="site.com",
        product="jannah",
    )
    assert status == 429
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()
