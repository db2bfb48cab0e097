"""Admin API (Bearer vendor API key): products, licenses, activations, keys, events.

Every query is scoped to the calling key's vendor; another vendor's ids answer 404
exactly as missing ones do. Read-scoped keys may only use GET. POSTs honour an
``Idempotency-Key`` header (see :mod:`license_server.services.idempotency`).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from flask import Response, current_app, g, request
from flask.json.provider import DefaultJSONProvider

from license_server import errors
from license_server.api import context
from license_server.api.parsing import Blueprint
from license_server.api.raises import (
    ADMIN_ERRORS,
    ADMIN_WRITE_ERRORS,
    IDEMPOTENT_POST_ERRORS,
    blueprint_raises,
    raises,
    read_only,
)
from license_server.models import ApiKeyScope
from license_server.schemas import admin as schemas
from license_server.services import (
    activations,
    events,
    idempotency,
    keys_admin,
    licenses,
    pages,
    products,
    stats,
    vendors,
)
from license_server.services.common import Revealed

blp = Blueprint(
    "admin",
    __name__,
    url_prefix="/v1/admin",
    description="Vendor administration (Bearer API key).",
)
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# POSTs that only read (a body keeps a secret out of URLs and access logs)
READ_POSTS = {"admin.search_licenses"}
# what authenticate() below can answer, on every route and on writes
blueprint_raises("admin", *ADMIN_ERRORS)
blueprint_raises("admin", *ADMIN_WRITE_ERRORS, methods=("post", "patch", "delete"))
blueprint_raises("admin", *IDEMPOTENT_POST_ERRORS, methods=("post",))
NotFound, InvalidCursor = errors.NotFound, pages.InvalidCursor


def reads(view: Any) -> Any:
    """Mark a read route (its layer errors are declared on the blueprint)."""
    return view


writes = reads


@blp.before_request
def authenticate() -> Response | None:
    """Authenticate the Bearer key, refuse writes of read keys, claim idempotency."""
    runtime = context.runtime()
    key = vendors.authenticate(
        keyring=runtime.keyring,
        key_use=runtime.key_use,
        authorization=request.headers.get("Authorization"),
        now=runtime.now(),
    )
    reading = request.method in READ_METHODS or request.endpoint in READ_POSTS
    if not reading and key.scope != ApiKeyScope.WRITE:
        raise errors.Forbidden("This API key is read-only.")
    g.api_key = key
    offered = request.headers.get("Idempotency-Key")
    if request.method != "POST" or reading or offered is None:
        return None
    claimed = idempotency.claim(
        keyring=context.keyring(),
        vendor_id=key.vendor_id,
        key=offered,
        print_=idempotency.fingerprint("POST", request.path, request.get_data()),
        now=context.now(),
    )
    if isinstance(claimed, idempotency.Stored):
        replay = Response(
            claimed.body, claimed.status_code, mimetype="application/json"
        )
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    g.idempotency_claim = claimed
    return None


@blp.after_request
def store_idempotent_answer(response: Response) -> Response:
    """Store the answer of a request that claimed an idempotency key."""
    claim = g.pop("idempotency_claim", None)
    if claim is not None:
        idempotency.finish(
            keyring=context.keyring(),
            vendor_id=context.vendor_id(),
            claim_id=claim,
            status_code=response.status_code,
            body=response.get_data(),
        )
    return response


# --- products -----------------------------------------------------------------


@blp.post("/products")
@blp.arguments(schemas.ProductIn)
@blp.response(201, schemas.ProductOut)
@writes
@raises(products.ProductExists)
def create_product(args: dict[str, Any]) -> Any:
    """Create a product (a theme) and its licensing policy."""
    return products.create_product(**context.scoped(), **args)


@blp.get("/products")
@blp.response(200, schemas.ProductList)
@reads
def list_products() -> Any:
    """List the vendor's products, archived ones included."""
    return {"data": products.list_products(vendor_id=context.vendor_id())}


@blp.get("/products/<uuid:product_id>")
@blp.response(200, schemas.ProductOut)
@reads
@raises(NotFound)
def get_product(product_id: uuid.UUID) -> Any:
    """Get one product."""
    return products.get_product(vendor_id=context.vendor_id(), product_id=product_id)


@blp.patch("/products/<uuid:product_id>")
@blp.arguments(schemas.ProductPatch)
@blp.response(200, schemas.ProductOut)
@writes
@raises(NotFound)
def update_product(changes: dict[str, Any], product_id: uuid.UUID) -> Any:
    """Change a product's name or policy; the slug is permanent."""
    return products.update_product(
        product_id=product_id, changes=changes, **context.scoped()
    )


