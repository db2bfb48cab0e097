"""Outages and clocks: VALID until exp + grace, then the notice; rollback shows it.

The scripted server signs like the real one with the test key; the tests move the
client's clock by hand. (``test_server.py`` repeats the outage on a real port.)
"""

from __future__ import annotations

from typing import Any

import pytest

from license_client import Code, Response, State, TransportFailed
from tests.client.conftest import FakeServer, ManualClock, fake_client

KEY = "JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P"
TTL, GRACE = 3600, 7200


def unreachable(body: dict[str, Any]) -> Response:
    raise TransportFailed("connection refused")


@pytest.fixture
def server(clock: ManualClock) -> FakeServer:
    return FakeServer(clock, ttl=TTL, grace=GRACE)


def test_valid_through_grace_then_notice(
    server: FakeServer, clock: ManualClock
) -> None:
    site = fake_client(server)
    activated_at = clock.ts
    assert site.activate(KEY).ok
    server.handler = unreachable

    clock.advance(TTL)  # exactly exp
    assert site.refresh().code == Code.NETWORK_ERROR
    assert site.status().valid and not site.status().in_grace

    clock.advance(1)  # past exp: the grace period
    status = site.status()
    assert status.valid and status.in_grace and site.notice() is None
    assert status.trusted_until is not None
    assert status.trusted_until.timestamp() == activated_at + TTL + GRACE

    clock.advance(GRACE - 1)  # exactly exp + grace
    assert site.refresh().code == Code.NETWORK_ERROR
    assert site.status().valid

    clock.advance(1)  # one second past exp + grace
    status = site.status()
    assert (status.state, status.code) == (State.UNKNOWN, Code.TOKEN_EXPIRED)
    assert site.notice() is not None

    server.handler = None  # the server is back
    assert site.refresh().ok
    assert site.status().valid and site.notice() is None


def test_network_failure_never_makes_invalid(server: FakeServer) -> None:
    site = fake_client(server)
    assert site.activate(KEY).ok
    server.handler = unreachable
    for _ in range(5):
        assert site.refresh().code == Code.NETWORK_ERROR
    assert site.status().state is State.VALID


def test_clock_set_back_beyond_tolerance_shows_notice(
    server: FakeServer, clock: ManualClock
) -> None:
    site = fake_client(server, rollback_tolerance=3600)
    assert site.activate(KEY).ok
    clock.advance(-299)  # within the iat skew and the tolerance
    assert site.status().valid
    clock.advance(-3600)  # an hour further back than the server's time
    status = site.status()
    assert (status.state, status.code) == (State.UNKNOWN, Code.CLOCK_ROLLBACK)
    assert site.notice() is not None
    clock.advance(3600 + 299)  # the clock is fixed
    assert site.status().valid


def test_highest_server_time_is_kept(server: FakeServer, clock: ManualClock) -> None:
    site = fake_client(server, rollback_tolerance=600)
    assert site.activate(KEY).ok
    clock.advance(TTL // 2)
    assert site.refresh().ok  # the server's time moves on to here
    latest = clock.ts
    server.handler = unreachable
    clock.advance(-700)  # back before the latest server time, beyond tolerance
    assert site.status().code == Code.CLOCK_ROLLBACK
    state = site.config.store.load()
    assert state is not None and state.server_time == latest


def test_rollback_with_an_old_token_still_notices(
    server: FakeServer, clock: ManualClock
) -> None:
    """An owner who sets the clock back to revive an expired token gets the notice."""
    site = fake_client(server, rollback_tolerance=600)
    assert site.activate(KEY).ok
    clock.advance(TTL // 2)
    assert site.refresh().ok
    server.handler = unreachable
    clock.advance(TTL + GRACE + 1)
    assert site.status().code == Code.TOKEN_EXPIRED
    clock.advance(-(TTL + GRACE + 1) - 3600)  # back to before the last server answer
    assert site.status().code == Code.CLOCK_ROLLBACK
    assert site.notice() is not None
