"""Re-validation schedule, back-off, the background thread and the status cache."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from license_client import (
    JsonFileStore,
    Response,
    Revalidator,
    TokenVerifier,
    TransportFailed,
)
from tests.client.conftest import FakeServer, ManualClock, fake_client

KEY = "JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P"
DAY = 86400


def unreachable(body: dict[str, Any]) -> Response:
    raise TransportFailed("connection refused")


def test_nothing_is_due_without_a_license(fake_server: FakeServer) -> None:
    site = fake_client(fake_server)
    assert not site.refresh_due()
    assert site.revalidate_if_due() is None
    assert fake_server.requests == []


def test_week_token_refreshes_two_days_before_expiry(
    clock: ManualClock,
) -> None:
    server = FakeServer(clock, ttl=7 * DAY, grace=14 * DAY)
    site = fake_client(server)
    assert site.activate(KEY).ok
    issued = clock.ts
    assert site.next_refresh_at() == issued + 5 * DAY
    clock.advance(5 * DAY - 1)
    assert site.revalidate_if_due() is None
    clock.advance(1)
    outcome = site.revalidate_if_due()
    assert outcome is not None and outcome.ok
    assert server.requests[-1]["_path"] == "/v1/validate"
    assert site.next_refresh_at() == clock.ts + 5 * DAY


def test_short_tokens_are_refreshed_at_most_daily(clock: ManualClock) -> None:
    server = FakeServer(clock, ttl=3600, grace=14 * DAY)
    site = fake_client(server)
    assert site.activate(KEY).ok
    clock.advance(DAY - 1)  # the token expired long ago; grace carries it
    assert not site.refresh_due() and site.status().valid
    clock.advance(1)
    assert site.refresh_due()


def test_failures_back_off_exponentially_then_reset(
    clock: ManualClock, fake_server: FakeServer
) -> None:
    fake_server.ttl, fake_server.grace = 7 * DAY, 14 * DAY
    site = fake_client(fake_server)
    assert site.activate(KEY).ok
    clock.advance(5 * DAY)
    fake_server.handler = unreachable
    delays = []
    for _ in range(11):
        outcome = site.revalidate_if_due()
        assert outcome is not None and not outcome.ok
        delays.append(round(site.next_refresh_at() - clock.ts))
        clock.advance(delays[-1])
    assert delays == [300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 76800, DAY, DAY]
    fake_server.handler = None
    outcome = site.revalidate_if_due()
    assert outcome is not None and outcome.ok
    state = site.config.store.load()
    assert state is not None and state.failures == 0
    assert site.next_refresh_at() == clock.ts + 5 * DAY


def test_status_verifies_the_signature_once_per_token(
    monkeypatch: pytest.MonkeyPatch, fake_server: FakeServer, clock: ManualClock
) -> None:
    calls = []
    original = TokenVerifier.verify

    def counting(self: TokenVerifier, token: str, **kwargs: Any) -> Any:
        calls.append(kwargs.get("now"))
        return original(self, token, **kwargs)

    monkeypatch.setattr(TokenVerifier, "verify", counting)
    site = fake_client(fake_server)
    assert site.activate(KEY).ok
    calls.clear()
    for _ in range(1000):
        assert site.status().valid
    clock.advance(fake_server.ttl + 1)  # into the grace period: a new window
    assert site.status().in_grace
    assert calls == []  # reused the claims verified when the answer came in

    fresh = fake_client(fake_server, store=site.config.store)
    for _ in range(100):
        assert fresh.status().valid
    assert calls == [None]  # one signature check for a new process


def test_other_process_writes_are_noticed(
    tmp_path: Path, fake_server: FakeServer
) -> None:
    path = tmp_path / "license.json"
    worker_a = fake_client(fake_server, store=JsonFileStore(path, recheck_interval=0))
    worker_b = fake_client(fake_server, store=JsonFileStore(path, recheck_interval=0))
    assert not worker_b.status().valid
    assert worker_a.activate(KEY).ok
    assert worker_b.status().valid
    assert worker_b.deactivate().ok
    assert not worker_a.status().valid


def test_background_revalidation_off_the_request_path(
    clock: ManualClock, fake_server: FakeServer
) -> None:
    fake_server.grace = 14 * DAY
    site = fake_client(fake_server)
    assert site.activate(KEY).ok
    assert not site.revalidate_in_background()  # not due
    clock.advance(DAY)
    entered, release = threading.Event(), threading.Event()

    def slow_server(body: dict[str, Any]) -> Response:
        entered.set()
        release.wait(5)
        return fake_server.honest(body)

    fake_server.handler = slow_server
    before = len(fake_server.requests)
    assert site.revalidate_in_background()
    assert entered.wait(5)
    assert not site.revalidate_in_background()  # one in flight at a time
    assert site.status().valid  # visitors are served while the refresh waits
    release.set()
    for _ in range(250):
        if not site.refresh_due():
            break
        threading.Event().wait(0.02)
    assert len(fake_server.requests) == before + 1
    assert site.next_refresh_at() > clock.ts


def test_revalidator_thread(clock: ManualClock, fake_server: FakeServer) -> None:
    site = fake_client(fake_server)
    assert site.activate(KEY).ok
    clock.advance(DAY)
    done = threading.Event()

    def answer(body: dict[str, Any]) -> Response:
        done.set()
        return fake_server.honest(body)

    fake_server.handler = answer
    worker = Revalidator(site, poll_interval=0.01)
    worker.start()
    try:
        assert done.wait(5)
    finally:
        worker.stop(timeout=5)
    assert site.status().valid and not site.refresh_due()
