"""Result codes and the checks that choose one, in the protocol's order (§4).

:func:`decide` is a pure function of the rows :mod:`.state` reads and the time:
no database, no Flask, no clock of its own. One parametrised table of tests covers
every code and the order in which they win.
"""

from __future__ import annotations

import enum
from datetime import datetime

from license_server.models import ExpiryPolicy, LicenseStatus
from license_server.validation.state import LicenseState, ProductInfo


class ResultCode(enum.StrEnum):
    """Result codes (PROTOCOL §4), in the order they are checked."""

    NOT_FOUND = "NOT_FOUND"
    PRODUCT_MISMATCH = "PRODUCT_MISMATCH"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    DOMAIN_NOT_ACTIVATED = "DOMAIN_NOT_ACTIVATED"
    VALID = "VALID"
    ACTIVATION_LIMIT_REACHED = "ACTIVATION_LIMIT_REACHED"


DETAILS = {
    ResultCode.NOT_FOUND: "No license with this key exists for this product's vendor.",
    ResultCode.PRODUCT_MISMATCH: "This license key belongs to another product.",
    ResultCode.REVOKED: "This license has been revoked.",
    ResultCode.SUSPENDED: "This license is suspended.",
    ResultCode.EXPIRED: "This license has expired.",
    ResultCode.DOMAIN_NOT_ACTIVATED: "This domain is not activated for this license.",
    ResultCode.VALID: "The license is valid for this domain.",
    ResultCode.ACTIVATION_LIMIT_REACHED: (
        "Every domain this license allows is taken; deactivate one first."
    ),
}
# codes whose answer describes no license of this product (no ``lic`` claim)
NO_LICENSE_CLAIM = frozenset({ResultCode.NOT_FOUND, ResultCode.PRODUCT_MISMATCH})


def license_code(
    state: LicenseState | None, product: ProductInfo, now: datetime
) -> ResultCode:
    """Check the license itself (up to EXPIRED); VALID if nothing stands against it.

    A license of another vendor is NOT_FOUND, exactly as an unknown key is.
    """
    if state is None or state.vendor_id != product.vendor_id:
        return ResultCode.NOT_FOUND
    if state.product_id != product.id:
        return ResultCode.PRODUCT_MISMATCH
    if state.status == LicenseStatus.REVOKED:
        return ResultCode.REVOKED
    if state.status == LicenseStatus.SUSPENDED:
        return ResultCode.SUSPENDED
    expired = state.expires_at is not None and state.expires_at <= now
    if expired and product.expiry_policy == ExpiryPolicy.RESTRICT:
        return ResultCode.EXPIRED
    return ResultCode.VALID


def decide(
    state: LicenseState | None, product: ProductInfo, now: datetime
) -> ResultCode:
    """Return the validate answer's code: the license's, then the domain's."""
    code = license_code(state, product, now)
    if code is ResultCode.VALID and state is not None and state.activation_id is None:
        return ResultCode.DOMAIN_NOT_ACTIVATED
    return code
