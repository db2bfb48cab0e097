"""The customer portal's sign-in: one-time links by mail, or licence key + e-mail.

A customer is a vendor's licences' e-mail address. Asking for a link always reads
the same ("if this address holds licences, a link is on its way"), so the answer
tells nobody which addresses are known; requests are throttled per address and
per e-mail whether the e-mail is known or not. A link lives 15 minutes, works
once, and only in the browser that asked for it (a random value in its cookie,
whose keyed hash the link row keeps). Sign-in with a licence key and its e-mail
needs no mail; such a session cannot reveal keys (that needs a fresh link).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from license_server import errors, keys, mail
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models import License, Vendor
from license_server.models.portal import PortalCustomer, PortalLink
from license_server.models.users import WebSession
from license_server.services import web_sessions
from license_server.services.unit import transactional
from license_server.services.web_sessions import SessionPolicy, ThrottleRule

KIND = "customer"
LINK_LIFETIME = timedelta(minutes=15)
# a key is shown only within this time of a sign-in by a mailed link
FRESH = timedelta(minutes=10)
LINKS_PER_EMAIL = ThrottleRule(limit=5, window=timedelta(hours=1))
LINKS_PER_ADDRESS = ThrottleRule(limit=20, window=timedelta(hours=1))
KEY_FAILURES_PER_EMAIL = ThrottleRule(limit=5, window=timedelta(minutes=15))
KEY_FAILURES_PER_ADDRESS = ThrottleRule(limit=20, window=timedelta(minutes=15))
_LINK = "portal-link"
_BROWSER = "portal-browser"


class PortalThrottled(errors.APIError):
    status_code, code, message = (
        429,
        "PORTAL_THROTTLED",
        "Too many sign-in requests from here or for this e-mail. "
        "Wait an hour, then try again.",
    )


class LinkInvalid(errors.APIError):
    status_code, code, message = (
        404,
        "LINK_INVALID",
        "This sign-in link is not valid: it was used, it expired (links last "
        "15 minutes), or it was mistyped. Ask for a new one.",
    )


class LinkOtherBrowser(errors.APIError):
    status_code, code, message = (
        403,
        "LINK_OTHER_BROWSER",
        "Open this link in the browser where you asked for it, or ask for a new "
        "link in this browser.",
    )


class KeySignInRefused(errors.APIError):
    status_code, code, message = (
        401,
        "SIGN_IN_REFUSED",
        "This licence key and e-mail do not match a licence here. Check both, or "
        "ask for a sign-in link by e-mail.",
    )


def normalise_email(email: str) -> str:
    """Return an e-mail address as licences are matched: trimmed, lower case."""
    return email.strip().lower()


def licences_of(vendor_id: uuid.UUID, email: str) -> list[License]:
    """Return the vendor's licences issued to ``email``, newest first."""
    return list(
        db.session.scalars(
            select(License)
            .where(
                License.vendor_id == vendor_id,
                func.lower(License.customer_email) == normalise_email(email),
            )
            .order_by(License.created_at.desc(), License.id)
        )
    )


def new_browser_value() -> str:
    """Return the random value a browser keeps while it waits for its link."""
    return secrets.token_urlsafe(24)


def _throttle(
    keyring: Keyring, kind: str, email: str, address: str | None
) -> dict[str, ThrottleRule]:
    per_email, per_address = (
        (LINKS_PER_EMAIL, LINKS_PER_ADDRESS)
        if kind == "link"
        else (KEY_FAILURES_PER_EMAIL, KEY_FAILURES_PER_ADDRESS)
    )
    found = {web_sessions.throttle_key(keyring, f"portal-{kind}", email): per_email}
    if address:
        key = web_sessions.throttle_key(keyring, f"portal-{kind}-address", address)
        found[key] = per_address
    return found


