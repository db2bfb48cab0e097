"""Admin route: a product's WordPress client, built with a vendor prefix, as a ZIP.

The same build as ``license-server wp-client`` (see :mod:`license_server.wpclient`),
so the dashboard can offer it as a download. Read scope is enough: it holds only
public keys.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, request
from marshmallow import Schema, fields, validate

from license_server import errors
from license_server.api import context
from license_server.api.admin import blp, reads
from license_server.api.raises import raises
from license_server.wpclient import build


class WpClientQuery(Schema):
    """Query of the WordPress client download."""

    prefix = fields.String(
        load_default=None,
        validate=validate.Regexp(build.PREFIX.pattern + "$"),
        metadata={
            "description": "Class and option prefix, e.g. Acme; derived from the "
            "product slug when omitted (victim-theme: VictimTheme)."
        },
    )
    server_url = fields.Url(
        load_default=None,
        schemes={"http", "https"},
        require_tld=False,
        metadata={"description": "The URL sites reach; this server's when omitted."},
    )


@blp.get("/products/<uuid:product_id>/wp-client")
@blp.arguments(WpClientQuery, location="query")
@blp.response(200, content_type="application/zip", description="The client folder.")
@reads
@raises(errors.NotFound)
def download_wp_client(args: dict[str, Any], product_id: uuid.UUID) -> Any:
    """Build the product's WordPress client with a prefix; answer it as a ZIP."""
    pinned = build.build_for_product(
        vendor_id=context.vendor_id(),
        product_id=product_id,
        server_url=args["server_url"] or request.host_url,
    )
    prefix = args["prefix"] or build.default_prefix(pinned.product)
    folder = f"{prefix.lower()}-license"
    data = build.zip_bytes(build.build_files(pinned, prefix), folder)
    answer = Response(data, mimetype="application/zip")
    answer.headers["Content-Disposition"] = f'attachment; filename="{folder}.zip"'
    return answer