@blp.post("/products/<uuid:product_id>/archive")
@blp.response(200, schemas.ProductOut)
@writes
@raises(NotFound)
def archive_product(product_id: uuid.UUID) -> Any:
    """Archive a product: no new licenses; existing ones keep working."""
    return products.set_archived(
        product_id=product_id, archived=True, **context.scoped()
    )


@blp.post("/products/<uuid:product_id>/restore")
@blp.response(200, schemas.ProductOut)
@writes
@raises(NotFound)
def restore_product(product_id: uuid.UUID) -> Any:
    """Bring an archived product back."""
    return products.set_archived(
        product_id=product_id, archived=False, **context.scoped()
    )


# --- licenses -----------------------------------------------------------------


@blp.post("/licenses")
@blp.arguments(schemas.LicenseIn)
@blp.response(201, schemas.LicenseOut)
@writes
@raises(errors.ProductNotFound, licenses.ProductArchived)
def create_license(args: dict[str, Any]) -> Any:
    """Issue a license; the answer carries its key."""
    license, key = licenses.create_license(**context.scoped(), **args)
    return Revealed(license, key)


@blp.post("/licenses/batch")
@blp.arguments(schemas.LicenseBatchIn)
@blp.response(201, schemas.LicenseBatchOut)
@writes
@raises(errors.ProductNotFound, licenses.ProductArchived)
def create_licenses(args: dict[str, Any]) -> Any:
    """Issue up to 1,000 licenses in one transaction (all or none)."""
    issued = licenses.create_licenses(**context.scoped(), **args)
    return _batch_answer(issued)


def _batch_answer(issued: list[tuple[Any, str]]) -> Response:
    """Render a batch as ``LicenseBatchOut`` would, dumping one license, not all.

    Every license of a batch has the same fields but its id, key and hint (one
    product, one request's fields, one time), so the first is dumped through the
    schema, and its JSON, with markers where those three go, is the template of
    every license's (``tests/server/test_admin_api.py`` compares the answer with
    the schema's dump, byte for byte with the JSON provider's).
    """
    first_license, first_key = issued[0]
    first = schemas.LicenseOut().dump(Revealed(first_license, first_key))
    provider = current_app.json
    if not _compact(provider):
        data = [first]
        for license, key in issued[1:]:
            data.append(
                {
                    **first,
                    "id": str(license.id),
                    "key": key,
                    "key_hint": license.key_hint,
                }
            )
        response = cast("Response", provider.response({"data": data}))
        response.status_code = 201
        return response
    marker = f"@{uuid.uuid4().hex}@"
    marked = {name: f"{marker}{name}" for name in _PER_LICENSE}
    text = provider.dumps({**first, **marked}, separators=(",", ":"))
    # the markers in the order the provider wrote them: cut the template there
    order = sorted(_PER_LICENSE, key=lambda name: text.index(f'"{marked[name]}"'))
    pieces, rest = [], text
    for name in order:
        before, _, rest = rest.partition(f'"{marked[name]}"')
        pieces.append(before)
    default = cast("DefaultJSONProvider", provider)
    encode = (
        json.encoder.encode_basestring_ascii
        if default.ensure_ascii
        else json.encoder.encode_basestring
    )
    items = []
    for license, key in issued:
        values = {"id": str(license.id), "key": key, "key_hint": license.key_hint}
        items.append(
            "".join(
                piece + encode(values[name])
                for piece, name in zip(pieces, order, strict=True)
            )
            + rest
        )
    body = f'{{"data":[{",".join(items)}]}}\n'
    return current_app.response_class(body, status=201, mimetype=default.mimetype)


# what differs between the licenses of one batch, in its answer
_PER_LICENSE = ("id", "key", "key_hint")


def _compact(provider: Any) -> bool:
    """Whether the JSON provider writes compact JSON (as Flask's default does)."""
    compact = getattr(provider, "compact", None)
    debug = current_app.debug
    return type(provider) is DefaultJSONProvider and (
        compact is True or (compact is None and not debug)
    )


