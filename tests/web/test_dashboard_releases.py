"""Releases, the EDD mapping and the overview's new numbers, through the test client."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server.extensions import db
from license_server.models import EddItem, Event, Release
from license_server.models.users import StaffUser
from tests.conftest import VendorFixture, create_product, make_app, public_call
from tests.server.updates_support import activate, check, fetch, publish, theme_zip
from tests.web.conftest import Staff, signed_in


def _multipart(fields: dict[str, str], package: bytes) -> tuple[bytes, str]:
    """Encode a form with a file ourselves (the test client spools big bodies)."""
    boundary = "----dashboard-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        f"{value}\r\n".encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="package"; '
        f'filename="jannah.zip"\r\nContent-Type: application/zip\r\n\r\n'.encode()
        + package
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _upload(owner: Staff, product_id: str, version: str, data: bytes) -> Any:
    fields = {
        "csrf_token": owner.csrf(),
        "version": version,
        "channel": "stable",
        "changelog": "* Faster **menus**",
    }
    body, content_type = _multipart(fields, data)
    return owner.client.post(
        f"/dashboard/products/{product_id}/releases",
        data=body,
        content_type=content_type,
    )


def _release(app: Flask, version: str) -> Release | None:
    with app.app_context():
        found = db.session.scalar(select(Release).where(Release.version == version))
        if found is not None:
            db.session.expunge(found)
        return found


def _actors(app: Flask, prefix: str) -> dict[str, str]:
    with app.app_context():
        rows = db.session.execute(
            select(Event.action, Event.actor).where(Event.action.like(prefix + "%"))
        )
        return {action: actor for action, actor in rows}


def _user_actor(app: Flask, role: str) -> str:
    with app.app_context():
        user = db.session.scalars(select(StaffUser).where(StaffUser.role == role)).one()
        return f"user:{user.id}"


def test_owner_uploads_publishes_and_yanks(
    app: Flask, client: FlaskClient, product: dict[str, Any], owner: Staff, license: Any
) -> None:
    response = _upload(owner, product["id"], "1.1.0", theme_zip("jannah", "1.1.0"))
    assert response.status_code == 302
    release = _release(app, "1.1.0")
    assert release is not None and release.sha256 and release.signature
    assert release.published_at is None
    page = owner.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "unpublished" in page and "<strong>menus</strong>" in page
    activate(client, license["key"])
    assert check(client, license["key"])["update_available"] is False
    path = f"/dashboard/releases/{release.id}"
    assert owner.post(f"{path}/publish").status_code == 302
    assert check(client, license["key"])["new_version"] == "1.1.0"
    listing = owner.client.get(f"/dashboard/products/{product['id']}/releases")
    assert re.search(
        r"1\.1\.0</a>.*?badge published", listing.get_data(as_text=True), re.S
    )
    asked = owner.post(f"{path}/yank")
    assert asked.status_code == 200 and "Yes, yank 1.1.0" in asked.get_data(
        as_text=True
    )
    assert _release(app, "1.1.0").yanked_at is None  # type: ignore[union-attr]
    done = owner.post(f"{path}/yank", {"confirm": "yes", "reason": "broke menus"})
    assert done.status_code == 302
    yanked = _release(app, "1.1.0")
    assert yanked and yanked.yanked_at and yanked.yank_reason == "broke menus"
    assert check(client, license["key"])["update_available"] is False
    actor = _user_actor(app, "owner")
    assert _actors(app, "release.") == {
        "release.created": actor,
        "release.package_uploaded": actor,
        "release.published": actor,
        "release.yanked": actor,
    }


def test_unpublish_and_publish_again(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: Any, owner: Staff
) -> None:
    release = publish(client, vendor, product["id"], "2.0.0")
    path = f"/dashboard/releases/{release['id']}"
    assert owner.post(f"{path}/unpublish").status_code == 302
    assert _release(app, "2.0.0").published_at is None  # type: ignore[union-attr]
    assert "badge unpublished" in owner.client.get(path).get_data(as_text=True)
    assert owner.post(f"{path}/publish").status_code == 302
    assert _release(app, "2.0.0").published_at is not None  # type: ignore[union-attr]


def test_a_bad_zip_keeps_a_draft_and_says_why(
    app: Flask, product: dict[str, Any], owner: Staff
) -> None:
    response = _upload(owner, product["id"], "1.2.0", theme_zip("other-folder"))
    assert response.status_code == 302
    page = owner.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "was refused" in page and "jannah/" in page and "badge draft" in page
    draft = _release(app, "1.2.0")
    assert draft is not None and draft.storage_key is None
    assert owner.post(f"/dashboard/releases/{draft.id}/publish").status_code == 409
    body, content_type = _multipart(
        {"csrf_token": owner.csrf()}, theme_zip("jannah", "1.2.0")
    )
    again = owner.client.post(
        f"/dashboard/releases/{draft.id}/package", data=body, content_type=content_type
    )
    assert again.status_code == 302
    assert _release(app, "1.2.0").storage_key  # type: ignore[union-attr]


def test_a_form_without_a_file_or_with_a_taken_version_is_refused(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: Any, owner: Staff
) -> None:
    path = f"/dashboard/products/{product['id']}/releases"
    missing = owner.post(path, {"version": "3.0.0"})
    assert missing.status_code == 422
    assert "Choose the theme" in missing.get_data(as_text=True)
    assert _release(app, "3.0.0") is None
    bad = _upload(owner, product["id"], "not a version", theme_zip())
    assert bad.status_code == 422 and _release(app, "not a version") is None
    publish(client, vendor, product["id"], "3.1.0")
    taken = _upload(owner, product["id"], "3.1.0", theme_zip())
    assert taken.status_code == 409
    assert "already has a release" in taken.get_data(as_text=True)


def test_upload_over_the_limit_is_refused(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path / "instance", RELEASE_MAX_BYTES=4096)
    client = app.test_client()
    from tests.conftest import new_vendor

    vendor = new_vendor(app)
    product = create_product(client, vendor)
    owner = signed_in(app, vendor, "owner")
    big = theme_zip("jannah", filler=64 * 1024)
    response = _upload(owner, product["id"], "1.0.1", big)
    assert response.status_code == 302  # the draft is kept; the package refused
    page = owner.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "larger than this server accepts" in page
    assert _release(app, "1.0.1").storage_key is None  # type: ignore[union-attr]
    # a body far past the limit is refused before the form is read
    huge = theme_zip("jannah", filler=2 * 1024 * 1024)
    refused = _upload(owner, product["id"], "1.0.2", huge)
    assert refused.status_code == 413 and _release(app, "1.0.2") is None
    with app.app_context():
        db.engine.dispose()


def test_notes_preview_is_sanitised_and_not_saved(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: Any, owner: Staff
) -> None:
    release = publish(client, vendor, product["id"], "4.0.0", publish=False)
    path = f"/dashboard/releases/{release['id']}/notes"
    text = "## New\n\n* **bold** <script>alert(1)</script>"
    preview = owner.post(path, {"changelog": text, "action": "preview"})
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "<strong>bold</strong>" in body
    assert "<script>alert" not in body and "preview, not saved" in body
    assert _release(app, "4.0.0").changelog == ""  # type: ignore[union-attr]
    saved = owner.post(path, {"changelog": text, "requires": "6.1", "action": "save"})
    assert saved.status_code == 302
    stored = _release(app, "4.0.0")
    assert stored and stored.changelog == text and stored.requires == "6.1"


@pytest.mark.parametrize("role", ["support", "viewer"])
def test_only_owners_change_releases(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: Any,
    role: str,
) -> None:
    release = publish(client, vendor, product["id"], "5.0.0", publish=False)
    staff = signed_in(app, vendor, role)
    listing = staff.client.get(f"/dashboard/products/{product['id']}/releases")
    assert listing.status_code == 200 and "5.0.0" in listing.get_data(as_text=True)
    assert "New release" not in listing.get_data(as_text=True)
    page = staff.client.get(f"/dashboard/releases/{release['id']}")
    assert page.status_code == 200 and "Publish" not in page.get_data(as_text=True)
    base = f"/dashboard/releases/{release['id']}"
    for path, form in (
        (f"{base}/publish", {}),
        (f"{base}/yank", {"confirm": "yes"}),
        (f"{base}/notes", {"changelog": "x", "action": "save"}),
        (f"/dashboard/products/{product['id']}/releases", {"version": "9.9.9"}),
    ):
        assert staff.post(path, form).status_code == 403, path
    stored = _release(app, "5.0.0")
    assert stored and stored.published_at is None and stored.changelog == ""
    assert _release(app, "9.9.9") is None


def test_upload_without_csrf_is_refused(
    app: Flask, product: dict[str, Any], owner: Staff
) -> None:
    body, content_type = _multipart({"version": "6.0.0"}, theme_zip())
    response = owner.client.post(
        f"/dashboard/products/{product['id']}/releases",
        data=body,
        content_type=content_type,
    )
    assert response.status_code == 400
    assert _release(app, "6.0.0") is None


def test_owner_edits_the_edd_mapping(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: Any, owner: Staff
) -> None:
    path = f"/dashboard/products/{product['id']}/edd"
    form = {"item_ids": "1234, 77", "item_names": "Jannah Theme\nJannah Pro"}
    assert owner.post(path, form).status_code == 302
    page = owner.client.get(f"/dashboard/products/{product['id']}")
    text = page.get_data(as_text=True)
    assert "77, 1234" in text  # names of one save share a time: any order
    assert re.search(r"<dd>Jannah (Theme; Jannah Pro|Pro; Jannah Theme)</dd>", text)
    answer = client.get(
        f"/v1/admin/products/{product['id']}/edd", headers=vendor.headers
    ).get_json()
    assert answer["item_ids"] == [77, 1234]
    assert _actors(app, "product.edd")["product.edd_items_set"] == _user_actor(
        app, "owner"
    )
    bad = owner.post(path, {"item_ids": "12x", "item_names": ""})
    assert bad.status_code == 422 and "is not a number" in bad.get_data(as_text=True)
    other = create_product(client, vendor, slug="other", name="Other", key_prefix="OT")
    taken = owner.post(
        f"/dashboard/products/{other['id']}/edd", {"item_ids": "77", "item_names": ""}
    )
    assert taken.status_code == 409
    assert "already answers" in taken.get_data(as_text=True)
    with app.app_context():
        rows = db.session.scalars(
            select(EddItem.item_id).where(
                EddItem.product_id == uuid.UUID(product["id"])
            )
        ).all()
    assert sorted(i for i in rows if i) == [77, 1234]


def test_viewer_cannot_edit_the_edd_mapping(
    app: Flask, vendor: VendorFixture, product: Any
) -> None:
    viewer = signed_in(app, vendor, "viewer")
    page = viewer.client.get(f"/dashboard/products/{product['id']}")
    assert "Save the EDD mapping" not in page.get_data(as_text=True)
    path = f"/dashboard/products/{product['id']}/edd"
    assert viewer.post(path, {"item_ids": "5", "item_names": ""}).status_code == 403
    with app.app_context():
        assert db.session.scalars(select(EddItem)).all() == []


def test_overview_shows_validations_by_code_and_update_stats(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: Any, license: Any
) -> None:
    activate(client, license["key"])
    release = publish(client, vendor, product["id"], "1.1.0")
    for domain in ("example.com", "example.com", "elsewhere.com"):
        public_call(
            client,
            "validate",
            license_key=license["key"],
            domain=domain,
            product="jannah",
        )
    answer = check(client, license["key"], wp_version="6.5.2", php_version="8.2.1")
    fetch(client, answer["package"])
    viewer = signed_in(app, vendor, "viewer")
    today = datetime.now(UTC).date().isoformat()
    by_code = viewer.client.get("/dashboard/overview/validations_by_code.csv")
    lines = by_code.get_data(as_text=True).splitlines()
    assert lines[0] == "date,DOMAIN_NOT_ACTIVATED,VALID"
    assert f"{today},1,2" in lines
    downloads = viewer.client.get("/dashboard/overview/downloads.csv")
    assert "jannah,1.1.0,1" in downloads.get_data(as_text=True)
    php = viewer.client.get("/dashboard/overview/php.csv").get_data(as_text=True)
    assert "jannah,8.2,1,100.0" in php
    page = viewer.client.get("/dashboard/").get_data(as_text=True)
    assert "by result code" in page and "PHP versions" in page
    assert "Package downloads per release" in page
    assert release["version"] in page


def test_only_a_signed_in_owner_may_send_a_package_sized_body(
    app: Flask, vendor: VendorFixture, product: dict[str, Any], owner: Staff
) -> None:
    body, content_type = _multipart({"version": "7.0.0"}, theme_zip(filler=200_000))
    path = f"/dashboard/products/{product['id']}/releases"
    stranger = app.test_client()
    refused = stranger.post(path, data=body, content_type=content_type)
    assert refused.status_code == 413
    support = signed_in(app, vendor, "support")
    fields = {"csrf_token": support.csrf(), "version": "7.0.0"}
    body, content_type = _multipart(fields, theme_zip(filler=200_000))
    refused = support.client.post(path, data=body, content_type=content_type)
    assert refused.status_code == 413
    assert _release(app, "7.0.0") is None
    fields = {"csrf_token": owner.csrf(), "version": "7.0.0"}
    body, content_type = _multipart(fields, theme_zip(filler=200_000))
    accepted = owner.client.post(path, data=body, content_type=content_type)
    assert accepted.status_code == 302
    assert _release(app, "7.0.0").size > 200_000  # type: ignore[union-attr]


def test_owner_deletes_a_release_never_published_after_confirming(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: Any, owner: Staff
) -> None:
    from license_server import updates

    _upload(owner, product["id"], "7.0.0", theme_zip("jannah", "7.0.0"))
    release = _release(app, "7.0.0")
    assert release is not None and release.storage_key
    key = release.storage_key
    path = f"/dashboard/releases/{release.id}"
    page = owner.client.get(path).get_data(as_text=True)
    assert f'action="{path}/delete"' in page
    asked = owner.post(f"{path}/delete")
    assert asked.status_code == 200
    assert "Yes, delete" in asked.get_data(as_text=True)
    assert _release(app, "7.0.0") is not None  # not before the confirmation
    assert owner.client.post(f"{path}/delete", data={"confirm": "yes"}).status_code == (
        400  # no CSRF token
    )
    deleted = owner.post(f"{path}/delete", {"confirm": "yes"})
    assert deleted.status_code == 302
    assert deleted.headers["Location"].endswith(
        f"/dashboard/products/{product['id']}/releases"
    )
    assert _release(app, "7.0.0") is None
    with app.app_context():
        assert not updates.of(app).storage.exists(key)
    assert _actors(app, "release.deleted") == {
        "release.deleted": _user_actor(app, "owner")
    }
    # the version is free again
    again = _upload(owner, product["id"], "7.0.0", theme_zip("jannah", "7.0.0"))
    assert again.status_code == 302 and _release(app, "7.0.0") is not None


def test_a_published_release_cannot_be_deleted_and_only_owners_delete(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: Any, owner: Staff
) -> None:
    published = publish(client, vendor, product["id"], "8.0.0")
    path = f"/dashboard/releases/{published['id']}"
    assert f'action="{path}/delete"' not in owner.client.get(path).get_data(
        as_text=True
    )
    refused = owner.post(f"{path}/delete", {"confirm": "yes"})
    assert refused.status_code == 302
    assert "cannot be deleted" in owner.client.get(path).get_data(as_text=True)
    assert _release(app, "8.0.0") is not None
    draft = publish(client, vendor, product["id"], "8.1.0", publish=False)
    support = signed_in(app, vendor, "support")
    forbidden = support.post(
        f"/dashboard/releases/{draft['id']}/delete", {"confirm": "yes"}
    )
    assert forbidden.status_code == 403
    assert _release(app, "8.1.0") is not None
