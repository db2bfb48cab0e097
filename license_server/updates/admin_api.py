"""Admin routes for releases, update settings and rules, release keys.

They sit under ``/v1/admin`` and use the admin blueprint's authentication, scope
check and idempotency (the same ``before_request``/``after_request`` functions),
so the tenant and read-scope matrices cover them like every admin route.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, request

from license_server import errors
from license_server.api import admin, context
from license_server.api import raises as raise_docs
from license_server.api.docs import ADMIN_ERRORS, ADMIN_WRITE_ERRORS
from license_server.api.docs import errors as documented
from license_server.api.parsing import Blueprint
from license_server.api.raises import raises
from license_server.models import ReleaseKey
from license_server.updates import api, release_keys, releases, settings
from license_server.updates import schemas as s

blp = Blueprint(
    "releases",
    __name__,
    url_prefix="/v1/admin",
    description="Releases, update settings and release keys (Bearer API key).",
)
blp.before_request(admin.authenticate)
raise_docs.admin_layer_raises("releases")  # what admin.authenticate can answer
blp.after_request(admin.store_idempotent_answer)
reads = documented(blp, *ADMIN_ERRORS)
writes = documented(blp, *ADMIN_WRITE_ERRORS)
PACKAGE_TYPES = {"application/zip", "application/octet-stream"}


@blp.post("/products/<uuid:product_id>/releases")
@blp.arguments(s.ReleaseIn)
@blp.response(201, s.ReleaseOut)
@writes
@raises(errors.NotFound)
def create_release(args: dict[str, Any], product_id: uuid.UUID) -> Any:
    """Create a draft release; upload its package next."""
    return releases.create_release(product_id=product_id, **context.scoped(), **args)


@blp.get("/products/<uuid:product_id>/releases")
@blp.response(200, s.ReleaseList)
@reads
@raises(errors.NotFound)
def list_releases(product_id: uuid.UUID) -> Any:
    """List a product's releases, newest version first."""
    return {
        "data": releases.list_releases(
            vendor_id=context.vendor_id(), product_id=product_id
        )
    }


@blp.get("/releases/<uuid:release_id>")
@blp.response(200, s.ReleaseOut)
@reads
@raises(errors.NotFound)
def get_release(release_id: uuid.UUID) -> Any:
    """Return one release."""
    return releases.get_release(vendor_id=context.vendor_id(), release_id=release_id)


@blp.patch("/releases/<uuid:release_id>")
@blp.arguments(s.ReleasePatch)
@blp.response(200, s.ReleaseOut)
@writes
@raises(errors.NotFound)
def update_release(changes: dict[str, Any], release_id: uuid.UUID) -> Any:
    """Edit a release's notes, requirements or rollout percentage."""
    return releases.update_release(
        release_id=release_id, changes=changes, **context.scoped()
    )


@blp.put("/releases/<uuid:release_id>/package")
@blp.response(200, s.ReleaseOut)
@writes
@raises(errors.NotFound)
def upload_package(release_id: uuid.UUID) -> Any:
    """Upload the release's ZIP as the raw body (``application/zip``), streamed."""
    releases.get_release(vendor_id=context.vendor_id(), release_id=release_id)
    if request.mimetype not in PACKAGE_TYPES:
        raise errors.UnsupportedMediaType("Send the ZIP as application/zip.")
    limit = int(current_app.config["RELEASE_MAX_BYTES"])
    # this route alone takes large bodies; the app-wide limit stays small
    request.max_content_length = limit + 1
    return releases.attach_package(
        storage=api.updates_runtime().storage,
        release_id=release_id,
        stream=request.stream,
        limit=limit,
        **context.scoped(),
    )


@blp.post("/releases/<uuid:release_id>/publish")
@blp.response(200, s.ReleaseOut)
@writes
@raises(errors.NotFound)
def publish_release(release_id: uuid.UUID) -> Any:
    """Publish a release: update checks offer it from now on."""
    return releases.publish(release_id=release_id, **context.scoped())