@transactional
def request_link(
    *,
    keyring: Keyring,
    vendor: Vendor,
    email: str,
    browser: str,
    address: str | None,
    link_url: str,
    now: datetime,
) -> None:
    """Mail a sign-in link if ``email`` holds licences of the vendor (else nothing).

    ``link_url`` is the link's address with ``{token}`` where the token goes. The
    request counts against the throttles either way.
    """
    email = normalise_email(email)
    limits = _throttle(keyring, "link", email, address)
    if web_sessions.is_throttled(keys=limits, now=now):
        raise PortalThrottled()
    web_sessions.record_failure(keys=limits, now=now)  # every request counts
    if "@" not in email or not licences_of(vendor.id, email):
        return
    token = secrets.token_urlsafe(32)
    db.session.add(
        PortalLink(
            id=uuid.uuid4(),
            token_hash=keyring.web_token_lookup(_LINK, token),
            vendor_id=vendor.id,
            email=email,
            browser_hash=keyring.web_token_lookup(_BROWSER, browser),
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    try:
        mail.enqueue(
            db.session,
            vendor_id=vendor.id,
            to=email,
            template="signin_link",
            context={
                "link": link_url.replace("{token}", token),
                "expires_minutes": int(LINK_LIFETIME.total_seconds() // 60),
            },
        )
    except ValueError:  # an address no mail can go to: nothing to send
        db.session.rollback()


def find_link(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    token: str,
    browser: str | None,
    now: datetime,
) -> PortalLink:
    """Return the usable link of ``token`` for this browser, or raise why not."""
    link = db.session.scalar(
        select(PortalLink).where(
            PortalLink.token_hash == keyring.web_token_lookup(_LINK, token),
            PortalLink.vendor_id == vendor_id,
        )
    )
    if link is None or link.used_at is not None or now >= link.expires_at:
        raise LinkInvalid()
    expected = keyring.web_token_lookup(_BROWSER, browser) if browser else b""
    if not secrets.compare_digest(expected, link.browser_hash):
        raise LinkOtherBrowser()
    return link


def _customer(vendor_id: uuid.UUID, email: str, now: datetime) -> PortalCustomer:
    found = db.session.scalar(
        select(PortalCustomer).where(
            PortalCustomer.vendor_id == vendor_id, PortalCustomer.email == email
        )
    )
    if found is None:
        found = PortalCustomer(
            id=uuid.uuid4(), vendor_id=vendor_id, email=email, created_at=now
        )
        db.session.add(found)
    found.last_login_at = now
    return found


def _start(
    keyring: Keyring, customer: PortalCustomer, policy: SessionPolicy, now: datetime
) -> tuple[WebSession, str]:
    return web_sessions.start(
        keyring=keyring,
        kind=KIND,
        vendor_id=customer.vendor_id,
        subject_id=customer.id,
        pending_second_factor=False,
        policy=policy,
        now=now,
    )


@transactional
def use_link(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    token: str,
    browser: str | None,
    policy: SessionPolicy,
    now: datetime,
) -> tuple[WebSession, str]:
    """Spend a sign-in link (once) and start the customer's session."""
    link = find_link(
        keyring=keyring, vendor_id=vendor_id, token=token, browser=browser, now=now
    )
    used = db.session.execute(
        update(PortalLink)
        .where(PortalLink.id == link.id, PortalLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(used, "rowcount", 0):  # a concurrent use won
        raise LinkInvalid()
    return _start(keyring, _customer(vendor_id, link.email, now), policy, now)


def sign_in_with_key(
    *,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    email: str,
    license_key: str,
    address: str | None,
    policy: SessionPolicy,
    now: datetime,
) -> tuple[WebSession, str]:
    """Start a session for the e-mail of a licence whose key is given."""
    email = normalise_email(email)
    limits = _throttle(keyring, "key", email, address)
    if web_sessions.is_throttled(keys=limits, now=now):
        raise PortalThrottled()
    license = None
    try:
        parsed: keys.LicenseKey | None = keys.parse_key(license_key)
    except keys.InvalidKeyFormat:
        parsed = keys.parse_legacy_key(license_key.strip())  # imported EDD keys
    if parsed is not None:
        license = db.session.scalar(
            select(License).where(
                License.key_hash == keyring.license_lookup(parsed.body),
                License.vendor_id == vendor_id,
            )
        )
    if license is None or normalise_email(license.customer_email or "") != email:
        web_sessions.record_failure(keys=limits, now=now)
        db.session.commit()
        raise KeySignInRefused()
    started = _start(keyring, _customer(vendor_id, email, now), policy, now)
    db.session.commit()
    return started


@dataclass(frozen=True)
class Customer:
    """The signed-in customer as the pages see them."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    email: str
    can_reveal: bool


def customer_of(session: WebSession, *, by_link: bool, now: datetime) -> Customer:
    """Return the customer of a live portal session."""
    found = db.session.get_one(PortalCustomer, session.subject_id)
    fresh = by_link and now - session.created_at < FRESH
    return Customer(found.id, found.vendor_id, found.email, fresh)
