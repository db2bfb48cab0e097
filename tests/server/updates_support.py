"""Helpers for the update tests: theme ZIPs, releases through the admin API."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from license_server.extensions import db
from license_server.models import Release
from tests.conftest import VendorFixture, public_call

ADMIN = "/v1/admin"


def theme_zip(slug: str = "jannah", version: str = "1.0.0", filler: int = 0) -> bytes:
    """Return a small theme ZIP whose top folder is ``slug`` (same bytes each call)."""
    buffer = io.BytesIO()
    stamp = (2026, 12, 1, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo(f"{slug}/style.css", stamp),
            f"/*\nTheme Name: {slug}\nVersion: {version}\n*/\n",
        )
        archive.writestr(zipfile.ZipInfo(f"{slug}/index.php", stamp), "<?php //\n")
        if filler:
            archive.writestr(
                zipfile.ZipInfo(f"{slug}/filler.bin", stamp),
                bytes(range(256)) * (filler // 256),
                compress_type=zipfile.ZIP_STORED,
            )
    return buffer.getvalue()


def publish(
    client: FlaskClient,
    vendor: VendorFixture,
    product_id: str,
    version: str,
    *,
    slug: str = "jannah",
    publish: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    """Create, upload and (by default) publish a release; return its JSON."""
    response = client.post(
        f"{ADMIN}/products/{product_id}/releases",
        json={"version": version, **fields},
        headers=vendor.headers,
    )
    assert response.status_code == 201, response.get_json()
    release: dict[str, Any] = response.get_json()
    response = client.put(
        f"{ADMIN}/releases/{release['id']}/package",
        data=theme_zip(slug, version),
        headers={**vendor.headers, "Content-Type": "application/zip"},
    )
    assert response.status_code == 200, response.get_json()
    release = response.get_json()
    if publish:
        response = client.post(
            f"{ADMIN}/releases/{release['id']}/publish", headers=vendor.headers
        )
        assert response.status_code == 200, response.get_json()
        release = response.get_json()
    return release


def set_published_at(app: Flask, release_id: str, moment: datetime) -> None:
    """Move a release's publication date (to test ``updates_until``)."""
    import uuid

    with app.app_context():
        db.session.execute(
            update(Release)
            .where(Release.id == uuid.UUID(release_id))
            .values(published_at=moment)
        )
        db.session.commit()
    from license_server.runtime import of

    of(app).caches.invalidate()  # a bulk UPDATE passes no ORM flush to watch


def activate(client: FlaskClient, key: str, domain: str = "example.com") -> None:
    """Activate ``domain`` on a licence of jannah."""
    status, body = public_call(
        client, "activate", license_key=key, domain=domain, product="jannah"
    )
    assert status in (200, 201), body


def check(client: FlaskClient, key: str, **fields: Any) -> dict[str, Any]:
    """POST /v1/updates/check for jannah on example.com; return the JSON."""
    body = {
        "license_key": key,
        "domain": "example.com",
        "product": "jannah",
        "version": "1.0.0",
        **fields,
    }
    response = client.post("/v1/updates/check", json=body)
    assert response.status_code == 200, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def fetch(client: FlaskClient, url: str, **kwargs: Any) -> Any:
    """GET ``url``, read the body and close the response (files are streamed)."""
    response = client.get(url, **kwargs)
    response.get_data()
    response.close()
    return response
