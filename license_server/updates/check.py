"""The update check (``POST /v1/updates/check``) and the PUC metadata, one use case.

Reads: the validate decision (one query, :mod:`~license_server.updates.entitlement`),
the product's release catalog (cached), and the licence's update rules (one
primary-key read, only for a valid licence). Writes nothing per request: last-seen,
the versions a site reports and stats go to per-process buffers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from license_server import keys
from license_server.keyring import Keyring
from license_server.runtime import Runtime
from license_server.runtime.siteversions import Reported
from license_server.updates import (
    UpdateRuntime,
    catalog,
    downloads,
    entitlement,
    rules,
    stats,
)
from license_server.updates import settings as update_settings

REASONS = {
    "NOT_FOUND": "This license key is not recognised, so updates cannot be "
    "downloaded. Check the key in the theme's license settings.",
    "PRODUCT_MISMATCH": "This license key is for another product, so it does not "
    "unlock updates for {name}.",
    "REVOKED": "This license has been revoked, so updates are not available. "
    "Please contact the seller.",
    "SUSPENDED": "This license is suspended, so updates are paused. "
    "Please contact the seller.",
    "EXPIRED": "This license has expired. Renew it to receive updates.",
    "DOMAIN_NOT_ACTIVATED": "This license is not activated on this site. Activate "
    "it in the theme's license settings to receive updates.",
    "UPDATES_EXPIRED": "Your license's update period ended on {date}; version "
    "{version} came out after that. Renew your license to get it.",
    "VERSION_NOT_COVERED": "Your license covers versions up to {max_version}; "
    "version {version} needs an upgraded license.",
    "PHP_TOO_OLD": "Version {version} needs PHP {required} or newer; this site runs "
    "PHP {reported}. Ask your host to upgrade PHP.",
    "WP_TOO_OLD": "Version {version} needs WordPress {required} or newer; this site "
    "runs WordPress {reported}. Update WordPress first.",
}


@dataclass(frozen=True)
class UpdateAnswer:
    """An update answer: its body (None for 304), its ETag and the licence code."""

    body: dict[str, Any] | None
    etag: str
    code: str = ""


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def check_update(
    *,
    runtime: Runtime,
    updates: UpdateRuntime,
    license_key: str,
    domain: str,
    product: str,
    version: str,
    channel: str = "stable",
    wp_version: str | None = None,
    php_version: str | None = None,
    locale: str | None = None,
    nonce: str | None = None,
    if_none_match: str | None = None,
    base_url: str,
    now: datetime,
    parsed: keys.LicenseKey | None = None,
) -> UpdateAnswer:
    """Decide what the site is offered; sign it unless ``if_none_match`` matches.

    ``parsed`` is ``license_key`` already parsed (the fast lane parses it once).
    """
    decision = entitlement.licence_state_for(
        runtime=runtime,
        license_key=license_key,
        domain=domain,
        product=product,
        nonce=nonce,
        now=now,
        parsed=parsed,
    )
    item = decision.product
    note_versions(runtime, decision, version, wp_version, php_version)
    found, choice = offer(
        updates,
        decision,
        installed=version,
        channel=channel,
        wp_version=wp_version,
        php_version=php_version,
    )
    body = _body(
        decision, found, choice, version, runtime.keyring, base_url,
        updates.download_ttl, now,
    )  # fmt: skip
    updates.checks.add(
        item.vendor_id,
        item.id,
        now.date(),
        {
            "versions": version,
            "wp": stats.minor(wp_version),
            "php": stats.minor(php_version),
        },
    )
    updates.checks.flush_if_due()
    etag = _etag(body, choice, decision)
    if if_none_match is not None and etag in _tags(if_none_match):
        return UpdateAnswer(None, etag, str(decision.code))
    target = choice.target
    answer = entitlement.sign_update(
        decision,
        runtime=runtime,
        upd={
            "ver": body["new_version"],
            "pkg": body["package"] is not None,
            "reason": choice.reason,
            "sha384": target.sha384 if target is not None else None,
        },
    )
    body["token"] = answer.token
    body["license"] = answer.lic
    return UpdateAnswer(body, etag, str(decision.code))


def note_versions(
    runtime: Runtime,
    decision: entitlement.LicenceDecision,
    theme: str | None,
    wp: str | None,
    php: str | None,
) -> None:
    """Queue what a site reported when it holds a seat of this product's licence.

    Into the runtime's batched buffer (written on the last-seen schedule), never a
    write of the request's own; a domain without a live activation records nothing.
    """
    state = decision.state
    if (
        state is None
        or state.activation_id is None
        or state.product_id != decision.product.id
    ):
        return
    runtime.site_versions.add(
        state.activation_id, Reported.of(theme, wp, php), decision.now
    )


def offer(
    updates: UpdateRuntime,
    decision: entitlement.LicenceDecision,
    *,
    installed: str,
    channel: str,
    wp_version: str | None,
    php_version: str | None,
) -> tuple[catalog.Catalog, rules.Choice]:
    """Apply the entitlement rules (docs/UPDATES.md §2) to the product's releases.

    The one place that decides what a licence decision is offered: the update
    check, the PUC metadata and EDD's ``get_version`` all come through here.
    """
    found = catalog.load(updates.catalogs, decision.product.id)
    max_version, channels = None, None
    if found.has_rules and decision.valid and decision.license_id is not None:
        max_version, channels = update_settings.rules_for(decision.license_id)
    subject = (
        decision.license_id.bytes
        if decision.license_id is not None
        else decision.domain.encode()
    )
    choice = rules.choose(
        found.releases,
        found.yanked,
        rules.Request(
            installed=installed,
            channel=channel,
            licence_code=str(decision.code),
            updates_until=decision.updates_until,
            max_version=max_version,
            channels=channels if channels is not None else found.settings.channels,
            wp_version=wp_version,
            php_version=php_version,
            rollout_subject=subject,
            default_rollout=found.settings.rollout_percent,
        ),
    )
    return found, choice


def package_token(
    keyring: Keyring,
    decision: entitlement.LicenceDecision,
    choice: rules.Choice,
    download_ttl: int,
    now: datetime,
) -> str | None:
    """Return the package URL's token when the choice has a package, else None."""
    if choice.target is None or decision.license_id is None:
        return None
    grant = downloads.Grant(
        decision.license_id,
        choice.target.id,
        downloads.expiry(now, download_ttl),
        decision.domain,
    )
    return downloads.make_token(keyring, grant)


