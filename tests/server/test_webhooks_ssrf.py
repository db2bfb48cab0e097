"""SSRF: webhooks never go to private, loopback or link-local receivers by default."""

from __future__ import annotations

import dataclasses
import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server.extensions import db
from license_server.models.webhooks import WebhookAttempt
from license_server.webhooks import ssrf
from license_server.webhooks.runner import Runner, settings_from_config
from tests.conftest import VendorFixture, create_license
from tests.server.webhook_support import Clock, Receiver, add_endpoint

NAMES = {
    "internal.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "v6-local.example": ["fe80::1"],
    "ula.example": ["fd12:3456::1"],
    "mixed.example": ["93.184.216.34", "192.168.0.10"],
    "public.example": ["93.184.216.34", "2606:2800:220:1::1"],
}


def _names(host: str, _port: int) -> list[str]:
    if host not in NAMES:
        raise ssrf.UnsafeTarget(f"cannot resolve {host}")
    return NAMES[host]


POLICY = ssrf.Policy(resolve=_names)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://127.8.9.10/hook",
        "https://[::1]/hook",
        "https://10.0.0.5/hook",
        "https://172.16.0.1/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://100.64.0.1/hook",
        "https://224.0.0.1/hook",
        "https://internal.example/hook",
        "https://metadata.example/hook",
        "https://v6-local.example/hook",
        "https://ula.example/hook",
        "https://mixed.example/hook",
    ],
)
def test_private_loopback_and_link_local_receivers_are_refused(url: str) -> None:
    with pytest.raises(ssrf.UnsafeTarget, match="private, loopback or link-local"):
        POLICY.vet(url)


def test_localhost_is_refused_through_the_real_resolver() -> None:
    with pytest.raises(ssrf.UnsafeTarget, match="127.0.0.1|::1"):
        ssrf.Policy().vet("https://localhost/hook")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://93.184.216.34/hook", "must use https"),
        ("ftp://93.184.216.34/hook", "must use https"),
        ("https://user:pw@93.184.216.34/hook", "credentials"),
        ("https:///hook", "no host"),
        ("https://unknown.example/hook", "cannot resolve"),
    ],
)
def test_urls_of_the_wrong_shape_are_refused(url: str, message: str) -> None:
    with pytest.raises(ssrf.UnsafeTarget, match=message):
        POLICY.vet(url)


def test_public_receivers_pass_and_connect_to_the_vetted_address() -> None:
    target = POLICY.vet("https://public.example:8443/hook?x=1")
    assert (target.host, target.port, target.path) == (
        "public.example",
        8443,
        "/hook?x=1",
    )
    assert target.address == "93.184.216.34"
    assert POLICY.vet("https://93.184.216.34/").address == "93.184.216.34"


def test_the_allow_list_admits_named_networks_and_schemes_only() -> None:
    policy = ssrf.Policy.from_config("http,https", "127.0.0.0/8, 10.1.0.0/16")
    policy = dataclasses.replace(policy, resolve=_names)
    assert policy.vet("http://127.0.0.1:9/").address == "127.0.0.1"
    assert policy.vet("https://internal.example/").address == "10.1.2.3"
    with pytest.raises(ssrf.UnsafeTarget):
        policy.vet("https://192.168.1.1/")
    assert policy.allows(ipaddress.ip_address("10.1.255.255"))


def test_the_admin_api_refuses_a_private_endpoint(
    client: FlaskClient, vendor: VendorFixture
) -> None:
    for url in ("https://169.254.169.254/", "https://127.0.0.1/", "http://127.0.0.1/"):
        response = client.post(
            "/v1/admin/webhooks/endpoints",
            json={"url": url, "event_types": ["*"]},
            headers=vendor.headers,
        )
        assert response.status_code == 422, url
        assert response.get_json()["code"] == "WEBHOOK_URL_REFUSED"
    listed = client.get("/v1/admin/webhooks/endpoints", headers=vendor.headers)
    assert listed.get_json()["data"] == []


def test_the_worker_checks_again_at_delivery_time(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    # registered while loopback was allowed; the operator then removed it
    app.config.update(
        WEBHOOK_ALLOWED_SCHEMES="http", WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8"
    )
    with Receiver() as receiver:
        add_endpoint(client, vendor, receiver.url)
        app.config.update(WEBHOOK_ALLOWED_SCHEMES="https", WEBHOOK_ALLOWED_NETWORKS="")
        create_license(client, vendor)
        clock = Clock(datetime.now(UTC) + timedelta(seconds=30))
        Runner(app, settings=settings_from_config(app.config), clock=clock).tick()
        assert receiver.requests == []
    with app.app_context():
        (attempt,) = db.session.scalars(select(WebhookAttempt))
    assert attempt.status_code is None and "must use https" in (attempt.error or "")
