"""Canonical site domains and development-host detection (PROTOCOL §3).

Every activation is keyed by a canonical domain: the host of a bare name or
URL, stripped of scheme, userinfo-free, port/path/query/fragment dropped, one
trailing dot dropped, mapped with IDNA 2008 + UTS #46 (non-transitional, so
``faß.de`` stays distinct from ``fass.de``) to its lowercase A-label form, and
with one leading ``www.`` label removed.  IP literals are kept as IPs: IPv4 as
the dotted quad, IPv6 as the compressed lowercase hex form without brackets.

A host whose last label is a number (``123``, ``0x7f``) is an IPv4 address by
WHATWG URL's "ends in a number" rule, the one browsers and WordPress's PHP
follow: only the dotted quad is accepted; every other form WHATWG would map to an
address (``0x7f000001``, ``127.0.0.0x1``, ``010.0.0.1``, ``1.2.3``) is refused, so
no spelling of 127.0.0.1 is a public site holding a seat.

IDNA: IDNA 2008 first; a name it refuses only for symbols (emoji, ``❤``) that
UTS #46 accepts (its "NV8" code points, as ICU, WHATWG URL and PHP's
``idn_to_ascii`` all do) is mapped with UTS #46 non-strict, keeping every other
check (STD3 characters, hyphens, joiners, bidi, NFC): a WordPress site on
``i❤.ws`` activates as ``xn--i-7iq.ws``, as its PHP client computes it.

Development hosts (``localhost``, reserved TLDs, loopback/private/link-local
and ``0.0.0.0/8``/``::`` IPs and per-product patterns) do not consume activation
slots.  Matching is always by whole labels, never by substring, and a
``prefix.*`` pattern leaves at least one label in front of a registrable domain
(by the Public Suffix List): ``staging.*`` matches ``staging.shop.com``, never
``staging.com`` or ``staging.co.uk``, which are registrable sites of their own.

The shared test vectors in ``tests/vectors/domains.json`` pin the exact
behaviour for the client library that reimplements these functions.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
import unicodedata
from collections.abc import Sequence

import idna
import idna.core
from publicsuffixlist import PublicSuffixList

__all__ = [
    "MAX_HOST_OCTETS",
    "MAX_LABEL_OCTETS",
    "InvalidDevPattern",
    "InvalidDomain",
    "SiteDomain",
    "canonical_dev_pattern",
    "canonical_domain",
    "classify",
    "is_development_host",
]

MAX_HOST_OCTETS = 253
MAX_LABEL_OCTETS = 63

_ASCII_WHITESPACE = " \t\n\r\f\v"
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_AUTHORITY_END_RE = re.compile(r"[/?#]")
_PORT_RE = re.compile(r"[0-9]{0,5}")
# UTS #46 label separators other than U+002E (they all map to ".").
_FULL_STOPS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})

# a host of lowercase LDH labels, none starting or ending with a hyphen: what IDNA
# maps to itself (no "--" anywhere is checked apart: it leaves out A-labels and
# the hyphens CheckHyphens refuses in a label's third and fourth places)
_PLAIN_HOST_RE = re.compile(
    r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
)
_DEV_TLDS = frozenset({"localhost", "test", "local", "example", "invalid"})
_DEV_IPV4_NETWORKS = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network": browsers reach 0.0.0.0 as this host
        "127.0.0.0/8",  # loopback
        "10.0.0.0/8",  # RFC 1918
        "172.16.0.0/12",  # RFC 1918
        "192.168.0.0/16",  # RFC 1918
        "169.254.0.0/16",  # link-local
    )
)
_DEV_IPV6_NETWORKS = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/128",  # unspecified: this host
        "::1/128",  # loopback
        "fc00::/7",  # unique local addresses
        "fe80::/10",  # link-local
    )
)


class InvalidDomain(ValueError):
    """The input is not a host we can license (PROTOCOL §3)."""

    code = "INVALID_DOMAIN"


class InvalidDevPattern(ValueError):
    """The development-host pattern is malformed or too broad (PROTOCOL §3)."""

    code = "INVALID_DEV_PATTERN"


@dataclasses.dataclass(frozen=True)
class SiteDomain:
    """A canonical domain together with its development classification."""

    name: str
    development: bool


def canonical_domain(raw: str) -> str:
    """Return the canonical form of a bare host or URL, or raise InvalidDomain."""
    if not isinstance(raw, str):
        raise InvalidDomain(f"domain must be a string, not {type(raw).__name__}")
    text = raw.strip(_ASCII_WHITESPACE)
    if not text:
        raise InvalidDomain("domain is empty")
    if any(char.isspace() for char in text):
        raise InvalidDomain("domain must not contain whitespace")
    return _canonical_host(_extract_host(text))


def is_development_host(domain: str, patterns: Sequence[str] = ()) -> bool:
    """Tell whether a canonical domain is a development host."""
    address = _parse_ip(domain)
    if address is not None:
        return _is_development_ip(address) or domain in patterns
    if domain == "localhost":
        return True
    head, dot, tld = domain.rpartition(".")
    if dot and head and tld in _DEV_TLDS:
        return True
    return any(_pattern_matches(domain, pattern) for pattern in patterns)


def canonical_dev_pattern(pattern: str) -> str:
    """Return the canonical form of a development-host pattern."""
    if not isinstance(pattern, str):
        raise InvalidDevPattern(
            f"pattern must be a string, not {type(pattern).__name__}"
        )
    text = pattern.strip(_ASCII_WHITESPACE)
    if not text:
        raise InvalidDevPattern("pattern is empty")
    try:
        if "*" in text:
            return _canonical_wildcard_pattern(text)
        return _canonical_host(text)
    except InvalidDomain as exc:
        raise InvalidDevPattern(f"invalid pattern {pattern!r}: {exc}") from exc


def classify(raw: str, patterns: Sequence[str] = ()) -> SiteDomain:
    """Canonicalise a host or URL and classify it as development or not."""
    name = canonical_domain(raw)
    development = is_development_host(name, patterns)
    return SiteDomain(name=name, development=development)


def _extract_host(text: str) -> str:
    """Strip scheme, path, query, fragment, port; reject userinfo."""
    scheme = _SCHEME_RE.match(text)
    if scheme is not None:
        rest = text[scheme.end() :]
    elif text.startswith("//"):
        rest = text[2:]
    else:
        rest = text
    authority = _AUTHORITY_END_RE.split(rest, maxsplit=1)[0]
    if "@" in authority:
        raise InvalidDomain("userinfo (user@host) is not allowed in a domain")
    return _strip_port(authority)


def _strip_port(authority: str) -> str:
    """Return the host part of an authority, validating any port."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise InvalidDomain("unterminated IPv6 literal")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidDomain("unexpected text after IPv6 literal")
        _check_port(rest[1:])
        return host
    if authority.count(":") >= 2:
        return authority  # a bare IPv6 literal, validated by _canonical_host
    host, _, port = authority.partition(":")
    _check_port(port)
    return host


