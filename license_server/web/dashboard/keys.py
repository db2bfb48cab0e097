"""API keys and signing keys (owners only): create, reveal once, revoke, rotate."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from license_server import errors
from license_server.schemas import admin as schemas
from license_server.services import keys_admin
from license_server.web.common import forms
from license_server.web.dashboard import access, bp


@bp.get("/api-keys")
@access.require("owner")
def api_keys() -> str:
    """List the vendor's API keys (prefixes only)."""
    items = keys_admin.list_api_keys(vendor_id=access.vendor_id())
    return render_template("dashboard/api_keys.html", keys=items)


@bp.post("/api-keys")
@access.require("owner")
def api_key_create() -> Any:
    """Create an API key; its text is shown on this answer only."""
    scope = forms.text("scope")
    name = forms.text("name")
    if scope not in {"read", "write"} or not 1 <= len(name) <= 200:
        raise errors.ValidationFailed(
            "Give the key a name and a scope (read or write)."
        )
    key, token = keys_admin.create_api_key(name=name, scope=scope, **access.scoped())
    return render_template("dashboard/api_key_shown.html", key=key, token=token)


@bp.post("/api-keys/<uuid:key_id>/revoke")
@access.require("owner")
def api_key_revoke(key_id: uuid.UUID) -> Any:
    """Revoke an API key (asks first)."""
    if request.form.get("confirm") != "yes":
        return render_template(
            "dashboard/confirm.html",
            question="Revoke this API key?",
            warning="Every program using it is refused at once.",
            button="Yes, revoke",
            action=request.path,
            cancel=url_for("dashboard.api_keys"),
            hidden={},
        )
    keys_admin.revoke_api_key(key_id=key_id, **access.scoped())
    flash("API key revoked.", "ok")
    return redirect(url_for("dashboard.api_keys"))


@bp.get("/signing-keys")
@access.require("owner")
def signing_keys() -> str:
    """List the signing keys and the rotation procedure, step by step."""
    items = keys_admin.list_signing_keys(vendor_id=access.vendor_id())
    shown = schemas.SigningKeyOut(many=True).dump(items)
    jwks = {row["id"]: json.dumps(row["jwk"]) for row in shown}
    return render_template("dashboard/signing_keys.html", keys=items, jwks=jwks)


@bp.post("/signing-keys")
@access.require("owner")
def signing_key_prepare() -> Response:
    """Step 1 of a rotation: prepare the next key (published, not signing)."""
    keys_admin.prepare_signing_key(**access.scoped())
    flash("New key prepared: it is in the JWKS now. Ship it in your theme next.", "ok")
    return redirect(url_for("dashboard.signing_keys"))


@bp.post("/signing-keys/<uuid:key_id>/<step>")
@access.require("owner")
def signing_key_step(key_id: uuid.UUID, step: str) -> Any:
    """Step 2 (activate) or 3 (retire) of a rotation; retiring asks first."""
    if step == "activate":
        keys_admin.activate_signing_key(key_id=key_id, **access.scoped())
        flash("The key signs new tokens now; the old one still verifies.", "ok")
    elif step == "retire":
        if request.form.get("confirm") != "yes":
            return render_template(
                "dashboard/confirm.html",
                question="Retire this signing key?",
                warning="Themes that only know this key stop trusting new tokens; "
                "it cannot sign again.",
                button="Yes, retire",
                action=request.path,
                cancel=url_for("dashboard.signing_keys"),
                hidden={},
            )
        keys_admin.retire_signing_key(key_id=key_id, **access.scoped())
        flash("Key retired: it left the JWKS.", "ok")
    else:
        raise errors.NotFound("No such step.")
    return redirect(url_for("dashboard.signing_keys"))
