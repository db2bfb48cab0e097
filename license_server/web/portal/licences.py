"""The customer's licences and sites: list, one, key, deactivate, move, download."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from license_server import errors, runtime
from license_server.extensions import db
from license_server.models import Activation
from license_server.services import moves, portal_licences
from license_server.updates import of as updates_of
from license_server.web.common import forms, sessions
from license_server.web.portal import access, bp


def _actor() -> str:
    return f"customer:{access.customer().id}"


def _row(license_id: uuid.UUID) -> portal_licences.LicenceRow:
    who = access.customer()
    return portal_licences.row(who.vendor_id, who.email, license_id, sessions.now())


def _back(license_id: uuid.UUID) -> Response:
    return redirect(url_for("portal.licence", license_id=license_id))


@bp.get("/<vendor_slug>/")
def licences() -> str:
    """List the signed-in customer's licences."""
    who = access.customer()
    found = portal_licences.rows(who.vendor_id, who.email, sessions.now())
    return render_template("portal/licences.html", rows=found)


@bp.get("/<vendor_slug>/licences/<uuid:license_id>")
def licence(license_id: uuid.UUID) -> str:
    """Show one licence and the sites that hold its seats."""
    found = _row(license_id)
    sites = portal_licences.sites(license_id)
    return render_template("portal/licence.html", row=found, sites=sites)


@bp.post("/<vendor_slug>/licences/<uuid:license_id>/key")
def licence_key(license_id: uuid.UUID) -> Any:
    """Show the licence key, to a customer who signed in by a link just now."""
    found = _row(license_id)
    if not access.customer().can_reveal:
        raise errors.Forbidden(
            "To see the key, sign in again with a link sent by e-mail; the key is "
            "shown within 10 minutes of that sign-in."
        )
    key = portal_licences.key_of(sessions.keyring(), found.license)
    return render_template("portal/key.html", row=found, key=key)


@bp.post("/<vendor_slug>/licences/<uuid:license_id>/sites/<uuid:site_id>/deactivate")
def site_deactivate(license_id: uuid.UUID, site_id: uuid.UUID) -> Response:
    """Free the seat one site holds."""
    who = access.customer()
    ended = moves.deactivate(
        keyring=sessions.keyring(),
        vendor_id=who.vendor_id,
        email=who.email,
        license_id=license_id,
        activation_id=site_id,
        actor=_actor(),
        now=sessions.now(),
    )
    flash(f"{ended.domain} no longer holds a seat.", "ok")
    return _back(license_id)


@bp.post("/<vendor_slug>/licences/<uuid:license_id>/sites/<uuid:site_id>/move")
def site_move(license_id: uuid.UUID, site_id: uuid.UUID) -> Response:
    """Move one site's seat to another domain, in one step."""
    who = access.customer()
    base = access.public_url()
    moved = moves.move(
        keyring=sessions.keyring(),
        vendor_id=who.vendor_id,
        email=who.email,
        license_id=license_id,
        activation_id=site_id,
        domain=forms.text("domain"),
        actor=_actor(),
        portal_url=base.rstrip("/") + url_for("portal.licences") if base else None,
        now=sessions.now(),
    )
    flash(f"Moved from {moved.old.domain} to {moved.new.domain}.", "ok")
    return _back(license_id)


@bp.get("/<vendor_slug>/licences/<uuid:license_id>/sites/<uuid:site_id>/download")
def site_download(license_id: uuid.UUID, site_id: uuid.UUID) -> Any:
    """Send the browser to the package URL of the newest release it may download."""
    found = _row(license_id)
    site = db.session.get(Activation, site_id)
    if site is None or site.license_id != license_id or site.deactivated_at:
        raise errors.NotFound("This site holds no seat of this licence any more.")
    offered = portal_licences.download(
        runtime=runtime.of(current_app),
        updates=updates_of(current_app),
        license=found.license,
        activation=site,
        base_url=access.public_url() or "/",
        now=sessions.now(),
    )
    if offered.url is None:
        page = render_template("portal/no_download.html", row=found, offered=offered)
        return page, 409
    return redirect(offered.url, code=303)