@blp.get("/licenses")
@blp.arguments(schemas.LicenseQuery, location="query")
@blp.response(200, schemas.LicenseList)
@reads
@raises(
    errors.ProductNotFound, errors.InvalidKeyFormat, errors.InvalidDomain, InvalidCursor
)
def list_licenses(args: dict[str, Any]) -> Any:
    """List licenses, newest first, filtered; follow `next` for more."""
    cursor, limit = args.pop("cursor"), args.pop("limit")
    return licenses.list_licenses(
        keyring=context.keyring(),
        vendor_id=context.vendor_id(),
        where=licenses.LicenseFilter(**args),
        cursor=cursor,
        limit=limit,
    )


@blp.post("/licenses/search")
@blp.arguments(schemas.LicenseSearch)
@blp.response(200, schemas.LicenseList)
@reads
@read_only
@raises(
    errors.ProductNotFound, errors.InvalidKeyFormat, errors.InvalidDomain, InvalidCursor
)
def search_licenses(args: dict[str, Any]) -> Any:
    """List licenses as GET /licenses does, the filters (a key) in the body."""
    cursor, limit = args.pop("cursor"), args.pop("limit")
    return licenses.list_licenses(
        keyring=context.keyring(),
        vendor_id=context.vendor_id(),
        where=licenses.LicenseFilter(**args),
        cursor=cursor,
        limit=limit,
    )


@blp.get("/licenses/<uuid:license_id>")
@blp.response(200, schemas.LicenseOut)
@reads
@raises(NotFound)
def get_license(license_id: uuid.UUID) -> Any:
    """Get one license; its key only for a write key (a read key sees the hint)."""
    license = licenses.get_license(vendor_id=context.vendor_id(), license_id=license_id)
    if context.api_key().scope != ApiKeyScope.WRITE:
        return license
    key = licenses.reveal_key(keyring=context.keyring(), license=license)
    return Revealed(license, key)


@blp.patch("/licenses/<uuid:license_id>")
@blp.arguments(schemas.LicensePatch)
@blp.response(200, schemas.LicenseOut)
@writes
@raises(NotFound)
def update_license(changes: dict[str, Any], license_id: uuid.UUID) -> Any:
    """Change limits, dates, customer fields, notes or metadata."""
    return licenses.update_license(
        license_id=license_id, changes=changes, **context.scoped()
    )


def _status_change(change: str) -> Any:
    def view(license_id: uuid.UUID) -> Any:
        return licenses.change_status(
            license_id=license_id, change=change, **context.scoped()
        )

    view.__doc__ = f"{change.capitalize()} a license."
    view.__name__ = f"{change}_license"
    view = raises(NotFound, licenses.InvalidTransition)(view)
    view = writes(blp.response(200, schemas.LicenseOut)(view))
    return blp.post(
        f"/licenses/<uuid:license_id>/{change}", endpoint=f"{change}_license"
    )(view)


suspend_license = _status_change("suspend")
reinstate_license = _status_change("reinstate")
revoke_license = _status_change("revoke")


@blp.post("/licenses/<uuid:license_id>/renew")
@blp.arguments(schemas.RenewIn)
@blp.response(200, schemas.LicenseOut)
@writes
@raises(NotFound)
def renew_license(args: dict[str, Any], license_id: uuid.UUID) -> Any:
    """Extend expires_at and updates_until by a number of days."""
    return licenses.renew_license(license_id=license_id, **context.scoped(), **args)


@blp.post("/licenses/<uuid:license_id>/regenerate-key")
@blp.response(200, schemas.LicenseOut)
@writes
@raises(NotFound)
def regenerate_key(license_id: uuid.UUID) -> Any:
    """Give a license a new key; the old key stops working at once."""
    license, key = licenses.regenerate_key(license_id=license_id, **context.scoped())
    return Revealed(license, key)


@blp.get("/licenses/<uuid:license_id>/activations")
@blp.arguments(schemas.PageQuery, location="query")
@blp.response(200, schemas.ActivationList)
@reads
@raises(NotFound, InvalidCursor)
def list_license_activations(args: dict[str, Any], license_id: uuid.UUID) -> Any:
    """List a license's activations, live and deactivated."""
    license = licenses.get_license(vendor_id=context.vendor_id(), license_id=license_id)
    return activations.list_for_vendor(
        vendor_id=context.vendor_id(), license_id=license.id, **args
    )


# --- activations --------------------------------------------------------------


@blp.get("/activations")
@blp.arguments(schemas.ActivationQuery, location="query")
@blp.response(200, schemas.ActivationList)
@reads
@raises(errors.InvalidDomain, InvalidCursor)
def list_activations(args: dict[str, Any]) -> Any:
    """List activations across the vendor's licenses, filtered."""
    return activations.list_for_vendor(vendor_id=context.vendor_id(), **args)


