"""Client, second pass (issue 17, items 11-13): answers bound to the key, a working
key kept through a refused one, and a settings link that stays on the site."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from license_client import ConfigInvalid
from license_client.keys import key_hash
from tests.client.conftest import FakeServer, Response, fake_client, sign_token

KEY = "JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P"
OTHER = "JAN-QX0Z4-M7TNP-B21HW-KJ9CR-8DV3A"


def test_key_hash_is_sha256_of_the_body_first_16_bytes() -> None:
    digest = hashlib.sha256(b"7K3M9PQRX2WY4T8VH6N0J1G5P").digest()[:16]
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert key_hash(KEY) == key_hash("7k3m9 pqrx2 wy4t8 vh6n0 j1g5p") == expected
    assert len(expected) == 22


def _kh_server(server: FakeServer, kh_of: str | None) -> None:
    def handler(body: dict[str, Any]) -> Response:
        claims = server.claims(body)
        if kh_of is not None:
            claims["kh"] = key_hash(kh_of)
        return server.answer(body, sign_token(claims))

    server.handler = handler


def test_a_fresh_answer_about_another_key_is_unknown_not_invalid(
    fake_server: FakeServer,
) -> None:
    site = fake_client(fake_server)
    _kh_server(fake_server, OTHER)
    outcome = site.activate(KEY)
    assert not outcome.ok and outcome.code == "UNTRUSTED_ANSWER"
    assert site.status().state.value == "UNKNOWN"


def test_a_fresh_answer_with_the_right_kh_or_none_is_trusted(
    fake_server: FakeServer,
) -> None:
    _kh_server(fake_server, KEY)
    assert fake_client(fake_server).activate(KEY).ok
    _kh_server(fake_server, None)  # a version 1 server sends no kh
    assert fake_client(fake_server).activate(KEY).ok


def test_a_stored_token_about_another_key_is_not_trusted(
    fake_server: FakeServer,
) -> None:
    site = fake_client(fake_server)
    _kh_server(fake_server, KEY)
    assert site.activate(KEY).ok
    state = site.config.store.load()
    assert state is not None
    from dataclasses import replace

    site.config.store.save(replace(state, license_key=OTHER))  # swapped at rest
    fresh = fake_client(fake_server, store=site.config.store)
    assert not fresh.status().valid
    assert fresh.status().state.value == "UNKNOWN"


def test_a_refused_new_key_keeps_the_working_key_and_its_valid_state(
    fake_server: FakeServer,
) -> None:
    site = fake_client(fake_server)
    assert site.activate(KEY).ok
    fake_server.code = "NOT_FOUND"
    refused = site.activate(OTHER)
    assert not refused.ok and refused.code == "NOT_FOUND"
    assert site.status().valid
    state = site.config.store.load()
    assert state is not None and state.license_key == KEY
    fake_server.code = "VALID"
    assert site.refresh().ok  # still checks the working key
    assert fake_server.requests[-1]["license_key"] == KEY


def test_a_valid_new_key_replaces_the_old_one(fake_server: FakeServer) -> None:
    site = fake_client(fake_server)
    assert site.activate(KEY).ok
    assert site.activate(OTHER).ok
    state = site.config.store.load()
    assert state is not None and state.license_key == OTHER


@pytest.mark.parametrize(
    "url",
    [
        "/\\evil.com",
        "/\\/evil.com",
        "\\\\evil.com",
        "https://evil.com/wp-admin/",
        "https://shop.example.com.evil.com/",
        "https://user@shop.example.com/",
        "http:/\\evil.com",
        "/wp-admin/\x00",
        "/a\tb",
    ],
)
def test_the_settings_link_stays_on_this_site(
    fake_server: FakeServer, url: str
) -> None:
    with pytest.raises(ConfigInvalid):
        fake_client(fake_server, settings_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "/wp-admin/themes.php?page=jannah",
        "https://shop.example.com/wp-admin/?page=theme",
        "https://www.SHOP.example.com:8443/wp-admin/",
    ],
)
def test_same_site_settings_links_are_accepted(
    fake_server: FakeServer, url: str
) -> None:
    assert fake_client(fake_server, settings_url=url).config.settings_url == url


def test_a_client_may_name_its_product_vendor_scoped(fake_server: FakeServer) -> None:
    def handler(body: dict[str, Any]) -> Response:
        assert body["product"] == "acme-themes/jannah"
        return fake_server.answer(body, sign_token(fake_server.claims(body)))

    fake_server.handler = handler
    site = fake_client(fake_server, product="acme-themes/jannah")
    assert site.activate(KEY).ok  # the token's aud is the slug, "jannah"