def _check_port(port: str) -> None:
    """Reject a port that is not empty or a decimal number up to 65535."""
    if not _PORT_RE.fullmatch(port):
        raise InvalidDomain(f"invalid port {port!r}")
    if port and int(port) > 65535:
        raise InvalidDomain(f"port {port} is out of range")


def _canonical_host(host: str) -> str:
    """Canonicalise a bare host: an IP literal or a domain name."""
    if not host:
        raise InvalidDomain("domain has no host")
    if "%" in host:
        raise InvalidDomain("percent-encoded hosts are not allowed")
    if host.startswith("[") or ":" in host:
        return _canonical_ipv6(host)
    name = _canonical_name(host)
    if _ends_in_number(name):
        return _canonical_ipv4(name)
    if name == "www":
        raise InvalidDomain("domain is empty after removing 'www.'")
    return name.removeprefix("www.")


def _canonical_ipv6(host: str) -> str:
    """Canonicalise an IPv6 literal given as ``[addr]`` or as a bare address."""
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        return _format_ipv6(ipaddress.IPv6Address(host[1:-1] if bracketed else host))
    except ValueError:
        if bracketed:
            raise InvalidDomain(f"invalid IPv6 literal {host!r}") from None
        raise InvalidDomain(
            f"invalid host {host!r}: ':' is only allowed in IPv6 literals"
        ) from None


