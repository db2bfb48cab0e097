"""EDD ``get_version``'s release fields, decided by the update check's own rules.

The licence decision is validation's (the same call as ``/v1/updates/check``: key,
canonical site, product), and the releases offered follow the update rules in their
order (:func:`license_server.updates.check.offer`): published and not yanked, the
channel (``beta`` asks for betas), ``updates_until``, the licence's maximum version,
``requires``/``requires_php`` against what the site reported, staged rollout. Then
EDD's shape:

- ``new_version`` is the release offered with a package; without one it is the
  newest the site may see (named, no ``package``, ``msg`` says why in words), except
  when the site's PHP or WordPress is too old: then it is the site's own version, as
  EDD answers, so EDD's updaters offer nothing they could not install;
- ``stable_version`` is the newest stable release;
- ``package`` / ``download_link`` are a short-lived package URL bound to licence,
  site and release (``/edd-sl/package_download/<token>``; the token carries no key);
- ``last_updated`` is the release's publication (UTC, ``Y-m-d H:i:s``, as EDD's
  ``post_modified_gmt``).

Every ``get_version`` with a key counts in the product's update stats, as a check,
and a site holding a seat has the versions it sent recorded (batched, as the update
check does: :func:`license_server.updates.check.note_versions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from license_server.compat.edd_found import Context
from license_server.updates import UpdateRuntime, check, entitlement, stats
from license_server.updates.catalog import Catalog, ReleaseInfo
from license_server.updates.rules import Reason

# EDD answers the site's own version when its PHP/WordPress is below the release's
_REQUIREMENTS = frozenset({Reason.PHP_TOO_OLD, Reason.WP_TOO_OLD})
PACKAGE_PATH = "edd-sl/package_download/"


@dataclass(frozen=True)
class Offer:
    """What EDD's ``get_version`` answer says of the releases."""

    new_version: str
    stable_version: str
    last_updated: str
    package: str
    description: str
    changelog: str
    homepage: str
    banners: dict[str, str]
    icons: dict[str, str]
    requires: str
    requires_php: str
    tested: str
    msg: str | None


def _stamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _decision(
    ctx: Context, product: str, license_key: str | None, site: str | None
) -> entitlement.LicenceDecision:
    """Decide as the update check does; without a key or a site, nothing is due."""
    runtime = ctx.runtime
    if license_key and site:
        return entitlement.licence_state_for(
            runtime=runtime,
            license_key=license_key,
            domain=site,
            product=product,
            nonce=None,
            now=ctx.now,
        )
    item = runtime.reader.product(product)
    code = (
        entitlement.ResultCode.DOMAIN_NOT_ACTIVATED
        if license_key
        else entitlement.ResultCode.NOT_FOUND
    )
    signer = runtime.reader.signer(item.vendor_id)
    return entitlement.LicenceDecision(
        code, item, site or "", None, "", None, signer, ctx.now
    )


def _newest(found: Catalog, *, beta: bool) -> ReleaseInfo | None:
    for release in found.releases:  # newest first
        if beta or release.channel == "stable":
            return release
    return None


def offer(
    ctx: Context,
    updates: UpdateRuntime,
    *,
    product: str,
    license_key: str | None,
    site: str | None,
    installed: str,
    beta: bool,
    wp_version: str | None,
    php_version: str | None,
    package_base: str,
) -> Offer:
    """Return EDD's release fields for a (key, site, product) and what it reported."""
    decision = _decision(ctx, product, license_key, site)
    check.note_versions(
        ctx.runtime, decision, installed or None, wp_version, php_version
    )
    found, choice = check.offer(
        updates,
        decision,
        installed=installed or "0",
        channel="beta" if beta else "stable",
        wp_version=wp_version or None,
        php_version=php_version or None,
    )
    token = check.package_token(
        ctx.keyring, decision, choice, updates.download_ttl, ctx.now
    )
    stable = _newest(found, beta=False)
    newest = _newest(found, beta=choice.channel == "beta")
    shown = choice.target or choice.latest or newest
    new_version = shown.version if shown is not None else ""
    if choice.target is None and choice.reason in _REQUIREMENTS:
        new_version = installed
    if license_key:
        item = decision.product
        updates.checks.add(
            item.vendor_id,
            item.id,
            ctx.now.date(),
            {
                "versions": installed or "unknown",
                "wp": stats.minor(wp_version or None),
                "php": stats.minor(php_version or None),
            },
        )
        updates.checks.flush_if_due()
    settings = found.settings
    return Offer(
        new_version=new_version,
        stable_version=stable.version if stable is not None else "",
        last_updated=_stamp(shown.published_at if shown is not None else None),
        package="" if token is None else f"{package_base}{PACKAGE_PATH}{token}",
        description=found.description_html,
        changelog=found.changelog(choice.channel),
        homepage=settings.homepage or "",
        banners=dict(settings.banners),
        icons=dict(settings.icons),
        requires=(shown.requires or "") if shown is not None else "",
        requires_php=(shown.requires_php or "") if shown is not None else "",
        tested=(shown.tested or "") if shown is not None else "",
        msg=check.reason_text(decision, choice, installed or "0"),
    )
