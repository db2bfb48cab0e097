"""Package URLs: expiry, tampering, another domain or licence, revocation, Range."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from license_server.runtime import of as runtime_of
from license_server.updates import downloads
from tests.conftest import VendorFixture, create_license, make_app, public_call
from tests.server.updates_support import (
    ADMIN,
    activate,
    check,
    fetch,
    publish,
    theme_zip,
)


@pytest.fixture
def offer(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any], license: Any
) -> dict[str, Any]:
    activate(client, license["key"])
    release = publish(client, vendor, product["id"], "1.1.0")
    answer = check(client, license["key"])
    token = answer["package"].rsplit("/", 1)[1]
    return {
        "license": license,
        "release": release,
        "url": answer["package"],
        "token": token,
    }


def _grant(app: Flask, offer: dict[str, Any], **changes: Any) -> str:
    grant = downloads.Grant(
        uuid.UUID(offer["license"]["id"]),
        uuid.UUID(offer["release"]["id"]),
        int((datetime.now(UTC) + timedelta(minutes=30)).timestamp()),
        "example.com",
    )
    fields = {**grant.__dict__, **changes}
    return downloads.make_token(runtime_of(app).keyring, downloads.Grant(**fields))


def _get(client: FlaskClient, token: str, **kwargs: Any) -> Any:
    return fetch(client, f"/v1/downloads/{token}", **kwargs)


def test_url_carries_no_license_key_and_lives_30_to_35_minutes(
    app: Flask, offer: dict[str, Any]
) -> None:
    key = offer["license"]["key"]
    assert not any(part in offer["url"] for part in key.split("-") if len(part) == 5)
    grant = downloads.read_token(
        runtime_of(app).keyring, offer["token"], datetime.now(UTC)
    )
    left = grant.expires - datetime.now(UTC).timestamp()
    assert 30 * 60 - 5 <= left <= 35 * 60
    assert grant.domain == "example.com"


def test_good_url_streams(client: FlaskClient, offer: dict[str, Any]) -> None:
    response = _get(client, offer["token"])
    assert response.status_code == 200
    assert response.get_data() == theme_zip("jannah", "1.1.0")
    assert "filename=jannah-1.1.0.zip" in response.headers["Content-Disposition"]


def test_range_requests(client: FlaskClient, offer: dict[str, Any]) -> None:
    whole = theme_zip("jannah", "1.1.0")
    response = _get(client, offer["token"], headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.get_data() == whole[10:20]
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(whole)}"


def test_expired_url_is_410(
    app: Flask, client: FlaskClient, offer: dict[str, Any]
) -> None:
    past = int((datetime.now(UTC) - timedelta(seconds=1)).timestamp())
    response = _get(client, _grant(app, offer, expires=past))
    assert response.status_code == 410
    assert response.get_json()["code"] == "DOWNLOAD_EXPIRED"


@pytest.mark.parametrize("where", ["payload", "mac", "domain", "garbage", "empty mac"])
def test_tampered_url_is_403(
    client: FlaskClient, offer: dict[str, Any], where: str
) -> None:
    payload, mac = offer["token"].split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if where == "payload":
        raw[0] ^= 1  # another licence id
        token = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=") + "." + mac
    elif where == "domain":
        raw = raw[: -len("example.com")] + b"example.org"
        token = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=") + "." + mac
    elif where == "mac":
        token = payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    elif where == "garbage":
        token = "not-a-token!"
    else:
        token = payload + "."
    response = _get(client, token)
    assert response.status_code == 403, response.get_json()
    assert response.get_json()["code"] == "DOWNLOAD_INVALID"


def test_url_for_another_domain_is_refused(
    app: Flask, client: FlaskClient, offer: dict[str, Any]
) -> None:
    response = _get(client, _grant(app, offer, domain="other.com"))
    assert response.status_code == 403
    assert response.get_json()["code"] == "DOWNLOAD_NOT_ENTITLED"
    assert response.get_json()["detail"]["code"] == "DOMAIN_NOT_ACTIVATED"


def test_url_for_another_licence_is_refused(
    app: Flask, client: FlaskClient, vendor: VendorFixture, offer: dict[str, Any]
) -> None:
    other = create_license(client, vendor)  # never activated on example.com
    token = _grant(app, offer, license_id=uuid.UUID(other["id"]))
    response = _get(client, token)
    assert response.status_code == 403
    assert response.get_json()["detail"]["code"] == "DOMAIN_NOT_ACTIVATED"
    token = _grant(app, offer, license_id=uuid.uuid4())
    assert _get(client, token).get_json()["detail"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("change", ["revoke", "suspend", "deactivate"])
def test_licence_changed_after_the_check_is_refused(
    client: FlaskClient, vendor: VendorFixture, offer: dict[str, Any], change: str
) -> None:
    license = offer["license"]
    if change == "deactivate":
        status, _ = public_call(
            client, "deactivate", license_key=license["key"], domain="example.com"
        )
        assert status == 200
    else:
        url = f"{ADMIN}/licenses/{license['id']}/{change}"
        assert client.post(url, headers=vendor.headers).status_code == 200
    response = _get(client, offer["token"])
    assert response.status_code == 403
    assert "Updates cannot be downloaded" in response.get_json()["message"]
    assert _get(client, offer["token"] + ".sig").status_code == 403


def test_yanked_release_is_withdrawn(
    client: FlaskClient, vendor: VendorFixture, offer: dict[str, Any]
) -> None:
    url = f"{ADMIN}/releases/{offer['release']['id']}/yank"
    assert (
        client.post(url, json={"reason": "broken"}, headers=vendor.headers).status_code
        == 200
    )
    response = _get(client, offer["token"])
    assert response.status_code == 410
    assert response.get_json()["code"] == "RELEASE_WITHDRAWN"


def test_behind_nginx_hands_off_with_x_accel_redirect(
    database_url: str, tmp_path: Any, offer: dict[str, Any], app: Flask
) -> None:
    nginx_app = make_app(
        database_url,
        tmp_path / "instance",
        X_ACCEL_PREFIX="/protected/",
    )
    response = nginx_app.test_client().get(f"/v1/downloads/{offer['token']}")
    assert response.status_code == 200 and response.get_data() == b""
    sha256 = offer["release"]["sha256"]
    expected = f"/protected/sha256/{sha256[:2]}/{sha256}.zip"
    assert response.headers["X-Accel-Redirect"] == expected
    assert response.headers["x-content-signature"] == offer["release"]["signature"]
    with nginx_app.app_context():
        from license_server.extensions import db

        db.engine.dispose()
