"""Which release a site is offered, and why not a newer one (pure; docs/UPDATES.md §2).

Rules, in order, for each release newer than the installed version (newest first):

1. the licence is VALID on this domain (the validate decision) — else no package;
2. the release was published on or before ``updates_until`` (none: forever);
3. the release is at most the licence's ``max_version`` (if set);
4. ``requires_php`` / ``requires`` are met by the versions the site reported
   (a version it did not report passes);
5. staged rollout: a stable hash of (licence, release) falls inside the release's
   (else the product's) percentage — outside, the release is invisible to the site.

The first release that passes 2–4 is offered. The reason is the first rule the
newest release failed.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from license_server.models import Channel
from license_server.updates.catalog import ReleaseInfo
from license_server.updates.versions import newer, version_compare


class Reason(enum.StrEnum):
    """Why a newer release is not offered with a package (besides licence codes)."""

    UPDATES_EXPIRED = "UPDATES_EXPIRED"
    VERSION_NOT_COVERED = "VERSION_NOT_COVERED"
    PHP_TOO_OLD = "PHP_TOO_OLD"
    WP_TOO_OLD = "WP_TOO_OLD"


@dataclass(frozen=True)
class Request:
    """What the site reported, and what the licence allows."""

    installed: str
    channel: str
    licence_code: str  # the validate result code
    updates_until: datetime | None
    max_version: str | None
    channels: Sequence[str]
    wp_version: str | None
    php_version: str | None
    rollout_subject: bytes  # the licence id (or the domain, without a licence)
    default_rollout: int


@dataclass(frozen=True)
class Choice:
    """The release to offer (``target``), the newest visible one, and why not it."""

    target: ReleaseInfo | None
    latest: ReleaseInfo | None
    reason: str | None
    channel: str
    params: dict[str, str] = field(default_factory=dict)


def in_rollout(subject: bytes, release_id: uuid.UUID, percent: int) -> bool:
    """Return whether a licence is inside a release's staged rollout (stable)."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    digest = hashlib.sha256(b"rollout\0" + subject + release_id.bytes).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def _failure(
    release: ReleaseInfo, request: Request
) -> tuple[str, dict[str, str]] | None:
    until = request.updates_until
    if until is not None and release.published_at > until:
        return Reason.UPDATES_EXPIRED, {"date": until.date().isoformat()}
    cap = request.max_version
    if cap is not None and version_compare(release.version, cap) > 0:
        return Reason.VERSION_NOT_COVERED, {"max_version": cap}
    php = request.php_version
    if php and release.requires_php and version_compare(php, release.requires_php) < 0:
        return Reason.PHP_TOO_OLD, {"required": release.requires_php, "reported": php}
    wp = request.wp_version
    if wp and release.requires and version_compare(wp, release.requires) < 0:
        return Reason.WP_TOO_OLD, {"required": release.requires, "reported": wp}
    return None


def choose(
    releases: Sequence[ReleaseInfo], yanked: frozenset[str], request: Request
) -> Choice:
    """Apply the rules to a product's releases (newest first)."""
    channel = Channel.STABLE.value
    visible = {Channel.STABLE.value}
    if request.channel == Channel.BETA and Channel.BETA in request.channels:
        channel = Channel.BETA.value
        visible.add(Channel.BETA.value)
    on_yanked = request.installed in yanked
    candidates = [
        release
        for release in releases
        if release.channel in visible
        and (
            newer(release.version, request.installed)
            or (on_yanked and release.version != request.installed)
        )
        and in_rollout(
            request.rollout_subject,
            release.id,
            release.rollout_percent
            if release.rollout_percent is not None
            else request.default_rollout,
        )
    ]
    if not candidates:
        return Choice(None, None, None, channel)
    latest = candidates[0]
    if request.licence_code != "VALID":
        return Choice(None, latest, request.licence_code, channel)
    first: tuple[str, dict[str, str]] | None = None
    for release in candidates:
        failure = _failure(release, request)
        if failure is None:
            reason, params = first if first is not None else (None, {})
            return Choice(release, latest, reason, channel, params)
        first = first or failure
    assert first is not None  # noqa: S101 - candidates is not empty
    return Choice(None, latest, first[0], channel, first[1])
