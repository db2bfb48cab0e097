"""EDD bundles: a bundle's own key answers for each of its items, through the child.

EDD sells a bundle as one licence for the bundle download plus one child licence
(with its own key, seats and sites) per bundled download, and refuses to activate
the bundle's own key (``license_not_activable``: "use the product specific key").
Here a request that sends the bundle's key **and names one of its items** (by
``item_id`` or ``item_name``, as every EDD updater does) is answered exactly as if
it had sent that item's child key: the child's seats, sites, status and releases.
A bundle key that names no item of the bundle keeps EDD's answers (activation:
``license_not_activable``; deactivation: ``failed``). Our own ``/v1`` endpoints
take the child keys (the bundle key is a licence of the bundle's product there).
"""

from __future__ import annotations

from sqlalchemy import select

from license_server.compat import edd_items
from license_server.extensions import db
from license_server.models import EddLicense, License


def is_bundle(license: License) -> bool:
    """Return whether ``license`` is a bundle's own licence."""
    facts = db.session.get(EddLicense, license.id)
    return facts is not None and facts.bundle


def child_for(
    license: License, item_id: int | None, item_name: str | None
) -> License | None:
    """Return the bundle licence's child for the item a request names, or None."""
    facts = db.session.get(EddLicense, license.id)
    if facts is None or not facts.bundle:
        return None
    product = None
    if item_id:
        product = edd_items.product_for_item_id(license.vendor_id, item_id)
    elif item_name:
        product = edd_items.product_for_item_name(license.vendor_id, item_name)
    if product is None or product.id == license.product_id:
        return None
    found: License | None = db.session.scalar(
        select(License)
        .join(EddLicense, EddLicense.license_id == License.id)
        .where(
            EddLicense.vendor_id == license.vendor_id,
            EddLicense.parent_edd_id == facts.edd_id,
            License.product_id == product.id,
        )
    )
    return found
