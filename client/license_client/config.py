"""Client configuration: one frozen dataclass, checked when the theme boots.

Everything a theme ships is here: the server, the vendor's issuer id and pinned
public keys, the product (slug and display name), this site's domain, where the
theme options page is, and where state is kept. Bad values raise
:class:`~license_client.exceptions.ConfigInvalid` at construction, so a broken
setup fails loudly at boot and never on a visitor's page.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from license_client.domains import canonical_domain, canonical_pattern
from license_client.exceptions import ConfigInvalid, DomainInvalid
from license_client.pinning import KeySource, PinnedKeys, load_public_keys
from license_client.store import MemoryStore, Store
from license_client.transport import StdlibTransport, Transport

__all__ = ["ClientConfig", "utc_now"]

DAY = 86400


def utc_now() -> datetime:
    """Return the current time, aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ClientConfig:
    """How a theme talks to its vendor's license server and what it trusts.

    ``public_keys`` accepts any form :func:`~license_client.load_public_keys` does
    and holds ``{kid: Ed25519PublicKey}`` afterwards; ``domain`` accepts a host or
    URL and holds its canonical form (PROTOCOL §3) afterwards.
    """

    server_url: str
    issuer: str
    product: str
    product_name: str
    public_keys: PinnedKeys | KeySource
    domain: str
    settings_url: str
    store: Store = field(default_factory=MemoryStore)
    timeout: float = 5.0  # hard limit on one HTTP exchange, in seconds
    transport: Transport = field(default_factory=StdlibTransport)
    clock_skew: int = 300  # how far iat may be ahead of the local clock (§1)
    rollback_tolerance: int = 3600  # local time this far behind server time: notice
    show_notice_publicly: bool = False  # also on public pages (never on dev hosts)
    dev_patterns: tuple[str, ...] = ()  # the product's development-host patterns
    refresh_interval: int = DAY  # re-validate at most this often when all is well
    refresh_margin: int = 2 * DAY  # re-validate this long before exp (or at half-life)
    backoff_initial: int = 300  # first retry delay after a failure, doubling...
    backoff_max: int = DAY  # ...up to this
    theme_version: str | None = None  # sent as ``version`` on validation
    clock: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.server_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigInvalid("server_url must be an http(s) URL")
        for name in ("issuer", "product", "product_name"):
            value: Any = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigInvalid(f"{name} must be a non-empty string")
        if not _safe_link(self.settings_url, self.domain):
            raise ConfigInvalid(
                "settings_url must be a path on this site or an http(s) URL of "
                "this site's own domain"
            )
        if not 0 < self.timeout <= 60:
            raise ConfigInvalid("timeout must be between 0 and 60 seconds")
        try:
            domain = canonical_domain(self.domain)
            patterns = tuple(canonical_pattern(p) for p in self.dev_patterns)
        except DomainInvalid as exc:
            raise DomainInvalid(f"domain {self.domain!r}: {exc}") from None
        keys = load_public_keys(self.public_keys)
        object.__setattr__(self, "server_url", self.server_url.rstrip("/"))
        object.__setattr__(self, "domain", domain)
        object.__setattr__(self, "dev_patterns", patterns)
        object.__setattr__(self, "public_keys", keys)

    @property
    def pinned_keys(self) -> PinnedKeys:
        """Return the pinned keys as ``{kid: Ed25519PublicKey}``."""
        return cast(PinnedKeys, self.public_keys)


def _safe_link(url: str, domain: str) -> bool:
    """Allow a path on this site, or an http(s) URL of this site's own domain.

    Browsers read ``\\`` as ``/``, so ``/\\evil.com`` is the scheme-relative URL
    ``//evil.com``: no backslash, control character or space is allowed anywhere,
    and a path is one ``/`` then not another.
    """
    if not isinstance(url, str) or not url or len(url) > 2048:
        return False
    if "\\" in url or any(c.isspace() or not c.isprintable() for c in url):
        return False
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme or parsed.netloc:
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            return False
        if parsed.username is not None or parsed.password is not None:
            return False
        try:
            return canonical_domain(parsed.hostname) == canonical_domain(domain)
        except DomainInvalid:
            return False
    return url.startswith("/") and not url.startswith("//")
