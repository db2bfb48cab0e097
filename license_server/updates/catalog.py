"""A product's offerable releases as the update check reads them (cached per process).

A few queries per product per ``CACHE_TTL`` seconds: the published, not yanked
releases newest first, the versions that were yanked, the product's update
settings, and whether any of its licences has update rules. A commit of a release,
settings or rules change in this process, on this app's database, drops the app's
caches at once (:func:`watch`, routed by engine like the runtime's own watch).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, exists, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from license_server.extensions import db
from license_server.models import (
    License,
    LicenseUpdateRule,
    ProductUpdateSettings,
    Release,
)
from license_server.runtime.caches import Caches, TTLCache
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
    # whether any licence of the product has update rules: when none has, the
    # check skips reading them (the common case costs no extra query)
    has_rules: bool
    # rendered once per load: the plugins_api sections
    description_html: str = ""
    installation_html: str = ""
    changelog_html: dict[str, str] | None = None

    def changelog(self, channel: str) -> str:
        """Return the notes of the newest releases a site on ``channel`` sees."""
        return (self.changelog_html or {}).get(channel, "")


_STALE = "license_server.updates.stale"
_WATCHED: weakref.WeakKeyDictionary[Engine, Caches] = weakref.WeakKeyDictionary()
_MODELS = (Release, ProductUpdateSettings, LicenseUpdateRule)
_lock = threading.Lock()
_installed = False


def watch(engine: Engine, caches: Caches) -> None:
    """Invalidate ``caches`` at every commit on ``engine`` that changes releases."""
    global _installed
    with _lock:
        _WATCHED[engine] = caches
        if not _installed:
            event.listen(Session, "after_flush", _after_flush)
            event.listen(Session, "after_commit", _after_commit)
            _installed = True


def _after_flush(session: Session, _context: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, _MODELS) for obj in changed):
        session.info[_STALE] = True


def _after_commit(session: Session) -> None:
    if not session.info.pop(_STALE, False):
        return
    bind = session.get_bind()
    caches = _WATCHED.get(getattr(bind, "engine", bind))  # type: ignore[arg-type]
    if caches is not None:
        caches.invalidate()


def load(catalogs: TTLCache[Any, Catalog], product_id: uuid.UUID) -> Catalog:
    """Return the product's catalog, from the cache or a few reads."""
    found = catalogs.get(product_id)
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
    has_rules = bool(
        db.session.scalar(
            select(
                exists().where(
                    LicenseUpdateRule.license_id == License.id,
                    License.product_id == product_id,
                )
            )
        )
    )
    db.session.rollback()  # end the read; the check holds no transaction
    found = Catalog(
        tuple(offered),
        frozenset(yanked),
        settings,
        has_rules,
        markdown.render(settings.description),
        markdown.render(settings.installation),
        {channel: _notes(offered, channel) for channel in ("stable", "beta")},
    )
    return catalogs.put(product_id, found)


def _notes(releases: list[ReleaseInfo], channel: str) -> str:
    shown = [r for r in releases if channel == "beta" or r.channel == "stable"]
    return "".join(f"<h4>{r.version}</h4>\n{r.changelog_html}" for r in shown[:20])
