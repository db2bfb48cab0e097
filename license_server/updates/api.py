"""Public update routes: the check, downloads, the changelog page, PUC metadata."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from flask import (
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
)

from license_server import errors
from license_server.api import context, docs
from license_server.api.parsing import Blueprint
from license_server.api.raises import blueprint_raises, raises
from license_server.schemas.errors import ErrorOut
from license_server.updates import UpdateRuntime, catalog, check, downloads, entitlement
from license_server.updates import of as updates_of
from license_server.updates import schemas as s

blp = Blueprint(
    "updates", __name__, url_prefix="/v1", description="Updates and downloads."
)
blp.accepts_forms = True  # the update check, as the public endpoints (PROTOCOL §8)
_ERRORS = (400, 404, 413, 415, 422, 429, 503)
# every update route is rate limited (license_server.api.throttle) and reads the
# database (503 when it cannot be reached)
blueprint_raises("updates", errors.RateLimited, errors.ServiceUnavailable)
blueprint_raises("edd_downloads", errors.RateLimited)
CHANGELOG_CSS = (
    "body{font:14px/1.5 -apple-system,BlinkMacSystemFont,'Segoe UI',sans-serif;"
    "margin:1.5em;color:#1d2327}h2{font-size:1.3em}h3{border-top:1px solid #ddd;"
    "padding-top:.8em}code,pre{background:#f6f7f7}"
)
_CSS_HASH = "sha256-" + base64.b64encode(
    hashlib.sha256(CHANGELOG_CSS.encode()).digest()
).decode("ascii")


def updates_runtime() -> UpdateRuntime:
    """Return the current app's update runtime."""
    return updates_of(current_app)


def _base_url() -> str:
    """Return this server's root URL (without Werkzeug's costly IRI round trip)."""
    return f"{request.scheme}://{request.host}{request.script_root}/"


def _check(args: dict[str, Any], if_none_match: str | None) -> check.UpdateAnswer:
    answer = check.check_update(
        runtime=context.runtime(),
        updates=updates_runtime(),
        if_none_match=if_none_match,
        base_url=_base_url(),
        now=context.now(),
        **args,
    )
    g.answer_code = answer.code  # the rate limiter counts unknown keys (throttle)
    return answer


@blp.post("/updates/check")
@blp.arguments(s.UpdateCheckIn())
@blp.response(200, s.UpdateCheckOut)
@blp.alt_response(304, description="Unchanged since the ETag sent in If-None-Match.")
@docs.errors(blp, *_ERRORS)
@raises(errors.ProductNotFound, errors.InvalidKeyFormat, errors.InvalidDomain)
def update_check(args: dict[str, Any]) -> Any:
    """Say which release a site may install, with a package URL only when entitled."""
    answer = _check(args, request.headers.get("If-None-Match"))
    if answer.body is None:
        return Response(status=304, headers={"ETag": answer.etag})
    # the body has the documented shape already: skip re-dumping it field by field
    response = jsonify(answer.body)
    response.headers.update({"ETag": answer.etag, "Cache-Control": "no-store"})
    return response


@blp.get("/updates/<product>/puc.json")
@blp.arguments(s.PucQuery(), location="query")
@blp.response(200, description="plugin-update-checker metadata JSON.")
@docs.errors(blp, *_ERRORS)
@raises(errors.ProductNotFound, errors.InvalidKeyFormat, errors.InvalidDomain)
def puc_metadata(args: dict[str, Any], product: str) -> Any:
    """Serve plugin-update-checker's metadata format, with the same entitlement."""
    if not args["license_key"] or not args["domain"]:
        return _puc_anonymous(product, args)
    answer = _check(
        {
            "license_key": args["license_key"],
            "domain": args["domain"],
            "product": product,
            "version": args["installed_version"],
            "channel": args["channel"],
            "wp_version": args["wp"],
            "php_version": args["php"],
            "locale": args["locale"],
        },
        None,
    )
    assert answer.body is not None  # noqa: S101 - no If-None-Match was given
    return _puc_body(answer.body)


def _puc_body(body: dict[str, Any]) -> dict[str, Any]:
    meta = {
        "name": body["name"],
        "slug": body["slug"],
        "version": body["new_version"],
        "details_url": body["url"],
        "homepage": body["homepage"],
        "requires": body["requires"],
        "tested": body["tested"],
        "requires_php": body["requires_php"],
        "last_updated": body["last_updated"],
        "sections": body["sections"],
        "banners": body["banners"],
        "icons": body["icons"],
    }
    if body["package"] is not None:
        meta["download_url"] = body["package"]
    if body["reason"] is not None:
        meta["reason"] = body["reason"]
        meta["upgrade_notice"] = body["reason"]["message"]
    return meta


