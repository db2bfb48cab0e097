"""Releases through the admin API: create, upload, publish, yank, edit, delete.

One transaction per use case, committed at its end; every change is an event in
the vendor's chain. A commit drops this app's caches
(:func:`license_server.updates.catalog.watch`), so this process's update checks see
a new or yanked release at once and other processes within ``CACHE_TTL`` seconds.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from license_server import errors
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import Channel, Product, Release
from license_server.services import common
from license_server.services.products import get_product
from license_server.updates import packages, release_keys
from license_server.updates.storage import Storage, content_key
from license_server.updates.versions import sort_key

VERSION = re.compile(r"^[0-9][0-9A-Za-z.+_-]{0,63}$")
_EDITABLE = ("changelog", "requires", "requires_php", "tested", "rollout_percent")


class ReleaseExists(errors.APIError):
    status_code, code, message = (
        409,
        "RELEASE_EXISTS",
        "This product already has a release with this version.",
    )


class ReleaseState(errors.APIError):
    status_code, code, message = (
        409,
        "INVALID_RELEASE_STATE",
        "The release is not in a state that allows this.",
    )


def _field_error(field: str, message: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(detail={"fields": {field: [message]}})


def check_version(version: str) -> str:
    """Return ``version`` if it is a version WordPress can compare, else 422."""
    if not VERSION.match(version):
        raise _field_error(
            "version", "Use digits, letters and . + _ - only, starting with a digit."
        )
    return version


def _snapshot(release: Release) -> dict[str, Any]:
    return {name: getattr(release, name) for name in _EDITABLE}


def _record(
    keyring: Keyring,
    release: Release,
    action: str,
    actor: str,
    now: datetime,
    **data: Any,
) -> None:
    common.record_event(
        keyring=keyring,
        vendor_id=release.vendor_id,
        actor=actor,
        action=action,
        subject_type="release",
        subject_id=release.id,
        data={"version": release.version, "channel": release.channel, **data},
        now=now,
    )


def _commit() -> None:
    db.session.commit()


def get_release(*, vendor_id: uuid.UUID, release_id: uuid.UUID) -> Release:
    """Return one of the vendor's releases, or 404."""
    release = db.session.scalar(
        select(Release).where(Release.vendor_id == vendor_id, Release.id == release_id)
    )
    if release is None:
        raise errors.NotFound("No such release.")
    return release


def list_releases(*, vendor_id: uuid.UUID, product_id: uuid.UUID) -> list[Release]:
    """Return a product's releases, newest version first."""
    get_product(vendor_id=vendor_id, product_id=product_id)
    found = db.session.scalars(
        select(Release).where(
            Release.vendor_id == vendor_id, Release.product_id == product_id
        )
    )
    return sorted(found, key=lambda r: sort_key(r.version), reverse=True)


def create_release(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    product_id: uuid.UUID,
    version: str,
    channel: str = Channel.STABLE,
    changelog: str = "",
    requires: str | None = None,
    requires_php: str | None = None,
    tested: str | None = None,
    rollout_percent: int | None = None,
    actor: str,
    now: datetime,
) -> Release:
    """Create a draft release (no package yet, unpublished)."""
    product = get_product(vendor_id=vendor_id, product_id=product_id)
    check_version(version)
    taken = db.session.scalar(
        select(Release.id).where(
            Release.product_id == product.id, Release.version == version
        )
    )
    if taken is not None:
        raise ReleaseExists(detail={"version": version})
    release = Release(
        vendor_id=vendor_id,
        product_id=product.id,
        version=version,
        channel=channel,
        changelog=changelog or "",
        requires=requires,
        requires_php=requires_php,
        tested=tested,
        rollout_percent=rollout_percent,
        created_at=now,
        updated_at=now,
    )
    db.session.add(release)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a concurrent create of the same version
        db.session.rollback()
        raise ReleaseExists(detail={"version": version}) from exc
    _record(keyring, release, "release.created", actor, now)
    _commit()
    return release


