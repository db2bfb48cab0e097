"""What the client tells the theme: the status, the outcome of a call, the notice.

``State`` is VALID (a trusted positive token), INVALID (a trusted, signed negative
answer: revoked, suspended, ...) or UNKNOWN (no trusted answer: nothing stored, the
token is past ``exp + grace``, the clock was set back). A network failure is never
INVALID (PROTOCOL §1). Any state but VALID shows the notice (PROTOCOL §6).
"""

from __future__ import annotations

import enum
import html
from dataclasses import dataclass
from datetime import datetime

from license_client.exceptions import ClaimMismatch, KeyUnknown, SignatureInvalid
from license_client.verify import LicenseInfo

__all__ = ["NOTICE_TEXT", "Code", "Notice", "Outcome", "State", "Status", "message"]

NOTICE_TEXT = (
    "{theme} License is not validated, Go to the theme options page to validate "
    "the license, You need a single license for each domain name."
)
_LINK_TEXT = "theme options page"


class State(enum.StrEnum):
    """Whether the site may use the theme, as far as the client can trust."""

    VALID = "VALID"
    INVALID = "INVALID"
    UNKNOWN = "UNKNOWN"


class Code(enum.StrEnum):
    """Result codes: the server's (PROTOCOL §4) and the client's own."""

    VALID = "VALID"
    NOT_FOUND = "NOT_FOUND"
    PRODUCT_MISMATCH = "PRODUCT_MISMATCH"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    DOMAIN_NOT_ACTIVATED = "DOMAIN_NOT_ACTIVATED"
    ACTIVATION_LIMIT_REACHED = "ACTIVATION_LIMIT_REACHED"
    NO_LICENSE = "NO_LICENSE"
    DEACTIVATED = "DEACTIVATED"
    INVALID_KEY_FORMAT = "INVALID_KEY_FORMAT"
    NETWORK_ERROR = "NETWORK_ERROR"
    BAD_ANSWER = "BAD_ANSWER"
    UNTRUSTED_ANSWER = "UNTRUSTED_ANSWER"
    SERVER_ERROR = "SERVER_ERROR"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105 - a result code
    CLOCK_ROLLBACK = "CLOCK_ROLLBACK"
    STORE_ERROR = "STORE_ERROR"


_MESSAGES = {
    Code.VALID: "The license is valid for this domain.",
    Code.NOT_FOUND: "No license with this key exists for this theme.",
    Code.PRODUCT_MISMATCH: "This license key belongs to another product.",
    Code.REVOKED: "This license has been revoked.",
    Code.SUSPENDED: "This license is suspended.",
    Code.EXPIRED: "This license has expired.",
    Code.DOMAIN_NOT_ACTIVATED: "This domain is not activated for this license.",
    Code.ACTIVATION_LIMIT_REACHED: (
        "Every domain this license allows is taken; deactivate one first."
    ),
    Code.NO_LICENSE: "No license has been activated on this site.",
    Code.DEACTIVATED: "The license was deactivated on this domain.",
    Code.INVALID_KEY_FORMAT: "That is not a valid license key; check it for typos.",
    Code.NETWORK_ERROR: "The license server could not be reached; try again later.",
    Code.BAD_ANSWER: "The license server's answer could not be read.",
    Code.UNTRUSTED_ANSWER: "The license server's answer could not be verified.",
    Code.SERVER_ERROR: "The license server refused the request.",
    Code.TOKEN_EXPIRED: "The license has not been confirmed for too long.",
    Code.CLOCK_ROLLBACK: "This server's clock is behind; the license is not trusted.",
    Code.STORE_ERROR: "The license state could not be saved.",
}


# A wrong issuer, product, domain or pinned key in the theme's settings makes every
# answer fail verification: say which claim differed and which setting to check.
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


def message(code: str) -> str:
    """Return the human message for a result code (server or client)."""
    known = Code.__members__.get(code)
    if known is not None:
        return _MESSAGES[known]
    return f"The license server answered {code}."


@dataclass(frozen=True, slots=True)
class Status:
    """The license status of this site, from the stored, verified token."""

    state: State
    code: str
    message: str
    domain: str
    license: LicenseInfo | None = None
    checked_at: datetime | None = None  # server time of the trusted answer (iat)
    expires_at: datetime | None = None  # the token's exp
    trusted_until: datetime | None = None  # exp + grace
    in_grace: bool = False  # past exp, still trusted: the server was not reached

    @property
    def valid(self) -> bool:
        """Return whether the theme is licensed on this domain."""
        return self.state is State.VALID


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of an online call (activate, refresh, deactivate)."""

    ok: bool
    code: str
    message: str
    status: Status


@dataclass(frozen=True, slots=True)
class Notice:
    """The "License is not validated" notice, as plain text and as escaped HTML."""

    text: str
    html: str

    def __html__(self) -> str:
        """Return the HTML form (for Jinja's and markupsafe's autoescaping)."""
        return self.html


def render_notice(theme: str, settings_url: str) -> Notice:
    """Build the notice of PROTOCOL §6 for a theme name and settings-page URL."""
    text = NOTICE_TEXT.format(theme=theme)
    before, after = NOTICE_TEXT.split(_LINK_TEXT)
    link = (
        f'<a href="{html.escape(settings_url, quote=True)}">'
        f"{html.escape(_LINK_TEXT)}</a>"
    )
    body = (
        html.escape(before.format(theme=theme))
        + link
        + html.escape(after.format(theme=theme))
    )
    markup = (
        '<div class="license-client-notice" role="alert" style="'
        "background:#b32d2e;color:#fff;padding:10px 16px;margin:0;"
        'font:14px/1.4 sans-serif;position:relative;z-index:99999">'
        "<style>.license-client-notice a{color:inherit;text-decoration:underline}"
        f"</style>{body}</div>"
    )
    return Notice(text=text, html=markup)