@blp.get("/activations/<uuid:activation_id>")
@blp.response(200, schemas.ActivationOut)
@reads
@raises(NotFound)
def get_activation(activation_id: uuid.UUID) -> Any:
    """Get one activation."""
    return activations.get_for_vendor(
        vendor_id=context.vendor_id(), activation_id=activation_id
    )


@blp.post("/activations/<uuid:activation_id>/deactivate")
@blp.response(200, schemas.ActivationOut)
@writes
@raises(NotFound)
def deactivate_activation(activation_id: uuid.UUID) -> Any:
    """Deactivate one activation (the site moved); frees its seat at once."""
    return activations.deactivate_for_vendor(
        keyring=context.keyring(),
        vendor_id=context.vendor_id(),
        activation_id=activation_id,
        actor=context.actor(),
        now=context.now(),
    )


# --- API keys and signing keys ------------------------------------------------------


@blp.post("/api-keys")
@blp.arguments(schemas.ApiKeyIn)
@blp.response(201, schemas.ApiKeyOut)
@writes
def create_api_key(args: dict[str, Any]) -> Any:
    """Create an API key; its `key` is shown in this answer only."""
    key, token = keys_admin.create_api_key(**context.scoped(), **args)
    return Revealed(key, token)


@blp.get("/api-keys")
@blp.response(200, schemas.ApiKeyList)
@reads
def list_api_keys() -> Any:
    """List the vendor's API keys (prefixes only, never the keys)."""
    return {"data": keys_admin.list_api_keys(vendor_id=context.vendor_id())}


@blp.post("/api-keys/<uuid:key_id>/revoke")
@blp.response(200, schemas.ApiKeyOut)
@writes
@raises(NotFound)
def revoke_api_key(key_id: uuid.UUID) -> Any:
    """Revoke an API key; it stops working at once."""
    return keys_admin.revoke_api_key(key_id=key_id, **context.scoped())


@blp.get("/signing-keys")
@blp.response(200, schemas.SigningKeyList)
@reads
def list_signing_keys() -> Any:
    """List the vendor's signing keys and their public JWKs."""
    return {"data": keys_admin.list_signing_keys(vendor_id=context.vendor_id())}


@blp.post("/signing-keys")
@blp.response(201, schemas.SigningKeyOut)
@writes
def create_signing_key() -> Any:
    """Prepare the next signing key: in the JWKS at once, signing once activated."""
    return keys_admin.prepare_signing_key(**context.scoped())


@blp.post("/signing-keys/<uuid:key_id>/activate")
@blp.response(200, schemas.SigningKeyOut)
@writes
@raises(NotFound, keys_admin.SigningKeyRetired)
def activate_signing_key(key_id: uuid.UUID) -> Any:
    """Make a prepared key the signer; the previous one keeps verifying."""
    return keys_admin.activate_signing_key(key_id=key_id, **context.scoped())


@blp.post("/signing-keys/rotate")
@blp.response(201, schemas.SigningKeyOut)
@writes
def rotate_signing_key() -> Any:
    """Create a new key and make it the signer at once."""
    return keys_admin.rotate_signing_key(**context.scoped())


@blp.post("/signing-keys/<uuid:key_id>/retire")
@blp.response(200, schemas.SigningKeyOut)
@writes
@raises(NotFound, keys_admin.SigningKeyInUse)
def retire_signing_key(key_id: uuid.UUID) -> Any:
    """Retire a verifying key; it leaves the JWKS."""
    return keys_admin.retire_signing_key(key_id=key_id, **context.scoped())


# --- events and stats -----------------------------------------------------------


@blp.get("/events")
@blp.arguments(schemas.EventQuery, location="query")
@blp.response(200, schemas.EventList)
@reads
@raises(InvalidCursor)
def list_events(args: dict[str, Any]) -> Any:
    """List the vendor's events, newest first, filtered."""
    return events.list_events(vendor_id=context.vendor_id(), **args)


@blp.get("/stats")
@blp.response(200, schemas.StatsOut)
@reads
def get_stats() -> Any:
    """Licenses by status, active domains, daily activity and updates, per product."""
    from license_server.updates import stats as update_stats

    now = context.now()
    found = stats.vendor_stats(vendor_id=context.vendor_id(), now=now)
    found["updates"] = update_stats.vendor_stats(
        vendor_id=context.vendor_id(), today=now.date()
    )
    return found


# The WordPress client download lives in its own module, on this blueprint.
from license_server.api import admin_wpclient  # noqa: E402,F401
