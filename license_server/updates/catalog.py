"""A product's offerable releases as the update check reads them (cached per process).

One query per product per ``CACHE_TTL`` seconds: the published, not yanked
releases newest first, the versions that were yanked, and the product's update
settings. A commit of a release or settings change in this process drops the cache
at once (:func:`license_server.cache.invalidate`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from license_server import cache
from license_server.extensions import db
from license_server.models import ProductUpdateSettings, Release
from license_server.updates import markdown
from license_server.updates.settings import UpdateSettings, snapshot
from license_server.updates.versions import sort_key


@dataclass(frozen=True)
class ReleaseInfo:
    """One published release, as an update answer needs it."""

    id: uuid.UUID
    version: str
    channel: str
    published_at: datetime
    requires: str | None
    requires_php: str | None
    tested: str | None
    rollout_percent: int | None
    sha384: str
    changelog_html: str


@dataclass(frozen=True)
class Catalog:
    """A product's releases (newest first), yanked versions and settings."""

    releases: tuple[ReleaseInfo, ...]
    yanked: frozenset[str]
    settings: UpdateSettings


def _caches() -> cache.TTLCache[uuid.UUID, Catalog]:
    found: cache.TTLCache[uuid.UUID, Catalog] | None = current_app.extensions.get(
        "release_catalog"
    )
    if found is None:
        ttl = float(current_app.config.get("CACHE_TTL", 5))
        found = current_app.extensions["release_catalog"] = cache.TTLCache(ttl)
    return found


def load(product_id: uuid.UUID) -> Catalog:
    """Return the product's catalog, from the cache or one read."""
    caches = _caches()
    found = caches.get(product_id)
    if found is not None:
        return found
    rows = db.session.scalars(select(Release).where(Release.product_id == product_id))
    offered: list[ReleaseInfo] = []
    yanked: set[str] = set()
    for row in rows:
        if row.yanked_at is not None:
            yanked.add(row.version)
        elif row.published_at is not None and row.sha384 is not None:
            offered.append(
                ReleaseInfo(
                    id=row.id,
                    version=row.version,
                    channel=row.channel,
                    published_at=row.published_at,
                    requires=row.requires,
                    requires_php=row.requires_php,
                    tested=row.tested,
                    rollout_percent=row.rollout_percent,
                    sha384=row.sha384,
                    changelog_html=markdown.render(row.changelog),
                )
            )
    offered.sort(key=lambda r: sort_key(r.version), reverse=True)
    settings = snapshot(db.session.get(ProductUpdateSettings, product_id))
    db.session.rollback()  # end the read; the check holds no transaction
    return caches.put(product_id, Catalog(tuple(offered), frozenset(yanked), settings))