def _canonical_name(host: str) -> str:
    """Drop one trailing dot and map a host name to lowercase A-labels."""
    host = host.translate(_FULL_STOPS)
    host = host.removesuffix(".")
    if "*" in host:
        raise InvalidDomain("wildcards are not allowed in a domain")
    if not host:
        raise InvalidDomain("domain is empty")
    if "" in host.split("."):
        raise InvalidDomain("domain has an empty label")
    name = _to_ascii(host)
    if len(name) > MAX_HOST_OCTETS:
        raise InvalidDomain(f"host is longer than {MAX_HOST_OCTETS} octets")
    labels = name.split(".")
    if "" in labels or any(len(label) > MAX_LABEL_OCTETS for label in labels):
        raise InvalidDomain(f"labels must be 1 to {MAX_LABEL_OCTETS} octets long")
    return name


def _to_ascii(host: str) -> str:
    """Map a host name to lowercase A-labels: IDNA 2008, else UTS 46 non-strict.

    The usual host (ASCII letters, digits and single hyphens) is its own A-label
    form once lowercased: it skips the IDNA tables (about 13 µs a host; the
    per-process cache of canonical domains does not hold every site of a large
    vendor).
    """
    if host.isascii():
        lowered = host.lower()
        if "--" not in lowered and _PLAIN_HOST_RE.fullmatch(lowered):
            return lowered
    return _idna_to_ascii(host)


def _idna_to_ascii(host: str) -> str:
    """:func:`_to_ascii` through the IDNA tables, for every host."""
    try:
        # uts46=True with the (default) non-transitional processing of
        # IDNA 2008; never the stdlib "idna" codec (IDNA 2003).
        return idna.encode(host, uts46=True, std3_rules=True).decode("ascii").lower()
    except ValueError as strict:  # idna.IDNAError is a UnicodeError
        try:
            return _to_ascii_nonstrict(host)
        except ValueError:
            raise InvalidDomain(f"not a valid IDNA host name: {strict}") from strict


def _to_ascii_nonstrict(host: str) -> str:
    """UTS 46 ToASCII, non-transitional, STD3, CheckHyphens/Joiners/Bidi (as ICU)."""
    mapped = idna.uts46_remap(host, std3_rules=True, transitional=False)
    labels = []
    for label in mapped.split("."):
        if label.startswith("xn--"):
            unicode_label = label[4:].encode("ascii").decode("punycode")
            if unicode_label.isascii():
                raise ValueError("an A-label of ASCII only")
            if idna.uts46_remap(unicode_label, True, False) != unicode_label:
                raise ValueError("an A-label that is not in mapped form")
            _check_unicode_label(unicode_label)
            labels.append(label)
        elif label.isascii():
            idna.core.check_hyphen_ok(label)
            labels.append(label)
        else:
            _check_unicode_label(label)
            labels.append("xn--" + label.encode("punycode").decode("ascii"))
    return ".".join(labels).lower()


def _check_unicode_label(label: str) -> None:
    """The UTS 46 validity criteria beyond the mapping table; raise ValueError."""
    if not label or not unicodedata.is_normalized("NFC", label):
        raise ValueError("a label is empty or not in NFC")
    if unicodedata.category(label[0]).startswith("M"):
        raise ValueError("a label starts with a combining mark")
    idna.core.check_hyphen_ok(label)
    for position, char in enumerate(label):
        if char in "\u200c\u200d" and not idna.core.valid_contextj(label, position):
            raise ValueError("a joiner out of context")
    idna.core.check_bidi(label)


