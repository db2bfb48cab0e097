"""Upload -> check -> download -> signature, end to end through the HTTP API."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask
from flask.testing import FlaskClient

from license_server.signing import public_key_from_jwk, verify_token
from tests.conftest import VendorFixture
from tests.server.updates_support import (
    ADMIN,
    activate,
    check,
    fetch,
    publish,
    theme_zip,
)

PHP_VERIFY = r"""
$file = $argv[1]; $signature = $argv[2]; $key = $argv[3];
// exactly what WordPress's verify_file_signature() does
$digest = hash_file('sha384', $file, true);
$ok = sodium_crypto_sign_verify_detached(
    base64_decode($signature), $digest, base64_decode($key));
echo $ok ? "VERIFIED" : "REFUSED";
"""


def php_or_skip() -> str:
    """Return the php binary, or skip (fail under REQUIRE_PHP=1)."""
    php = shutil.which("php")
    if (
        php is None
        or subprocess.run(
            [
                php,
                "-r",
                "exit(function_exists('sodium_crypto_sign_verify_detached') ? 0 : 1);",
            ],
            check=False,
        ).returncode
    ):
        reason = "needs php-cli with sodium (apt-get install php-cli)"
        if os.environ.get("REQUIRE_PHP") == "1":
            pytest.fail(reason + "; REQUIRE_PHP=1 forbids skipping")
        pytest.skip(reason)
    return php


@pytest.fixture
def released(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any], license: Any
) -> dict[str, Any]:
    activate(client, license["key"])
    release = publish(client, vendor, product["id"], "1.1.0", changelog="* Fixed *it*")
    return {"license": license, "release": release, "product": product}


def test_licensed_site_gets_package_and_signed_answer(
    app: Flask, client: FlaskClient, vendor: VendorFixture, released: dict[str, Any]
) -> None:
    answer = check(client, released["license"]["key"], nonce="n-1")
    assert answer["update_available"] and answer["entitled"]
    assert (answer["theme"], answer["new_version"]) == ("jannah", "1.1.0")
    assert answer["package"].startswith("http://localhost/v1/downloads/")
    assert answer["reason"] is None and answer["code"] == "VALID"
    assert "<em>it</em>" in answer["sections"]["changelog"]
    jwks = client.get(f"/v1/vendors/{vendor.slug}/jwks.json").get_json()["keys"]
    token_keys = {k["kid"]: public_key_from_jwk(k) for k in jwks if k["use"] == "sig"}
    claims = verify_token(
        answer["token"],
        token_keys,
        issuer=vendor.new.vendor.issuer,
        audience="jannah",
        domain="example.com",
        now=datetime.now(UTC),
        nonce="n-1",
    )
    assert claims["valid"] is True and claims["code"] == "VALID"
    assert claims["kh"] and claims["sub"] == released["license"]["id"]  # validate's
    assert claims["upd"] == {
        "ver": "1.1.0",
        "pkg": True,
        "reason": None,
        "sha384": released["release"]["sha384"],
    }


def test_download_streams_the_signed_package(
    client: FlaskClient, vendor: VendorFixture, released: dict[str, Any], tmp_path: Path
) -> None:
    answer = check(client, released["license"]["key"])
    response = fetch(client, answer["package"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    body = response.get_data()
    assert body == theme_zip("jannah", "1.1.0")
    signature = response.headers["x-content-signature"]
    sig_file = client.get(answer["package"] + ".sig")
    assert sig_file.status_code == 200
    assert sig_file.get_data(as_text=True).strip() == signature
    jwks = client.get(f"/v1/vendors/{vendor.slug}/jwks.json").get_json()["keys"]
    (release_key,) = [k for k in jwks if k["use"] == "release"]
    raw = base64.b64decode(release_key["public_key_b64"])
    digest = hashlib.sha384(body).digest()
    Ed25519PublicKey.from_public_bytes(raw).verify(base64.b64decode(signature), digest)


def test_php_sodium_verifies_like_wordpress(
    client: FlaskClient, vendor: VendorFixture, released: dict[str, Any], tmp_path: Path
) -> None:
    php = php_or_skip()
    answer = check(client, released["license"]["key"])
    response = fetch(client, answer["package"])
    package = tmp_path / "jannah.zip"
    package.write_bytes(response.get_data())
    keys = client.get(f"{ADMIN}/release-keys", headers=vendor.headers).get_json()
    key = keys["data"][0]["public_key_b64"]
    signature = response.headers["x-content-signature"]
    run = [php, "-r", PHP_VERIFY, str(package), signature, key]
    result = subprocess.run(run, capture_output=True, text=True, check=True)
    assert result.stdout == "VERIFIED"
    package.write_bytes(response.get_data() + b"tampered")
    result = subprocess.run(run, capture_output=True, text=True, check=True)
    assert result.stdout == "REFUSED"


def test_unlicensed_site_is_told_why_with_renewal_url(
    client: FlaskClient, vendor: VendorFixture, released: dict[str, Any]
) -> None:
    product_id = released["product"]["id"]
    response = client.put(
        f"{ADMIN}/products/{product_id}/updates",
        json={"renewal_url": "https://shop.example.com/renew"},
        headers=vendor.headers,
    )
    assert response.status_code == 200, response.get_json()
    answer = check(client, released["license"]["key"], domain="other.com")
    assert answer["new_version"] == "1.1.0" and answer["package"] is None
    assert answer["reason"]["code"] == "DOMAIN_NOT_ACTIVATED"
    assert "not activated on this site" in answer["reason"]["message"]
    assert answer["reason"]["renewal_url"] == "https://shop.example.com/renew"


def test_repeat_check_answers_304_with_the_etag(
    client: FlaskClient, released: dict[str, Any]
) -> None:
    body = {
        "license_key": released["license"]["key"],
        "domain": "example.com",
        "product": "jannah",
        "version": "1.0.0",
    }
    first = client.post("/v1/updates/check", json=body)
    etag = first.headers["ETag"]
    again = client.post("/v1/updates/check", json=body, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    other = client.post(
        "/v1/updates/check",
        json={**body, "version": "1.1.0"},
        headers={"If-None-Match": etag},
    )
    assert other.status_code == 200
    assert other.get_json()["update_available"] is False
    assert other.get_json()["new_version"] == "1.1.0"


def test_changelog_page_alone_may_be_framed(
    client: FlaskClient, released: dict[str, Any]
) -> None:
    page = client.get("/v1/updates/jannah/changelog")
    assert page.status_code == 200 and "1.1.0" in page.get_data(as_text=True)
    assert "frame-ancestors *" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers
    other = client.get("/healthz")
    assert other.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert other.headers["X-Frame-Options"] == "DENY"


def test_puc_metadata_with_query_arguments(
    client: FlaskClient, released: dict[str, Any]
) -> None:
    key = released["license"]["key"]
    url = "/v1/updates/jannah/puc.json"
    meta = client.get(
        url,
        query_string={
            "license_key": key,
            "domain": "https://example.com/",
            "installed_version": "1.0.0",
            "php": "8.2.1",
            "locale": "en_US",
            "checking_for_updates": "1",
        },
    ).get_json()
    assert meta["version"] == "1.1.0" and meta["download_url"]
    assert meta["details_url"].endswith("/v1/updates/jannah/changelog")
    refused = client.get(
        url, query_string={"license_key": key, "domain": "nope.com"}
    ).get_json()
    assert "download_url" not in refused and refused["version"] == "1.1.0"
    assert refused["reason"]["code"] == "DOMAIN_NOT_ACTIVATED"
    anonymous = client.get(url).get_json()
    assert anonymous["version"] == "1.1.0" and "download_url" not in anonymous


def test_stats_count_checks_and_downloads(
    client: FlaskClient, vendor: VendorFixture, released: dict[str, Any]
) -> None:
    answer = check(
        client, released["license"]["key"], wp_version="6.5.2", php_version="8.2.1"
    )
    fetch(client, answer["package"])
    fetch(client, answer["package"], headers={"Range": "bytes=10-20"})  # a resume
    stats = client.get(f"{ADMIN}/stats", headers=vendor.headers).get_json()
    updates = stats["updates"]["jannah"]
    assert updates["checks"] == 1
    assert updates["versions"] == {"1.0.0": 1}
    assert updates["wp"] == {"6.5": 1} and updates["php"] == {"8.2": 1}
    assert updates["downloads"] == {"1.1.0": 1}


def test_a_form_encoded_check_answers_as_json_does(
    client: FlaskClient, released: dict[str, Any]
) -> None:
    """What WordPress's wp_remote_post() sends for an array body (PROTOCOL §8)."""
    fields = {
        "license_key": released["license"]["key"],
        "domain": "example.com",
        "product": "jannah",
        "version": "1.0.0",
        "wp_version": "6.6.2",
    }
    as_json = client.post("/v1/updates/check", json=fields)
    as_form = client.post("/v1/updates/check", data=fields)
    assert as_form.status_code == 200, as_form.get_json()
    assert as_form.headers["ETag"] == as_json.headers["ETag"]
    json_answer, form_answer = as_json.get_json(), as_form.get_json()
    for changes in ("token", "ts", "package"):  # signed at its own moment
        json_answer.pop(changes), form_answer.pop(changes)
    assert form_answer == json_answer and form_answer["code"] == "VALID"
    unknown = client.post("/v1/updates/check", data={**fields, "extra": "x"})
    assert unknown.status_code == 422
    assert unknown.get_json()["code"] == "VALIDATION_ERROR"
    twice = client.post(
        "/v1/updates/check",
        data="license_key=a&license_key=b&domain=d&product=p&version=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert twice.status_code == 400
    assert twice.get_json()["code"] == "MALFORMED_BODY"