def reason_text(
    decision: entitlement.LicenceDecision, choice: rules.Choice, installed: str
) -> str | None:
    """Return the sentence for a site owner saying why no newer package, or None."""
    if choice.reason is None:
        return None
    about = choice.latest.version if choice.latest is not None else installed
    return REASONS[choice.reason].format(
        name=decision.product.name, version=about, **choice.params
    )


def _body(
    decision: entitlement.LicenceDecision,
    found: catalog.Catalog,
    choice: rules.Choice,
    installed: str,
    keyring: Keyring,
    base_url: str,
    download_ttl: int,
    now: datetime,
) -> dict[str, Any]:
    item = decision.product
    offered = choice.target or choice.latest
    token = package_token(keyring, decision, choice, download_ttl, now)
    package = None if token is None else f"{base_url}v1/downloads/{token}"
    new_version = offered.version if offered is not None else installed
    settings = found.settings
    reason = None
    text = reason_text(decision, choice, installed)
    if text is not None:
        reason = {
            "code": choice.reason,
            "message": text,
            "renewal_url": settings.renewal_url,
        }
    return {
        "product": item.slug,
        "type": settings.type,
        "installed_version": installed,
        "channel": choice.channel,
        "update_available": offered is not None,
        "entitled": package is not None,
        "new_version": new_version,
        "latest_version": choice.latest.version if choice.latest else new_version,
        "theme": item.slug,
        "slug": item.slug,
        "name": item.name,
        "version": new_version,
        "url": f"{base_url}v1/updates/{item.slug}/changelog",
        "package": package,
        "requires": offered.requires if offered else None,
        "requires_php": offered.requires_php if offered else None,
        "tested": offered.tested if offered else None,
        "last_updated": _iso(offered.published_at) if offered else None,
        "homepage": settings.homepage,
        "sections": {
            "description": found.description_html,
            "installation": found.installation_html,
            "changelog": found.changelog(choice.channel),
        },
        "banners": dict(settings.banners),
        "icons": dict(settings.icons),
        "reason": reason,
        "code": str(decision.code),
        "valid": decision.valid,
        "license": None,
        "domain": decision.domain,
        "nonce": decision.nonce,
        "ts": _iso(now),
        "token": "",
    }


def _etag(
    body: dict[str, Any], choice: rules.Choice, decision: entitlement.LicenceDecision
) -> str:
    # what the answer depends on, apart from ts and token: the decision, the release
    # offered (its id changes with every edit's reload), the package URL (stable for
    # a five-minute window), the notes and the request's own echoes
    target = choice.target or choice.latest
    parts = (
        body["package"],
        body["reason"],
        body["installed_version"],
        body["channel"],
        body["nonce"],
        body["sections"]["changelog"],
        body["sections"]["description"],
        target,
        decision.state,
        str(decision.code),
    )
    return '"' + hashlib.sha256(repr(parts).encode()).hexdigest()[:32] + '"'


def _tags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",")}
