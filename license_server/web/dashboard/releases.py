"""Releases of a product: list, upload, publish, unpublish, yank, delete a release
never published, edit the notes.

Every write calls :mod:`license_server.updates.releases`, the service the admin API
calls, with the same size limit and ZIP checks; each is an event whose actor is the
signed-in user. Owners change releases; every role reads them.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from license_server import errors, updates
from license_server.models import Channel, Release
from license_server.services import products
from license_server.updates import markdown, releases
from license_server.updates import stats as update_stats
from license_server.updates.schemas import ReleaseIn, ReleasePatch
from license_server.web.common import forms, sessions
from license_server.web.dashboard import access, bp

CHANNELS = [str(channel) for channel in Channel]
NOTES = ("changelog", "requires", "requires_php", "tested")
# multipart framing and the form's other fields, on top of the package itself
FORM_OVERHEAD = 1024 * 1024


def upload_limit() -> int:
    """Return the largest package accepted, in bytes (the admin API's limit)."""
    return int(current_app.config["RELEASE_MAX_BYTES"])


def allow_upload() -> None:
    """Let this request's body be as large as a package (before the form is read)."""
    request.max_content_length = upload_limit() + FORM_OVERHEAD


def status_of(release: Release) -> str:
    """Return ``yanked``, ``published``, ``unpublished`` or ``draft`` (no package)."""
    if release.yanked_at is not None:
        return "yanked"
    if release.published_at is not None:
        return "published"
    if release.storage_key is None:
        return "draft"
    return "unpublished"


def _downloads(product_slug: str) -> dict[str, int]:
    numbers = update_stats.vendor_stats(
        vendor_id=access.vendor_id(), today=sessions.now().date()
    )
    found: dict[str, int] = numbers.get(product_slug, {}).get("downloads", {})
    return found


@bp.get("/products/<uuid:product_id>/releases")
@access.require("viewer")
def releases_page(product_id: uuid.UUID) -> str:
    """List a product's releases, newest version first, with their state."""
    product = products.get_product(vendor_id=access.vendor_id(), product_id=product_id)
    items = releases.list_releases(vendor_id=access.vendor_id(), product_id=product.id)
    return render_template(
        "dashboard/releases.html",
        product=product,
        releases=items,
        status_of=status_of,
        downloads=_downloads(product.slug),
        channels=CHANNELS,
        limit=upload_limit(),
        errors={},
        form={},
    )


def _package() -> FileStorage:
    found = request.files.get("package")
    if found is None or not found.filename:
        raise errors.ValidationFailed(
            "Choose the theme's ZIP file to upload.",
            detail={"fields": {"package": ["Choose the theme's ZIP file."]}},
        )
    return found


def _attach(release_id: uuid.UUID, package: FileStorage) -> Release:
    return releases.attach_package(
        storage=updates.of(current_app).storage,
        release_id=release_id,
        stream=package.stream,
        limit=upload_limit(),
        **access.scoped(),
    )


def _new_release_values() -> dict[str, Any]:
    raw: dict[str, Any] = {
        "version": forms.text("version"),
        "channel": forms.text("channel") or Channel.STABLE,
        "changelog": request.form.get("changelog", ""),
    }
    for name in ("requires", "requires_php", "tested"):
        raw[name] = forms.optional(name)
    try:
        loaded: dict[str, Any] = ReleaseIn().load(raw)
    except ValidationError as exc:
        raise errors.ValidationFailed(detail={"fields": exc.messages}) from exc
    return loaded


@bp.post("/products/<uuid:product_id>/releases")
@access.require("owner")
def release_create(product_id: uuid.UUID) -> Any:
    """Create a release from the form and upload its package in one go."""
    product = products.get_product(vendor_id=access.vendor_id(), product_id=product_id)
    try:
        values = _new_release_values()
        package = _package()
        release = releases.create_release(
            product_id=product.id, **access.scoped(), **values
        )
    except errors.ValidationFailed as exc:
        return _render_list_again(product, forms.field_errors(exc), exc.text)
    except releases.ReleaseExists as exc:
        field = {"version": [exc.text]}
        return _render_list_again(product, field, exc.text, status=409)
    try:
        _attach(release.id, package)
    except errors.APIError as exc:
        flash(
            f"Release {release.version} was created as a draft, but its package "
            f"was refused: {exc.text} Upload a corrected ZIP below.",
            "error",
        )
        return redirect(url_for("dashboard.release_page", release_id=release.id))
    flash(
        f"Release {release.version} uploaded and signed. It is not offered to "
        "sites until you publish it.",
        "ok",
    )
    return redirect(url_for("dashboard.release_page", release_id=release.id))


def _render_list_again(
    product: Any, field_errors: dict[str, Any], message: str, status: int = 422
) -> tuple[str, int]:
    items = releases.list_releases(vendor_id=access.vendor_id(), product_id=product.id)
    page = render_template(
        "dashboard/releases.html",
        product=product,
        releases=items,
        status_of=status_of,
        downloads=_downloads(product.slug),
        channels=CHANNELS,
        limit=upload_limit(),
        errors=field_errors or {"version": [message]},
        form=request.form,
    )
    return page, status


def _release_and_product(release_id: uuid.UUID) -> tuple[Release, Any]:
    release = releases.get_release(vendor_id=access.vendor_id(), release_id=release_id)
    product = products.get_product(
        vendor_id=access.vendor_id(), product_id=release.product_id
    )
    return release, product


def _render_release(
    release: Release,
    product: Any,
    *,
    notes: dict[str, Any] | None = None,
    field_errors: dict[str, Any] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    shown = notes if notes is not None else {n: getattr(release, n) for n in NOTES}
    page = render_template(
        "dashboard/release.html",
        release=release,
        product=product,
        status=status_of(release),
        notes=shown,
        preview=Markup(markdown.render(shown.get("changelog") or "")),  # noqa: S704 - sanitised by nh3
        previewing=notes is not None,
        downloads=_downloads(product.slug).get(release.version, 0),
        limit=upload_limit(),
        errors=field_errors or {},
    )
    return page, status


@bp.get("/releases/<uuid:release_id>")
@access.require("viewer")
def release_page(release_id: uuid.UUID) -> Any:
    """Show a release: state, package, signature, notes as sites will see them."""
    release, product = _release_and_product(release_id)
    return _render_release(release, product)


@bp.post("/releases/<uuid:release_id>/package")
@access.require("owner")
def release_package(release_id: uuid.UUID) -> Response:
    """Upload (or replace, before first publication) a release's package."""
    release, _ = _release_and_product(release_id)
    _attach(release.id, _package())
    flash("Package uploaded, checked and signed.", "ok")
    return redirect(url_for("dashboard.release_page", release_id=release.id))


@bp.post("/releases/<uuid:release_id>/notes")
@access.require("owner")
def release_notes(release_id: uuid.UUID) -> Any:
    """Preview or save the release notes and requirements."""
    release, product = _release_and_product(release_id)
    raw = {"changelog": request.form.get("changelog", "")}
    for name in ("requires", "requires_php", "tested"):
        raw[name] = forms.optional(name)  # type: ignore[assignment]
    try:
        changes: dict[str, Any] = ReleasePatch().load(raw)
    except ValidationError as exc:
        messages = {k: list(v) for k, v in exc.messages.items()}  # type: ignore[union-attr]
        return _render_release(
            release, product, notes=raw, field_errors=messages, status=422
        )
    if request.form.get("action") == "preview":
        return _render_release(release, product, notes=raw)
    releases.update_release(release_id=release.id, changes=changes, **access.scoped())
    flash("Release notes saved.", "ok")
    return redirect(url_for("dashboard.release_page", release_id=release.id))


@bp.post("/releases/<uuid:release_id>/delete")
@access.require("owner")
def release_delete(release_id: uuid.UUID) -> Any:
    """Delete a release that was never published (asks first); else: yank it."""
    release, product = _release_and_product(release_id)
    back = url_for("dashboard.release_page", release_id=release.id)
    if release.first_published_at is not None:
        flash(
            f"{release.version} was published, so sites may have it: it cannot be "
            "deleted. Yank it instead.",
            "error",
        )
        return redirect(back)
    if request.form.get("confirm") != "yes":
        return render_template(
            "dashboard/confirm.html",
            question=f"Delete release {release.version}?",
            warning="It was never published, so no site was offered it. Its notes "
            "and its package are deleted, and the version number is free again.",
            button="Yes, delete",
            action=request.path,
            cancel=back,
            hidden={},
        )
    releases.delete_release(
        storage=updates.of(current_app).storage,
        release_id=release.id,
        **access.scoped(),
    )
    flash(f"Release {release.version} deleted.", "ok")
    return redirect(url_for("dashboard.releases_page", product_id=product.id))


@bp.post("/releases/<uuid:release_id>/<change>")
@access.require("owner")
def release_state(release_id: uuid.UUID, change: str) -> Any:
    """Publish, unpublish or yank a release; yanking asks first, with a reason."""
    release, _ = _release_and_product(release_id)
    back = url_for("dashboard.release_page", release_id=release.id)
    if change == "publish":
        releases.publish(release_id=release.id, **access.scoped())
        flash(f"{release.version} is published: update checks offer it now.", "ok")
    elif change == "unpublish":
        releases.unpublish(release_id=release.id, **access.scoped())
        flash(
            f"{release.version} is no longer offered; you may publish it again.", "ok"
        )
    elif change == "yank":
        if request.form.get("confirm") != "yes":
            return render_template(
                "dashboard/yank_confirm.html", release=release, cancel=back
            )
        reason = forms.optional("reason")
        if reason is not None and len(reason) > 500:
            raise errors.ValidationFailed("Keep the reason under 500 characters.")
        releases.yank(release_id=release.id, reason=reason, **access.scoped())
        flash(
            f"{release.version} is yanked for good: sites on it are offered the "
            "newest good release.",
            "ok",
        )
    else:
        raise errors.NotFound("No such change.")
    return redirect(back)


@bp.app_template_filter("file_size")
def file_size(size: int) -> str:
    """Show a byte count as people read it: 812 bytes, 4.2 MB."""
    value = float(size)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024:
            return f"{size:,} bytes" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GB"