def _ends_in_number(name: str) -> bool:
    """WHATWG URL's rule: the last label is decimal digits, or ``0x`` and hex."""
    last = name.rpartition(".")[2]
    if last.isascii() and last.isdigit():
        return True
    return re.fullmatch(r"0x[0-9a-f]*", last) is not None


def _canonical_ipv4(name: str) -> str:
    """Return a dotted-quad IPv4 literal; any other numeric host is invalid."""
    try:
        return str(ipaddress.IPv4Address(name))
    except ValueError:
        # WHATWG reads hex, octal and short forms as addresses: refused, not mapped
        raise InvalidDomain(
            f"{name!r} ends in a number but is not a dotted-quad IPv4 address"
        ) from None


def _format_ipv6(address: ipaddress.IPv6Address) -> str:
    """Format an IPv6 address as compressed lowercase hex (RFC 5952, no dots)."""
    value = int(address)
    groups = [f"{(value >> (112 - 16 * i)) & 0xFFFF:x}" for i in range(8)]
    best_start, best_len, run_start = -1, 1, -1
    for index, group in enumerate([*groups, "end"]):
        if group == "0":
            run_start = index if run_start < 0 else run_start
            continue
        if run_start >= 0 and index - run_start > best_len:
            best_start, best_len = run_start, index - run_start
        run_start = -1
    if best_start < 0:
        return ":".join(groups)
    head = ":".join(groups[:best_start])
    tail = ":".join(groups[best_start + best_len :])
    return f"{head}::{tail}"


def _parse_ip(domain: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Return the IP address a canonical domain denotes, or None for names."""
    try:
        return ipaddress.ip_address(domain)
    except ValueError:
        return None


def _is_development_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Tell whether an IP is loopback, private (RFC 1918 / ULA) or link-local."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is None:
            return any(address in net for net in _DEV_IPV6_NETWORKS)
        address = mapped
    return any(address in net for net in _DEV_IPV4_NETWORKS)


def _pattern_matches(domain: str, pattern: str) -> bool:
    """Match a canonical domain name against one canonical pattern by labels."""
    if pattern.startswith("*."):
        return domain.endswith(pattern[1:])
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        if not domain.startswith(prefix):
            return False
        # what the '*' covers must hold a registrable domain, not be a suffix
        return _public_suffixes().privatesuffix(domain[len(prefix) :]) is not None
    return domain == pattern


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """The Public Suffix List snapshot shipped in the package (no network)."""
    return PublicSuffixList()


@functools.cache
def _icann_suffixes() -> PublicSuffixList:
    """Its ICANN section only (TLDs and registries' own second levels)."""
    return PublicSuffixList(only_icann=True)


def _canonical_wildcard_pattern(text: str) -> str:
    """Canonicalise a ``*.suffix`` or ``prefix.*`` pattern."""
    text = text.removesuffix(".")
    if text.count("*") != 1:
        raise InvalidDevPattern(f"pattern {text!r} must contain exactly one '*'")
    if text.startswith("*."):
        fixed = _canonical_name(text[2:])
        if "." not in fixed:
            raise InvalidDevPattern(f"pattern {text!r} would cover a whole TLD")
        if _icann_suffixes().is_public(fixed):
            raise InvalidDevPattern(
                f"pattern {text!r} would cover a public suffix (every site on it)"
            )
        if fixed.rpartition(".")[2].isdigit():
            raise InvalidDevPattern(f"pattern {text!r} would match IP addresses only")
        return f"*.{fixed}"
    if text.endswith(".*"):
        return f"{_canonical_name(text[:-2])}.*"
    raise InvalidDevPattern(f"'*' must be a whole first or last label in {text!r}")
