"""Canonical site domains and development hosts, as the server computes them (§3).

A bare host or a URL is reduced to its host: scheme, port, path, query and fragment
are dropped; userinfo, wildcards, empty labels, percent-encoding and hosts over 253
octets are refused. One trailing dot goes, the name is mapped with IDNA 2008 +
UTS 46 (the ``idna`` package, non-transitional: ``faß.de`` stays ``xn--fa-hia.de``;
Python's own ``idna`` codec would say ``fass.de``) to lowercase A-labels, and one
leading ``www.`` label is dropped. IPv4 literals stay dotted quads; IPv6 literals
become compressed lowercase hex without brackets.

A host whose last label is a number (``0x7f000001``, ``127.0.0.0x1``) is an IPv4
address by WHATWG URL's "ends in a number" rule: only the dotted quad is accepted.
A name IDNA 2008 refuses only for symbols UTS 46 accepts (emoji, ``❤``, as ICU,
WHATWG URL and PHP do) is mapped with UTS 46 non-strict. A ``prefix.*`` pattern
matches only with a registrable domain (Public Suffix List) after the prefix.

This is the client's own implementation: it never imports the server. The shared
vectors in ``tests/vectors/domains.json`` prove the two agree.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from collections.abc import Iterable

import idna
import idna.core
from publicsuffixlist import PublicSuffixList

from license_client.exceptions import DomainInvalid

__all__ = ["canonical_domain", "canonical_pattern", "is_development_host"]

_MAX_HOST = 253
_MAX_LABEL = 63
_SPACE = " \t\n\r\f\v"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_PORT = re.compile(r"\d{0,5}")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_DEV_TLDS = frozenset({"localhost", "test", "local", "example", "invalid"})
_DEV_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "::/128",
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def canonical_domain(raw: str) -> str:
    """Return the canonical domain of a host or URL; raise DomainInvalid."""
    if not isinstance(raw, str):
        raise DomainInvalid("a domain must be text")
    text = raw.strip(_SPACE)
    if not text or any(char.isspace() for char in text):
        raise DomainInvalid("a domain must be non-empty and contain no spaces")
    return _canonical_host(_host_of(text))


def canonical_pattern(pattern: str) -> str:
    """Return the canonical form of a development-host pattern (``*.x.y``, ``x.*``)."""
    text = pattern.strip(_SPACE).removesuffix(".")
    if text.startswith("*.") and text.count("*") == 1:
        return "*." + _canonical_name(text[2:])
    if text.endswith(".*") and text.count("*") == 1:
        return _canonical_name(text[:-2]) + ".*"
    return _canonical_host(text)


def is_development_host(domain: str, patterns: Iterable[str] = ()) -> bool:
    """Tell whether a canonical domain is a development host (whole labels only)."""
    patterns = tuple(patterns)
    try:
        address = ipaddress.ip_address(domain)
    except ValueError:
        address = None
    if address is not None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        in_dev_net = any(address in net for net in _DEV_NETWORKS)
        return in_dev_net or domain in patterns
    labels = domain.split(".")
    if domain == "localhost" or (len(labels) > 1 and labels[-1] in _DEV_TLDS):
        return True
    return any(_matches(domain, pattern) for pattern in patterns)


def _matches(domain: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return domain.endswith(pattern[1:])
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        rest = domain[len(prefix) :]
        return domain.startswith(prefix) and _psl().privatesuffix(rest) is not None
    return domain == pattern


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the snapshot in the package; no network


def _host_of(text: str) -> str:
    """Return the host of a URL or bare authority, checking any port."""
    scheme = _SCHEME.match(text)
    if scheme:
        text = text[scheme.end() :]
    elif text.startswith("//"):
        text = text[2:]
    authority = re.split(r"[/?#]", text, maxsplit=1)[0]
    if "@" in authority:
        raise DomainInvalid("user@host is not a domain")
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise DomainInvalid("unterminated IPv6 literal")
        rest = authority[close + 1 :]
        if rest and rest[0] != ":":
            raise DomainInvalid("text after an IPv6 literal")
        _check_port(rest[1:])
        return authority[: close + 1]
    if authority.count(":") > 1:
        return authority  # a bare IPv6 literal
    host, _, port = authority.partition(":")
    _check_port(port)
    return host


def _check_port(port: str) -> None:
    if not _PORT.fullmatch(port) or (port and int(port) > 65535):
        raise DomainInvalid(f"invalid port {port!r}")


def _canonical_host(host: str) -> str:
    if not host or "%" in host:
        raise DomainInvalid("empty or percent-encoded host")
    if host.startswith("[") or ":" in host:
        literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            return _ipv6_text(ipaddress.IPv6Address(literal))
        except ValueError:
            raise DomainInvalid(f"invalid IPv6 literal {host!r}") from None
    name = _canonical_name(host)
    last = name.rsplit(".", 1)[-1]
    if last.isdigit() or re.fullmatch(r"0x[0-9a-f]*", last):
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise DomainInvalid(f"{name!r} is not a dotted-quad IPv4") from None
    if name == "www":
        raise DomainInvalid("nothing is left after 'www.'")
    return name.removeprefix("www.")


def _canonical_name(host: str) -> str:
    """Map a host name to lowercase A-labels (IDNA 2008 + UTS 46, STD3 rules)."""
    host = host.translate(_DOTS).removesuffix(".")
    if not host or "*" in host or "" in host.split("."):
        raise DomainInvalid("empty label or wildcard in domain")
    try:
        name = idna.encode(host, uts46=True, std3_rules=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        try:
            name = _nonstrict(host)
        except ValueError:
            raise DomainInvalid(f"not a valid IDNA host name: {exc}") from None
    labels = name.split(".")
    if len(name) > _MAX_HOST or not all(0 < len(x) <= _MAX_LABEL for x in labels):
        raise DomainInvalid("host or label too long")
    return name


def _nonstrict(host: str) -> str:
    """UTS 46 ToASCII, non-transitional, STD3, hyphens, joiners, bidi (as ICU)."""
    out = []
    for label in idna.uts46_remap(host, std3_rules=True, transitional=False).split("."):
        ulabel = label[4:].encode().decode("punycode") if label[:4] == "xn--" else label
        if ulabel.isascii():
            if label[:4] == "xn--":
                raise ValueError("an A-label of ASCII only")
            idna.core.check_hyphen_ok(ulabel)
            out.append(label)
            continue
        if idna.uts46_remap(ulabel, True, False) != ulabel:
            raise ValueError("not in mapped form")
        if not unicodedata.is_normalized("NFC", ulabel) or unicodedata.category(
            ulabel[0]
        ).startswith("M"):
            raise ValueError("not NFC, or a leading combining mark")
        idna.core.check_hyphen_ok(ulabel)
        for at, char in enumerate(ulabel):
            if char in "\u200c\u200d" and not idna.core.valid_contextj(ulabel, at):
                raise ValueError("a joiner out of context")
        idna.core.check_bidi(ulabel)
        out.append("xn--" + ulabel.encode("punycode").decode("ascii"))
    return ".".join(out).lower()


def _ipv6_text(address: ipaddress.IPv6Address) -> str:
    """Format RFC 5952 style: lowercase, longest zero run (> 1 group) as ``::``."""
    groups = [f"{(int(address) >> (112 - 16 * i)) & 0xFFFF:x}" for i in range(8)]
    best, best_len, index = -1, 1, 0
    while index < 8:
        end = index
        while end < 8 and groups[end] == "0":
            end += 1
        if end - index > best_len:
            best, best_len = index, end - index
        index = max(end, index + 1)
    if best < 0:
        return ":".join(groups)
    return ":".join(groups[:best]) + "::" + ":".join(groups[best + best_len :])
