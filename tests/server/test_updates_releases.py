"""Releases through the admin API and the CLI: packages, states, keys, versions."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask
from flask.testing import FlaskClient

from license_server.cli import main
from license_server.runtime import of as runtime_of
from license_server.updates.versions import sort_key, version_compare
from tests.conftest import VECTORS, VendorFixture, use_embedded
from tests.server.updates_support import ADMIN, publish, theme_zip

CASES = json.loads((VECTORS / "version_compare.json").read_text())["cases"]


def test_version_compare_matches_php_vectors() -> None:
    wrong = [(a, b, r) for a, b, r in CASES if version_compare(a, b) != r]
    assert not wrong
    assert len(CASES) > 2000
    assert sorted(["1.0", "1.0.0", "1.0rc1", "1.0-beta", "1.0pl1"], key=sort_key) == [
        "1.0-beta",
        "1.0rc1",
        "1.0",
        "1.0.0",
        "1.0pl1",
    ]


def test_php_agrees_with_the_vectors() -> None:
    php = shutil.which("php")
    if php is None:
        if os.environ.get("REQUIRE_PHP") == "1":
            pytest.fail("needs php-cli; REQUIRE_PHP=1 forbids skipping")
        pytest.skip("needs php-cli (apt-get install php-cli)")
    script = (
        "$c = json_decode(stream_get_contents(STDIN)); $bad = 0;"
        "foreach ($c as [$a, $b, $r]) { if (version_compare($a, $b) !== $r) $bad++; }"
        "echo $bad;"
    )
    result = subprocess.run(
        [php, "-r", script], input=json.dumps(CASES), capture_output=True, text=True
    )
    assert result.stdout == "0", result.stderr


def _draft(
    client: FlaskClient, vendor: VendorFixture, product_id: str, **body: Any
) -> Any:
    return client.post(
        f"{ADMIN}/products/{product_id}/releases",
        json={"version": "1.0.0", **body},
        headers=vendor.headers,
    )


def _upload(
    client: FlaskClient, vendor: VendorFixture, release_id: str, data: bytes
) -> Any:
    return client.put(
        f"{ADMIN}/releases/{release_id}/package",
        data=data,
        headers={**vendor.headers, "Content-Type": "application/zip"},
    )


def _zip(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"not a zip at all",
        _zip(["style.css", "index.php"]),  # contents zipped, no folder
        _zip(["other-theme/style.css"]),
        _zip(["jannah/style.css", "../evil.php"]),
    ],
    ids=["not-zip", "no-folder", "wrong-folder", "unsafe-path"],
)
def test_package_must_be_a_zip_of_the_slug_folder(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any], data: bytes
) -> None:
    release = _draft(client, vendor, product["id"]).get_json()
    response = _upload(client, vendor, release["id"], data)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == "PACKAGE_INVALID"


def test_package_size_limit_and_media_type(
    database_url: str, tmp_path: Path, vendor: VendorFixture
) -> None:
    from tests.conftest import create_product, make_app, new_vendor

    small = make_app(database_url, tmp_path / "small", RELEASE_MAX_BYTES=2000)
    client = small.test_client()
    owner = new_vendor(small, "Small Limits")
    product = create_product(client, owner)
    release = _draft(client, owner, product["id"]).get_json()
    big = theme_zip(filler=5000)
    response = _upload(client, owner, release["id"], big)
    assert (
        response.status_code == 413
        and response.get_json()["code"] == "PAYLOAD_TOO_LARGE"
    )
    assert _upload(client, owner, release["id"], theme_zip()).status_code == 200
    wrong = client.put(
        f"{ADMIN}/releases/{release['id']}/package",
        data=theme_zip(),
        headers={**owner.headers, "Content-Type": "text/plain"},
    )
    assert wrong.status_code == 415
    with small.app_context():
        from license_server.extensions import db

        db.engine.dispose()


def test_release_lifecycle(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    draft = _draft(client, vendor, product["id"], changelog="Notes").get_json()
    assert draft["published_at"] is None and draft["sha256"] is None
    assert _draft(client, vendor, product["id"]).status_code == 409
    bad = _draft(client, vendor, product["id"], version="v 1")
    assert bad.status_code == 422
    url = f"{ADMIN}/releases/{draft['id']}"
    assert client.post(url + "/publish", headers=vendor.headers).status_code == 409
    data = theme_zip()
    uploaded = _upload(client, vendor, draft["id"], data).get_json()
    assert uploaded["sha256"] == hashlib.sha256(data).hexdigest()
    assert uploaded["sha384"] == hashlib.sha384(data).hexdigest()
    assert uploaded["size"] == len(data)
    published = client.post(url + "/publish", headers=vendor.headers).get_json()
    assert published["published_at"] is not None
    assert _upload(client, vendor, draft["id"], data).status_code == 409
    assert client.delete(url, headers=vendor.headers).status_code == 409
    patched = client.patch(url, json={"tested": "6.6"}, headers=vendor.headers)
    assert patched.get_json()["tested"] == "6.6"
    unpublished = client.post(url + "/unpublish", headers=vendor.headers).get_json()
    assert unpublished["published_at"] is None
    assert (
        client.delete(url, headers=vendor.headers).status_code == 409
    )  # was published
    yanked = client.post(url + "/yank", json={"reason": "bad"}, headers=vendor.headers)
    assert yanked.get_json()["yanked_at"] is not None
    assert client.post(url + "/publish", headers=vendor.headers).status_code == 409
    other = _draft(client, vendor, product["id"], version="1.0.1").get_json()
    other_url = f"{ADMIN}/releases/{other['id']}"
    assert client.delete(other_url, headers=vendor.headers).status_code == 204
    assert client.get(other_url, headers=vendor.headers).status_code == 404
    listed = client.get(
        f"{ADMIN}/products/{product['id']}/releases", headers=vendor.headers
    )
    assert [r["version"] for r in listed.get_json()["data"]] == ["1.0.0"]
    actions = [
        e["action"]
        for e in client.get(f"{ADMIN}/events", headers=vendor.headers).get_json()[
            "data"
        ]
        if e["action"].startswith("release")
    ]
    for action in ("created", "package_uploaded", "published", "updated",
                   "unpublished", "yanked", "deleted"):  # fmt: skip
        assert f"release.{action}" in actions
    assert "release_key.created" in actions


def test_release_key_rotation_keeps_old_key_published(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    first = publish(client, vendor, product["id"], "1.0.0")
    rotated = client.post(f"{ADMIN}/release-keys/rotate", headers=vendor.headers)
    assert rotated.status_code == 201
    second = publish(client, vendor, product["id"], "1.1.0")
    assert (
        first["signature_kid"] != second["signature_kid"] == rotated.get_json()["kid"]
    )
    jwks = client.get(f"/v1/vendors/{vendor.slug}/jwks.json").get_json()["keys"]
    published = {k["kid"]: k for k in jwks if k["use"] == "release"}
    assert set(published) == {first["signature_kid"], second["signature_kid"]}
    for release, version in ((first, "1.0.0"), (second, "1.1.0")):
        key = base64.b64decode(published[release["signature_kid"]]["public_key_b64"])
        digest = hashlib.sha384(theme_zip("jannah", version)).digest()
        Ed25519PublicKey.from_public_bytes(key).verify(
            base64.b64decode(release["signature"]), digest
        )
    keys = client.get(f"{ADMIN}/release-keys", headers=vendor.headers).get_json()[
        "data"
    ]
    old = next(k for k in keys if k["kid"] == first["signature_kid"])
    active = next(k for k in keys if k["status"] == "active")
    refused = client.post(
        f"{ADMIN}/release-keys/{active['id']}/retire", headers=vendor.headers
    )
    assert refused.status_code == 409
    retired = client.post(
        f"{ADMIN}/release-keys/{old['id']}/retire", headers=vendor.headers
    )
    assert retired.get_json()["status"] == "retired"
    jwks = client.get(f"/v1/vendors/{vendor.slug}/jwks.json").get_json()["keys"]
    assert {k["kid"] for k in jwks if k["use"] == "release"} == {
        second["signature_kid"]
    }


def test_release_keys_are_sealed_at_rest(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    publish(client, vendor, product["id"], "1.0.0")
    from license_server.extensions import db
    from license_server.models import ReleaseKey

    with app.app_context():
        key = db.session.query(ReleaseKey).one()
        raw = runtime_of(app).keyring.open_release_key(key.private_key_sealed, key.kid)
        assert raw not in key.private_key_sealed and len(raw) == 32


def test_cli_publishes_a_release(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedded_template: Path
) -> None:
    use_embedded(monkeypatch, embedded_template, tmp_path)
    runner = CliRunner()
    created = runner.invoke(main, ["vendors", "create", "Acme", "--json"])
    api_key = json.loads(created.stdout)["api_key"]
    from license_server import create_app

    app = create_app()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {api_key}"}
    client.post(
        "/v1/admin/products", json={"slug": "jannah", "name": "Jannah"}, headers=headers
    )
    package = tmp_path / "jannah-1.2.0.zip"
    package.write_bytes(theme_zip("jannah", "1.2.0"))
    notes = tmp_path / "CHANGES.md"
    notes.write_text("* **New** header\n")
    result = runner.invoke(
        main,
        ["releases", "publish", "jannah", str(package), "--version", "1.2.0",
         "--changelog", str(notes), "--requires-php", "7.4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["published"] is True and out["version"] == "1.2.0"
    assert out["sha256"] == hashlib.sha256(package.read_bytes()).hexdigest()
    page = client.get("/v1/updates/jannah/changelog").get_data(as_text=True)
    assert "<strong>New</strong>" in page
    again = runner.invoke(
        main, ["releases", "publish", "jannah", str(package), "--version", "1.2.0"]
    )
    assert again.exit_code == 1 and "RELEASE_EXISTS" in again.output
    missing = runner.invoke(
        main, ["releases", "publish", "nope", str(package), "--version", "1"]
    )
    assert missing.exit_code == 1 and "no product" in missing.output
    with app.app_context():
        from license_server.extensions import db

        db.engine.dispose()


def test_racing_creates_of_one_version_make_one_release(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    """The unique (product, version) constraint decides; the loser gets 409, not 500.

    Without the IntegrityError mapping in ``releases.create_release`` (and its
    pre-check, which a race slips past) racing creates answer 500.
    """
    import threading
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(8)
    url = f"{ADMIN}/products/{product['id']}/releases"

    def call(_: int) -> tuple[int, str | None]:
        own = app.test_client()
        barrier.wait()
        response = own.post(url, json={"version": "2.0.0"}, headers=vendor.headers)
        return response.status_code, response.get_json().get("code")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = Counter(pool.map(call, range(8)))
    assert results == Counter({(201, None): 1, (409, "RELEASE_EXISTS"): 7})
    listed = client.get(url, headers=vendor.headers).get_json()["data"]
    assert [r["version"] for r in listed] == ["2.0.0"]
