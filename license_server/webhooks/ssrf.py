"""Where a webhook may go: no private, loopback or link-local receivers (SSRF).

A URL's host is resolved and *every* address it resolves to must be public, or in
a network the operator allow-listed (``LICENSE_SERVER_WEBHOOK_ALLOWED_NETWORKS``).
The transport then connects to the vetted address itself, so a second lookup (DNS
rebinding) cannot swap in another. Only ``https`` is allowed unless the operator
allow-lists more schemes (``LICENSE_SERVER_WEBHOOK_ALLOWED_SCHEMES``, for tests).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
DEFAULT_PORTS = {"https": 443, "http": 80}


class UnsafeTarget(Exception):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    """A vetted receiver: where to connect, and what to name in Host and SNI."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the system resolver; return every address."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class Policy:
    """The operator's allow-lists: schemes beyond https, networks beyond public."""

    schemes: Sequence[str] = ("https",)
    networks: Sequence[IPNetwork] = ()
    resolve: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_config(cls, schemes: str, networks: str) -> Policy:
        """Build a policy from comma-separated settings."""
        return cls(
            schemes=tuple(s.strip() for s in schemes.split(",") if s.strip()),
            networks=tuple(
                ipaddress.ip_network(n.strip(), strict=False)
                for n in networks.split(",")
                if n.strip()
            ),
        )

    def allows(self, address: IPAddress) -> bool:
        """Tell whether webhooks may be sent to ``address``."""
        return _public(address) or any(address in net for net in self.networks)

    def check_url(self, url: str) -> tuple[str, str, int, str]:
        """Check a URL's shape; return scheme, host, port and path (no lookup)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or scheme not in self.schemes:
            raise UnsafeTarget(f"the URL must use {' or '.join(self.schemes)}")
        if not parts.hostname:
            raise UnsafeTarget("the URL has no host")
        if parts.username or parts.password:
            raise UnsafeTarget("the URL may not carry credentials")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise UnsafeTarget("the URL's port is not valid") from exc
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return scheme, parts.hostname, port, path

    def vet(self, url: str) -> Target:
        """Resolve ``url``'s host; refuse it unless every address is allowed."""
        scheme, host, port, path = self.check_url(url)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = [ipaddress.ip_address(a) for a in self.resolve(host, port)]
        if not addresses:
            raise UnsafeTarget(f"{host} resolves to no address")
        refused = [str(a) for a in addresses if not self.allows(a)]
        if refused:
            raise UnsafeTarget(
                f"{host} resolves to a private, loopback or link-local address "
                f"({', '.join(refused)}); allow-list its network to permit it"
            )
        return Target(scheme, host, port, path, str(addresses[0]))
