"""The inbound store route is rate limited per address (RATELIMIT_CHANNEL_EVENTS).

Like the other public routes: counted before the body is read or a signature is
checked, so a flood costs no HMAC and no log row; a refusal is 429 ``RATE_LIMITED``
in the error shape with ``Retry-After``; another address is not held back; the
setting is parsed at start-up, and the reference documents the 429.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from license_server.runtime import of as runtime_of
from tests.conftest import create_product, make_app, new_vendor
from tests.server.channel_support import (
    connect,
    generic_order,
    logged,
    signed_headers,
)


@pytest.fixture
def limited(database_url: str, tmp_path: Path) -> Any:
    app = make_app(
        database_url, tmp_path / "instance", RATELIMIT_CHANNEL_EVENTS="2/minute"
    )
    # one window for the whole test, however slowly the machine runs it
    frozen = time.time()
    runtime_of(app).limiter.clock = lambda: frozen
    yield app


def _send(app: Flask, connection: dict[str, Any], address: str, url: str = "") -> Any:
    body = json.dumps(generic_order(order=uuid.uuid4().hex)).encode()
    headers = signed_headers(connection["kind"], connection["secret"], body)
    return app.test_client().post(
        url or connection["inbound_url"],
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_store_events_are_limited_per_address(limited: Flask) -> None:
    client = limited.test_client()
    vendor = new_vendor(limited)
    create_product(client, vendor)
    connection = connect(client, vendor, "generic")
    first = [_send(limited, connection, "198.51.100.1") for _ in range(2)]
    assert [answer.status_code for answer in first] == [200, 200]
    seen = len(logged(limited))
    assert seen == 2
    refused = _send(limited, connection, "198.51.100.1")
    assert refused.status_code == 429, refused.get_json()
    assert refused.mimetype == "application/json"
    answer = refused.get_json()
    assert answer["code"] == "RATE_LIMITED"
    assert set(answer) >= {"code", "message", "detail", "request_id"}
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 61 and answer["detail"]["retry_after"] == retry_after
    assert answer["detail"]["counted_by"] == "client_address"
    assert answer["detail"]["limit"] == "2 per 1 minute"
    assert len(logged(limited)) == seen  # refused before the event was read
    # an unknown connection id counts too (a flood of guessed ids is held back)
    unknown = f"/v1/channels/{uuid.uuid4()}/events"
    assert _send(limited, connection, "198.51.100.1", unknown).status_code == 429
    # another address is counted apart
    assert _send(limited, connection, "203.0.113.9").status_code == 200


def test_the_setting_is_checked_and_the_429_documented(
    database_url: str, tmp_path: Path
) -> None:
    from license_server.config import ConfigError

    with pytest.raises(ConfigError, match="RATELIMIT_CHANNEL_EVENTS"):
        make_app(database_url, tmp_path / "bad", RATELIMIT_CHANNEL_EVENTS="lots")
    app = make_app(database_url, tmp_path / "good")
    spec = app.test_client().get("/openapi.json").get_json()
    operation = spec["paths"]["/v1/channels/{connection_id}/events"]["post"]
    assert "`RATE_LIMITED`" in operation["responses"]["429"]["description"]
