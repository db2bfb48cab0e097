"""Rate limits on the public endpoints, client addresses behind proxies (issue 6).

Per client address and endpoint, per license key, and a tighter limit on failed
lookups per address; memory storage by default, Redis when configured, and a
storage outage never turns into an error answer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server.config import ConfigError
from license_server.extensions import db
from license_server.keys import generate_key
from license_server.models import Event
from license_server.runtime import of as runtime_of
from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    make_app,
    new_vendor,
)
from tests.server.hardening_support import RedisServer, free_port, redis_url_or_skip

UNKNOWN_KEY = "JAN-00000-00000-00000-00000-00000"


@dataclass
class Setup:
    app: Flask
    client: FlaskClient
    key: str
    vendor: VendorFixture | None = None

    def call(
        self,
        endpoint: str,
        address: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
        **body: Any,
    ) -> Any:
        """POST a public endpoint from ``address``."""
        return self.client.post(
            f"/v1/{endpoint}",
            json=body,
            headers=headers or {},
            environ_base={"REMOTE_ADDR": address},
        )

    def validate(self, key: str | None = None, address: str = "127.0.0.1") -> Any:
        body = {"license_key": key or self.key, "domain": "a.com", "product": "jannah"}
        return self.call("validate", address, **body)


@pytest.fixture
def build(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Setup]]:
    """Build apps with the given settings, each with a product and a license."""
    apps: list[Flask] = []
    # every request of a test in one window, on every app it builds (they share
    # counters through Redis): a loaded machine must not see a fixed window roll
    # over between two requests, or two apps, that should share it
    frozen = time.time()

    def factory(**settings: Any) -> Setup:
        app = make_app(database_url, tmp_path / f"instance{len(apps)}", **settings)
        apps.append(app)
        runtime_of(app).limiter.clock = lambda: frozen
        client = app.test_client()
        vendor = None
        if len(apps) == 1:
            vendor = new_vendor(app)
            create_product(client, vendor, max_domains=100)
            key = create_license(client, vendor)["key"]
        else:
            key = ""
        return Setup(app, client, key, vendor)

    yield factory
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def _assert_rate_limited(response: Any, counted_by: str) -> dict[str, Any]:
    assert response.status_code == 429, response.get_json()
    body: dict[str, Any] = response.get_json()
    assert body["code"] == "RATE_LIMITED"
    assert set(body) >= {"code", "message", "detail", "request_id"}
    assert body["detail"]["counted_by"] == counted_by
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["detail"]["retry_after"] == retry_after
    return body


def test_per_address_limit_counts_each_endpoint_apart(
    build: Callable[..., Setup],
) -> None:
    setup = build(RATELIMIT_VALIDATE="3/minute")
    statuses = [setup.validate().status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    _assert_rate_limited(setup.validate(), "client_address")
    # other endpoints and other addresses keep their own counters
    activated = setup.call("activate", license_key=setup.key, domain="b.com")
    assert activated.status_code == 422  # no product: refused by the schema, not 429
    assert setup.validate(address="192.0.2.7").status_code == 200


def test_per_license_key_limit_holds_across_addresses_and_spellings(
    build: Callable[..., Setup],
) -> None:
    setup = build(RATELIMIT_LICENSE_KEY="2/minute")
    spellings = [setup.key, setup.key.lower(), setup.key.replace("-", " ")]
    assert setup.validate(spellings[0], address="192.0.2.1").status_code == 200
    assert setup.validate(spellings[1], address="192.0.2.2").status_code == 200
    _assert_rate_limited(setup.validate(spellings[2], "192.0.2.3"), "license_key")
    # another key from the same addresses is not held back
    assert setup.validate(UNKNOWN_KEY, address="192.0.2.3").status_code == 200


def test_failed_lookups_are_throttled_long_before_good_traffic(
    build: Callable[..., Setup],
) -> None:
    setup = build(RATELIMIT_FAILED_LOOKUPS="3/minute", RATELIMIT_VALIDATE="100/minute")
    site = {"domain": "a.com", "product": "jannah"}
    assert setup.call("activate", license_key=setup.key, **site).status_code == 201
    for _ in range(10):  # good traffic and ordinary negative answers do not count
        assert setup.validate().get_json()["code"] == "VALID"
        not_here = setup.call(
            "validate", license_key=setup.key, domain="b.com", product="jannah"
        )
        assert not_here.get_json()["code"] == "DOMAIN_NOT_ACTIVATED"
    # three failed lookups, on three endpoints, share one counter
    assert setup.validate(UNKNOWN_KEY).get_json()["code"] == "NOT_FOUND"
    bad = setup.call("activate", license_key="JAN-12345", **site)
    assert bad.get_json()["code"] == "INVALID_KEY_FORMAT"
    gone = setup.call("deactivate", license_key=UNKNOWN_KEY, domain="a.com")
    assert gone.get_json()["code"] == "NOT_FOUND"
    # now this address is held back for keys it has not used successfully...
    assert setup.vendor is not None
    other_key = create_license(setup.client, setup.vendor)["key"]
    _assert_rate_limited(setup.validate(other_key), "failed_lookups")
    _assert_rate_limited(setup.validate(UNKNOWN_KEY), "failed_lookups")
    # ...but a key it used successfully keeps working (shared hosting: many sites
    # behind one address), JWKS is never held back, and other addresses are not
    assert setup.validate().get_json()["code"] == "VALID"
    jwks = setup.client.get("/v1/vendors/acme-themes/jwks.json")
    assert jwks.status_code == 200
    assert setup.validate(other_key, address="192.0.2.9").status_code == 200


def test_ipv6_addresses_count_by_their_64(build: Callable[..., Setup]) -> None:
    setup = build(RATELIMIT_VALIDATE="2/minute")
    assert setup.validate(address="2001:db8:1:2::1").status_code == 200
    assert setup.validate(address="2001:db8:1:2:ffff::9").status_code == 200
    # a third address in the same /64 shares the counter; another /64 does not
    _assert_rate_limited(setup.validate(address="2001:db8:1:2::77"), "client_address")
    assert setup.validate(address="2001:db8:1:3::1").status_code == 200


def test_limits_come_from_the_environment(
    build: Callable[..., Setup], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LICENSE_SERVER_RATELIMIT_JWKS", "1/minute")
    setup = build()
    assert setup.client.get("/v1/vendors/acme-themes/jwks.json").status_code == 200
    _assert_rate_limited(
        setup.client.get("/v1/vendors/acme-themes/jwks.json"), "client_address"
    )


@pytest.mark.parametrize("setting", ["RATELIMIT_VALIDATE", "RATELIMIT_FAILED_LOOKUPS"])
def test_a_malformed_limit_stops_startup(
    database_url: str, tmp_path: Path, setting: str
) -> None:
    with pytest.raises(ConfigError, match=f"LICENSE_SERVER_{setting}"):
        make_app(database_url, tmp_path, **{setting: "lots per minute"})


def test_limits_can_be_switched_off(build: Callable[..., Setup]) -> None:
    setup = build(RATELIMIT_ENABLED=0, RATELIMIT_VALIDATE="1/minute")
    assert {setup.validate().status_code for _ in range(5)} == {200}


def _stored_counter_names(setup: Setup) -> list[str]:
    memory = runtime_of(setup.app).limiter.memory
    return [str(name) for name in memory._counts]


def test_counters_are_named_by_hashes_never_by_key_or_address(
    build: Callable[..., Setup],
) -> None:
    setup = build()
    address = "198.51.100.23"
    setup.validate(address=address)
    setup.validate(setup.key.lower(), address=address)
    names = _stored_counter_names(setup)
    assert any(":key:" in name for name in names)
    assert any(":addr:" in name for name in names)
    body = setup.key.replace("-", "")[-25:]
    for secret in (setup.key, setup.key.lower(), body, body.lower(), address):
        assert not any(secret in name for name in names), secret


# --------------------------------------------------------------------------
# Redis storage
# --------------------------------------------------------------------------


def test_redis_counters_are_shared_between_processes(
    build: Callable[..., Setup],
) -> None:
    url = redis_url_or_skip()
    prefix = f"ls-test-{uuid.uuid4().hex}"
    settings = {
        "RATELIMIT_STORAGE_URI": url,
        "RATELIMIT_KEY_PREFIX": prefix,
        "RATELIMIT_VALIDATE": "3/minute",
    }
    first, second = build(**settings), build(**settings)
    second.key = first.key
    server = redis.Redis.from_url(url)
    try:
        assert first.validate().status_code == 200
        assert first.validate().status_code == 200
        assert second.validate().status_code == 200
        _assert_rate_limited(second.validate(), "client_address")
        names = [name.decode() for name in server.scan_iter(f"*{prefix}*")]
        assert names, "no counter reached Redis"
        body = first.key.replace("-", "")[-25:]
        for secret in (first.key, first.key.lower(), body, body.lower()):
            assert not any(secret in name for name in names)
    finally:
        for name in server.scan_iter(f"*{prefix}*"):
            server.delete(name)
        server.close()


def test_unreachable_storage_fails_open(build: Callable[..., Setup]) -> None:
    setup = build(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    assert [setup.validate().status_code for _ in range(3)] == [200, 200, 200]
    assert time.monotonic() - started < 5


def test_storage_outage_falls_back_to_memory_and_recovers(
    build: Callable[..., Setup], tmp_path: Path
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    setup = build(RATELIMIT_STORAGE_URI=server.url, RATELIMIT_VALIDATE="3/minute")
    try:
        assert setup.validate().status_code == 200
        assert setup.validate(address="192.0.2.50").status_code == 200
        server.stop()
        # the limits still hold, counted in this process's memory meanwhile
        statuses = [setup.validate().status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        server.start()
        watcher = redis.Redis.from_url(server.url)
        deadline = time.monotonic() + 15
        while watcher.dbsize() == 0 and time.monotonic() < deadline:
            assert setup.validate(address="192.0.2.51").status_code in {200, 429}
            time.sleep(0.2)
        assert watcher.dbsize() > 0, "the limiter did not return to Redis"
        watcher.close()
    finally:
        server.stop()


def test_a_redis_restart_is_no_outage(
    build: Callable[..., Setup], tmp_path: Path
) -> None:
    """The connection a restart broke is replaced at once: no fallback, no error,
    and the script Redis forgot is loaded again."""
    server = RedisServer(tmp_path)
    server.start()
    setup = build(RATELIMIT_STORAGE_URI=server.url, RATELIMIT_VALIDATE="3/minute")
    limiter = runtime_of(setup.app).limiter
    try:
        assert setup.validate().status_code == 200
        server.stop()
        server.start()
        # the next request finds its connection dead, reconnects and counts in the
        # new Redis (which lost the counters and the script)
        assert setup.validate().status_code == 200
        assert not limiter.falling_back
        watcher = redis.Redis.from_url(server.url)
        counted = [int(watcher.get(name) or 0) for name in watcher.scan_iter("*")]
        watcher.close()
        assert 1 in counted, counted
        assert setup.validate().status_code == 200
        assert setup.validate().status_code == 200
        assert setup.validate().status_code == 429
    finally:
        server.stop()


# --------------------------------------------------------------------------
# Client addresses behind proxies
# --------------------------------------------------------------------------


def _actors(app: Flask) -> list[str]:
    with app.app_context():
        actors = list(db.session.scalars(select(Event.actor).order_by(Event.id)))
        db.session.remove()
    return actors


def test_forwarded_for_is_ignored_without_trusted_proxies(
    build: Callable[..., Setup],
) -> None:
    setup = build(RATELIMIT_VALIDATE="2/minute")
    body = {"license_key": setup.key, "domain": "a.com", "product": "jannah"}
    answers = [
        setup.call("validate", headers={"X-Forwarded-For": f"203.0.113.{n}"}, **body)
        for n in range(3)
    ]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    _assert_rate_limited(answers[2], "client_address")
    setup.call("activate", headers={"X-Forwarded-For": "203.0.113.1"}, **body)
    keyring = runtime_of(setup.app).keyring
    assert f"public:{keyring.client_address('127.0.0.1')}" in _actors(setup.app)


def test_trusted_proxy_supplies_the_client_address(
    build: Callable[..., Setup],
) -> None:
    setup = build(TRUSTED_PROXIES=1, RATELIMIT_VALIDATE="2/minute")
    body = {"license_key": setup.key, "domain": "a.com", "product": "jannah"}

    def via_proxy(chain: str) -> Any:
        return setup.call("validate", "10.0.0.2", {"X-Forwarded-For": chain}, **body)

    # only the hop the proxy appended counts; what the client sent is ignored
    assert via_proxy("1.1.1.1, 203.0.113.5").status_code == 200
    assert via_proxy("2.2.2.2, 203.0.113.5").status_code == 200
    _assert_rate_limited(via_proxy("3.3.3.3, 203.0.113.5"), "client_address")
    assert via_proxy("203.0.113.6").status_code == 200
    setup.call(
        "activate", "10.0.0.2", {"X-Forwarded-For": "9.9.9.9, 203.0.113.7"}, **body
    )
    keyring = runtime_of(setup.app).keyring
    assert _actors(setup.app)[-1] == f"public:{keyring.client_address('203.0.113.7')}"


def test_negative_trusted_proxies_stops_startup(
    database_url: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        make_app(database_url, tmp_path, TRUSTED_PROXIES=-1)


# --------------------------------------------------------------------------
# Rounds: a key's first success from an address costs one, the mark is taken back
# --------------------------------------------------------------------------


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_a_first_success_costs_one_round_and_a_refused_guess_leaves_no_mark(
    build: Callable[..., Setup], storage: str
) -> None:
    prefix = f"ls-test-{uuid.uuid4().hex}"
    settings: dict[str, Any] = {
        "RATELIMIT_FAILED_LOOKUPS": "2/minute",
        "RATELIMIT_KEY_PREFIX": prefix,
    }
    if storage == "redis":
        settings["RATELIMIT_STORAGE_URI"] = redis_url_or_skip()
    setup = build(**settings)
    limiter = runtime_of(setup.app).limiter
    rounds: list[int] = []
    apply = limiter.apply

    def counted(*args: Any, **kwargs: Any) -> list[int]:
        rounds.append(1)
        return apply(*args, **kwargs)

    limiter.apply = counted  # type: ignore[method-assign]

    def validate(key: str) -> tuple[int, int]:
        rounds.clear()
        status = setup.validate(key).status_code
        return status, len(rounds)

    guesses = [str(generate_key("JAN")) for _ in range(3)]
    try:
        # the first success from this address marks its key in the same round
        assert validate(setup.key) == (200, 1)
        assert validate(setup.key) == (200, 1)
        # a guess: counted, and its mark taken back, in a second round
        assert validate(guesses[0]) == (200, 2)
        assert validate(guesses[1]) == (200, 2)
        # the address is over its failed lookups: a guess already made is not
        # "used successfully" (its mark was taken back)...
        refused, spent = validate(guesses[0])
        assert (refused, spent) == (429, 1)
        # ...and a refused guess is never marked, so asking again is refused again
        assert validate(guesses[2]) == (429, 1)
        assert validate(guesses[2]) == (429, 1)
        # the key this address used keeps working
        assert validate(setup.key) == (200, 1)
    finally:
        if storage == "redis":
            server = redis.Redis.from_url(settings["RATELIMIT_STORAGE_URI"])
            for name in server.scan_iter(f"*{prefix}*"):
                server.delete(name)
            server.close()


def test_address_buckets_are_remembered_per_keyring_and_bounded() -> None:
    from license_server.api import throttle
    from license_server.keyring import Keyring

    first, second = Keyring(b"\x01" * 32), Keyring(b"\x02" * 32)
    assert throttle.address_bucket(first, "192.0.2.7") == throttle._address_bucket(
        first, "192.0.2.7"
    )
    # another keyring (another app) names the same address differently
    assert throttle.address_bucket(second, "192.0.2.7") != throttle.address_bucket(
        first, "192.0.2.7"
    )
    # the /64 rule holds through the memo
    assert throttle.address_bucket(first, "2001:db8::1") == throttle.address_bucket(
        first, "2001:db8::ffff"
    )
    for n in range(throttle._ADDRESS_BUCKETS_MAX + 10):
        throttle.address_bucket(first, f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._ADDRESS_BUCKETS[first]) <= throttle._ADDRESS_BUCKETS_MAX