@blp.post("/releases/<uuid:release_id>/unpublish")
@blp.response(200, s.ReleaseOut)
@writes
@raises(errors.NotFound)
def unpublish_release(release_id: uuid.UUID) -> Any:
    """Stop offering a release (it may be published again)."""
    return releases.unpublish(release_id=release_id, **context.scoped())


@blp.post("/releases/<uuid:release_id>/yank")
@blp.arguments(s.YankIn)
@blp.response(200, s.ReleaseOut)
@writes
@raises(errors.NotFound)
def yank_release(args: dict[str, Any], release_id: uuid.UUID) -> Any:
    """Withdraw a release for good; sites on it are offered the newest good one."""
    return releases.yank(
        release_id=release_id, reason=args["reason"], **context.scoped()
    )


@blp.delete("/releases/<uuid:release_id>")
@blp.response(204)
@writes
@raises(errors.NotFound)
def delete_release(release_id: uuid.UUID) -> Any:
    """Delete a release that was never published."""
    releases.delete_release(
        storage=api.updates_runtime().storage, release_id=release_id, **context.scoped()
    )
    return None


@blp.get("/products/<uuid:product_id>/updates")
@blp.response(200, s.UpdateSettingsOut)
@reads
@raises(errors.NotFound)
def get_update_settings(product_id: uuid.UUID) -> Any:
    """Return how a product's updates are offered."""
    return settings.get_settings(
        vendor_id=context.vendor_id(), product_id=product_id
    ).as_dict()


@blp.put("/products/<uuid:product_id>/updates")
@blp.arguments(s.UpdateSettingsIn)
@blp.response(200, s.UpdateSettingsOut)
@writes
@raises(errors.NotFound)
def put_update_settings(changes: dict[str, Any], product_id: uuid.UUID) -> Any:
    """Set a product's update settings (fields left out keep their values)."""
    found = settings.put_settings(
        product_id=product_id, changes=changes, **context.scoped()
    )
    return found.as_dict()


@blp.get("/licenses/<uuid:license_id>/updates")
@blp.response(200, s.UpdateRulesOut)
@reads
@raises(errors.NotFound)
def get_update_rules(license_id: uuid.UUID) -> Any:
    """Return a licence's update rules."""
    return settings.get_rules(vendor_id=context.vendor_id(), license_id=license_id)


@blp.put("/licenses/<uuid:license_id>/updates")
@blp.arguments(s.UpdateRulesIn)
@blp.response(200, s.UpdateRulesOut)
@writes
@raises(errors.NotFound)
def put_update_rules(changes: dict[str, Any], license_id: uuid.UUID) -> Any:
    """Set a licence's version cap and allowed channels."""
    return settings.put_rules(
        license_id=license_id, changes=changes, **context.scoped()
    )


def _key_out(key: ReleaseKey) -> dict[str, Any]:
    jwk = release_keys.key_json(key)
    return {
        "id": key.id,
        "kid": key.kid,
        "status": key.status,
        "created_at": key.created_at,
        "retired_at": key.retired_at,
        "public_key_b64": jwk["public_key_b64"],
        "jwk": jwk,
    }


@blp.get("/release-keys")
@blp.response(200, s.ReleaseKeyList)
@reads
def list_release_keys() -> Any:
    """List the vendor's package-signing keys (public halves)."""
    keys = release_keys.list_keys(vendor_id=context.vendor_id())
    return {"data": [_key_out(key) for key in keys]}


@blp.post("/release-keys/rotate")
@blp.response(201, s.ReleaseKeyOut)
@writes
def rotate_release_key() -> Any:
    """Create a new release key that signs from now on; the old one keeps verifying."""
    return _key_out(release_keys.rotate(**context.scoped()))


@blp.post("/release-keys/<uuid:key_id>/retire")
@blp.response(200, s.ReleaseKeyOut)
@writes
@raises(errors.NotFound)
def retire_release_key(key_id: uuid.UUID) -> Any:
    """Retire a verifying release key: it leaves the JWKS."""
    return _key_out(release_keys.retire(key_id=key_id, **context.scoped()))
