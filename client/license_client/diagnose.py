"""What a site owner should check when the server's answer cannot be trusted.

A wrong issuer, product, domain or pinned key in the theme's configuration makes
every answer fail verification. The client then says which claim differed and
which setting to check (and logs it at WARNING), instead of a bare "could not be
verified".
"""

from __future__ import annotations

from license_client.exceptions import ClaimMismatch, KeyUnknown, SignatureInvalid

_SETTINGS = {
    "iss": ("issuer", "the theme's issuer setting (the vendor's `iss`)"),
    "aud": ("product", "the theme's product slug"),
    "dom": ("domain", "the site's domain setting"),
}
_KEY_HINT = (
    "The answer is signed by a key this theme does not pin: check the theme's "
    "public key (after a key rotation, ship the vendor's new key)."
)


def configuration_hint(error: BaseException) -> str | None:
    """Return what to check for a verification failure a setting explains, or None."""
    if isinstance(error, ClaimMismatch) and error.claim in _SETTINGS:
        what, setting = _SETTINGS[error.claim]
        return (
            f"The answer is for {what} {error.found!r}, but this theme expects "
            f"{error.expected!r}: check {setting}."
        )
    if isinstance(error, KeyUnknown | SignatureInvalid):
        return _KEY_HINT
    return None
