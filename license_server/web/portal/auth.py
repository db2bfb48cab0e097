"""Sign in by a mailed one-time link (or a licence key and its e-mail), sign out."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from license_server.services import portal
from license_server.web.common import forms, sessions
from license_server.web.portal import access, bp

KIND = access.KIND


def _link_url() -> str | None:
    base = access.public_url()
    if base is None:
        return None
    path = url_for("portal.link", token="TOKEN").removesuffix("TOKEN")  # noqa: S106
    return base.rstrip("/") + path + "{token}"


@bp.route("/<vendor_slug>/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    """Ask for a sign-in link by e-mail (the answer never says if it is known)."""
    if request.method == "GET":
        if access.customer_or_none() is not None:
            return redirect(url_for("portal.licences"))
        return render_template("portal/sign_in.html")
    email = forms.text("email")
    link_url = _link_url()
    if link_url is None:
        page = render_template(
            "portal/sign_in.html",
            email=email,
            error="Sign-in by e-mail is not set up on this server yet "
            "(LICENSE_SERVER_PUBLIC_URL); sign in with your licence key below.",
        )
        return page, 503
    browser = session.get(access.BROWSER)
    if not isinstance(browser, str):
        browser = portal.new_browser_value()
        session[access.BROWSER] = browser
    try:
        portal.request_link(
            keyring=sessions.keyring(),
            vendor=access.vendor(),
            email=email,
            browser=browser,
            address=sessions.client_address(),
            link_url=link_url,
            now=sessions.now(),
        )
    except portal.PortalThrottled as exc:
        page = render_template("portal/sign_in.html", email=email, error=exc.text)
        return page, 429
    return render_template("portal/link_sent.html", email=email)


@bp.post("/<vendor_slug>/sign-in/key")
def sign_in_with_key() -> Any:
    """Sign in with a licence key and the e-mail it was issued to."""
    email = forms.text("email")
    try:
        _, token = portal.sign_in_with_key(
            keyring=sessions.keyring(),
            vendor_id=access.vendor().id,
            email=email,
            license_key=forms.text("license_key"),
            address=sessions.client_address(),
            policy=sessions.policy(),
            now=sessions.now(),
        )
    except (portal.KeySignInRefused, portal.PortalThrottled) as exc:
        page = render_template(
            "portal/sign_in.html", key_email=email, key_error=exc.text
        )
        return page, exc.status_code
    sessions.remember(KIND, token)
    session[access.VIA] = "key"
    return redirect(url_for("portal.licences"))


@bp.route("/<vendor_slug>/link/<token>", methods=["GET", "POST"])
def link(token: str) -> Any:
    """Show a sign-in link's button (mail scanners only GET); spend it on POST."""
    browser = session.get(access.BROWSER)
    browser = browser if isinstance(browser, str) else None
    keyring, vendor_id, now = sessions.keyring(), access.vendor().id, sessions.now()
    if request.method == "GET":
        found = portal.find_link(
            keyring=keyring, vendor_id=vendor_id, token=token, browser=browser, now=now
        )
        return render_template("portal/link.html", email=found.email, token=token)
    _, session_token = portal.use_link(
        keyring=keyring,
        vendor_id=vendor_id,
        token=token,
        browser=browser,
        policy=sessions.policy(),
        now=now,
    )
    sessions.remember(KIND, session_token)
    session[access.VIA] = "link"
    flash("You are signed in.", "ok")
    return redirect(url_for("portal.licences"))


@bp.post("/<vendor_slug>/sign-out")
def sign_out() -> Response:
    """Sign this browser out of the portal."""
    sessions.forget(KIND)
    flash("You are signed out.", "ok")
    return redirect(url_for("portal.sign_in"))
