"""Local and S3 storage pass the same tests; S3 against moto's server on loopback."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from license_server.updates.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    content_key,
    from_config,
)
from tests.conftest import make_app
from tests.server.s3_support import s3_bucket, s3_endpoint  # noqa: F401
from tests.server.updates_support import activate, check, fetch, publish, theme_zip


# S3 runs against moto's server, a process of its own: the system tier
@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.system)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "releases")
    endpoint, bucket = request.getfixturevalue("s3_bucket")
    return from_config(
        {"RELEASE_STORAGE": f"s3://{bucket}/pkgs", "S3_ENDPOINT_URL": endpoint}
    )


def _file(tmp_path: Path, data: bytes) -> tuple[Path, str]:
    path = tmp_path / f"in-{hashlib.sha256(data).hexdigest()[:8]}.zip"
    path.write_bytes(data)
    return path, content_key(hashlib.sha256(data).hexdigest())


def test_put_open_size_exists_delete(storage: Storage, tmp_path: Path) -> None:
    data = theme_zip("jannah", "1.0.0", filler=300_000)
    path, key = _file(tmp_path, data)
    assert key.startswith("sha256/") and not storage.exists(key)
    storage.put(key, path)
    assert storage.exists(key) and storage.size(key) == len(data)
    with storage.open(key) as stream:
        assert stream.read() == data
    storage.delete(key)
    assert not storage.exists(key)


def test_objects_are_never_overwritten(storage: Storage, tmp_path: Path) -> None:
    data = theme_zip()
    path, key = _file(tmp_path, data)
    storage.put(key, path)
    impostor = tmp_path / "other.zip"
    impostor.write_bytes(b"not the same bytes")
    storage.put(key, impostor)  # same key again: kept as it was
    with storage.open(key) as stream:
        assert stream.read() == data


def test_direct_urls(storage: Storage, tmp_path: Path) -> None:
    data = theme_zip()
    path, key = _file(tmp_path, data)
    storage.put(key, path)
    url = storage.presigned_url(key, expires=60, filename="jannah-1.0.0.zip")
    if isinstance(storage, LocalStorage):
        assert url is None and storage.local_path(key) == tmp_path / "releases" / key
        return
    assert isinstance(storage, S3Storage) and storage.local_path(key) is None
    assert url is not None
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200 and fetched.content == data
    assert "jannah-1.0.0.zip" in fetched.headers["Content-Disposition"]


def test_s3_download_redirects_to_a_presigned_url(
    database_url: str,
    tmp_path: Path,
    s3_bucket: tuple[str, str],  # noqa: F811
) -> None:
    endpoint, bucket = s3_bucket
    app: Flask = make_app(
        database_url,
        tmp_path / "instance",
        RELEASE_STORAGE=f"s3://{bucket}/packages",
        S3_ENDPOINT_URL=endpoint,
    )
    from tests.conftest import create_license, create_product, new_vendor

    client = app.test_client()
    vendor = new_vendor(app)
    product: dict[str, Any] = create_product(client, vendor)
    license = create_license(client, vendor)
    activate(client, license["key"])
    release = publish(client, vendor, product["id"], "1.1.0")
    answer = check(client, license["key"])
    response = fetch(client, answer["package"])
    assert response.status_code == 302
    assert response.headers["Location"].startswith(endpoint + f"/{bucket}/packages/")
    assert response.headers["x-content-signature"] == release["signature"]
    fetched = requests.get(response.headers["Location"], timeout=10)
    assert fetched.content == theme_zip("jannah", "1.1.0")
    with app.app_context():
        from license_server.extensions import db

        db.engine.dispose()