def attach_package(
    *,
    keyring: Keyring,
    storage: Storage,
    vendor_id: uuid.UUID,
    release_id: uuid.UUID,
    stream: IO[bytes],
    limit: int,
    actor: str,
    now: datetime,
) -> Release:
    """Stream the release's ZIP in, check it, store it and sign its SHA-384."""
    release = get_release(vendor_id=vendor_id, release_id=release_id)
    if release.first_published_at is not None:
        raise ReleaseState("A published release's package cannot change.")
    product = db.session.get(Product, release.product_id)
    assert product is not None  # noqa: S101 - a foreign key guarantees it
    slug = product.slug
    received = packages.receive(stream, limit=limit)
    try:
        packages.check_zip(received.path, slug)
        key = content_key(received.sha256)
        storage.put(key, received.path)
    finally:
        received.path.unlink(missing_ok=True)
    signer = release_keys.active_key(
        keyring=keyring, vendor_id=vendor_id, actor=actor, now=now
    )
    release.storage_key = key
    release.sha256 = received.sha256
    release.sha384 = received.sha384.hex()
    release.size = received.size
    release.signature = release_keys.sign_digest(keyring, signer, received.sha384)
    release.signature_kid = signer.kid
    release.updated_at = now
    _record(
        keyring,
        release,
        "release.package_uploaded",
        actor,
        now,
        sha256=received.sha256,
        size=received.size,
        kid=signer.kid,
    )
    _commit()
    return release


def publish(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    release_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> Release:
    """Publish a release: update checks may offer it from now on."""
    release = get_release(vendor_id=vendor_id, release_id=release_id)
    if release.yanked_at is not None:
        raise ReleaseState("A yanked release is never published again.")
    if release.storage_key is None:
        raise ReleaseState("Upload the package before publishing.")
    if release.published_at is None:
        release.published_at = now
        release.first_published_at = release.first_published_at or now
        release.updated_at = now
        _record(keyring, release, "release.published", actor, now)
    _commit()
    return release


def unpublish(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    release_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> Release:
    """Stop offering a release (it can be published again, unlike a yank)."""
    release = get_release(vendor_id=vendor_id, release_id=release_id)
    if release.published_at is not None:
        release.published_at = None
        release.updated_at = now
        _record(keyring, release, "release.unpublished", actor, now)
    _commit()
    return release


def yank(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    release_id: uuid.UUID,
    reason: str | None,
    actor: str,
    now: datetime,
) -> Release:
    """Withdraw a release for good; sites on it are offered the newest good one."""
    release = get_release(vendor_id=vendor_id, release_id=release_id)
    if release.yanked_at is None:
        release.yanked_at = now
        release.yank_reason = reason
        release.published_at = None
        release.updated_at = now
        _record(keyring, release, "release.yanked", actor, now, reason=reason)
    _commit()
    return release


def update_release(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    release_id: uuid.UUID,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
) -> Release:
    """Edit a release's notes, requirements or rollout."""
    release = get_release(vendor_id=vendor_id, release_id=release_id)
    before = _snapshot(release)
    for name in _EDITABLE:
        if name in changes:
            setattr(release, name, changes[name])
    release.updated_at = now
    common.record_change(
        keyring=keyring,
        vendor_id=vendor_id,
        actor=actor,
        action="release.updated",
        subject_type="release",
        subject_id=release.id,
        before=before,
        after=_snapshot(release),
        now=now,
    )
    _commit()
    return release


def delete_release(
    *,
    keyring: Keyring,
    storage: Storage,
    vendor_id: uuid.UUID,
    release_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> None:
    """Delete a release that was never published (a published one can be yanked)."""
    release = get_release(vendor_id=vendor_id, release_id=release_id)
    if release.first_published_at is not None:
        raise ReleaseState("A release that was published cannot be deleted; yank it.")
    key = release.storage_key
    _record(keyring, release, "release.deleted", actor, now)
    db.session.delete(release)
    _commit()
    if key is not None:
        shared = db.session.scalar(select(Release.id).where(Release.storage_key == key))
        if shared is None:
            storage.delete(key)