def _puc_anonymous(product: str, args: dict[str, Any]) -> dict[str, Any]:
    """No key or domain: name the newest stable release, never a package."""
    item = entitlement.product_info(context.runtime(), product)
    found = catalog.load(updates_runtime().catalogs, item.id)
    stable = [r for r in found.releases if r.channel == "stable"]
    version = stable[0].version if stable else args["installed_version"]
    message = "Enter your license key in the theme's license settings to get updates."
    return {
        "name": item.name,
        "slug": item.slug,
        "version": version,
        "details_url": f"{_base_url()}v1/updates/{item.slug}/changelog",
        "upgrade_notice": message,
        "reason": {
            "code": "NOT_FOUND",
            "message": message,
            "renewal_url": found.settings.renewal_url,
        },
    }


@blp.get("/updates/<product>/changelog")
@blp.response(200, content_type="text/html", description="Release notes (framable).")
@docs.errors(blp, 404, 429)
@raises(errors.ProductNotFound)
def changelog(product: str) -> Any:
    """Show the published release notes: the page WordPress opens in its iframe."""
    return changelog_page(entitlement.product_info(context.runtime(), product))


def changelog_page(item: entitlement.ProductInfo) -> Response:
    """Render a product's release notes page (framable; also EDD's changelog view)."""
    found = catalog.load(updates_runtime().catalogs, item.id)
    page = render_template(
        "updates/changelog.html",
        name=item.name,
        releases=found.releases,
        css=CHANGELOG_CSS,
    )
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src '{_CSS_HASH}'; img-src https: data:; "
        "frame-ancestors *"
    )
    return response


@blp.get("/downloads/<token>")
@blp.response(200, content_type="application/zip", description="The package.")
@blp.alt_response(302, description="Redirect to a presigned storage URL.")
@blp.alt_response(206, description="A byte range of the package.")
@blp.alt_response(
    403, schema=ErrorOut, description="DOWNLOAD_INVALID, DOWNLOAD_NOT_ENTITLED"
)
@blp.alt_response(
    410, schema=ErrorOut, description="DOWNLOAD_EXPIRED, RELEASE_WITHDRAWN"
)
@docs.errors(blp, 404, 429)
@raises(downloads.DownloadInvalid)
def download(token: str) -> Any:
    """Stream a package (or its ``.sig``) for a valid, unexpired package URL."""
    return serve_download(token)


edd_blp = Blueprint(
    "edd_downloads",
    __name__,
    description="EDD-style package URLs (docs/EDD.md): the same downloads.",
)


@edd_blp.get("/edd-sl/package_download/<token>")
@edd_blp.response(200, content_type="application/zip", description="The package.")
@edd_blp.alt_response(302, description="Redirect to a presigned storage URL.")
@edd_blp.alt_response(206, description="A byte range of the package.")
@edd_blp.alt_response(
    403, schema=ErrorOut, description="DOWNLOAD_INVALID, DOWNLOAD_NOT_ENTITLED"
)
@edd_blp.alt_response(
    410, schema=ErrorOut, description="DOWNLOAD_EXPIRED, RELEASE_WITHDRAWN"
)
@docs.errors(edd_blp, 404, 429)
@raises(downloads.DownloadInvalid)
def package_download(token: str) -> Any:
    """Serve a package URL of EDD's ``get_version`` (same token, same checks)."""
    return serve_download(token)


def serve_download(token: str) -> Any:
    """Check a package URL's token and licence, then serve the file or its .sig."""
    signature_only = token.endswith(".sig")
    grant = downloads.authorise(
        context.runtime(), token.removesuffix(".sig"), context.now()
    )
    signature, key, sha256 = grant.signature, grant.storage_key, grant.sha256
    filename = f"{grant.slug}-{grant.version}.zip"
    if signature_only:
        return Response(f"{signature}\n", mimetype="text/plain")
    updates = updates_runtime()
    store = updates.storage
    ranged = request.headers.get("Range", "")
    if not ranged or ranged.replace(" ", "").startswith("bytes=0-"):
        updates.downloads.add(grant.vendor_id, grant.release_id, context.now().date())
    headers = {"x-content-signature": signature}
    presigned = store.presigned_url(key, expires=300, filename=filename)
    if presigned is not None:
        response = redirect(presigned, code=302)
        response.headers.update(headers)
        return response
    prefix = current_app.config.get("X_ACCEL_PREFIX")
    if prefix:
        return Response(
            status=200,
            headers={
                **headers,
                "X-Accel-Redirect": prefix.rstrip("/") + "/" + key,
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
        )
    path = store.local_path(key)
    assert path is not None  # noqa: S101 - local storage has paths
    response = send_file(
        path,
        mimetype="application/zip",
        as_attachment=True,
        download_name=filename,
        conditional=True,
        etag=sha256,
        max_age=0,
    )
    response.headers.update(headers)
    return response
