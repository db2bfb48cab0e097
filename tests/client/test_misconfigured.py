"""A theme configured with the wrong issuer, product or key says what to check.

Against the real app: the answer fails verification, the outcome's message names
the claim that differed and the setting behind it, and the client logs it at
WARNING (a network failure stays at INFO).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from license_client import ClientConfig, LicenseClient, MemoryStore
from tests.client.conftest import SETTINGS_URL, TEST_JWK, FlaskTransport, real_client
from tests.conftest import VendorFixture


def test_a_wrong_issuer_is_named_and_logged(
    app: Flask,
    vendor: VendorFixture,
    license: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = real_client(
        vendor, FlaskTransport(app), domain="shop.example.com", issuer="acme"
    )
    with caplog.at_level(logging.INFO, logger="license_client"):
        outcome = site.activate(license["key"])
    assert not outcome.ok and outcome.code == "UNTRUSTED_ANSWER"
    assert "for issuer 'acme-themes', but this theme expects 'acme'" in outcome.message
    assert "check the theme's issuer setting" in outcome.message
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "issuer 'acme-themes'" in warned[0].getMessage()
    # the same domain again, once fixed, is the same seat
    fixed = real_client(vendor, FlaskTransport(app), domain="shop.example.com")
    assert fixed.activate(license["key"]).ok


def test_a_wrong_pinned_key_is_named(
    app: Flask, vendor: VendorFixture, license: dict[str, Any]
) -> None:
    config = ClientConfig(
        server_url="http://license-server.invalid",
        issuer=vendor.new.vendor.issuer,
        product="jannah",
        product_name="Jannah",
        public_keys=TEST_JWK,  # not the vendor's key
        domain="shop.example.com",
        settings_url=SETTINGS_URL,
        store=MemoryStore(),
        transport=FlaskTransport(app),
    )
    outcome = LicenseClient(config).activate(license["key"])
    assert outcome.code == "UNTRUSTED_ANSWER"
    assert "check the theme's public key" in outcome.message
