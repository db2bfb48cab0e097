"""Tests for license_server.domains: shared vectors, patterns and properties."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList

from license_server import domains
from license_server.domains import (
    MAX_HOST_OCTETS,
    InvalidDevPattern,
    InvalidDomain,
    SiteDomain,
    canonical_dev_pattern,
    canonical_domain,
    classify,
    is_development_host,
)

VECTORS_PATH = Path(__file__).parent.parent / "vectors" / "domains.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))[
    "vectors"
]

# the public suffix list, parsed once (some 10,000 rules: 0.1 s of CPU a parse)
PSL = PublicSuffixList()
PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _vector_id(vector: dict[str, Any]) -> str:
    text = (
        vector["input"] if len(vector["input"]) <= 40 else vector["input"][:37] + "..."
    )
    patterns = vector.get("patterns")
    return f"{text!r}+{patterns}" if patterns else repr(text)


# --------------------------------------------------------------------------
# Shared vectors
# --------------------------------------------------------------------------


def test_vector_file_shape() -> None:
    document = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    assert isinstance(document["description"], str)
    assert len(VECTORS) >= 60
    seen = set()
    for vector in VECTORS:
        assert set(vector) <= {"input", "canonical", "error", "development", "patterns"}
        assert isinstance(vector["input"], str)
        if vector["error"] is None:
            assert isinstance(vector["canonical"], str)
            assert isinstance(vector["development"], bool)
        else:
            assert vector["error"] == "INVALID_DOMAIN"
            assert vector["canonical"] is None
            assert vector["development"] is None
        key = (vector["input"], tuple(vector.get("patterns", [])))
        assert key not in seen, f"duplicate vector {key!r}"
        seen.add(key)


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_vector(vector: dict[str, Any]) -> None:
    patterns = vector.get("patterns", [])
    for pattern in patterns:
        assert canonical_dev_pattern(pattern) == pattern, (
            "vector patterns are canonical"
        )
    if vector["error"] is not None:
        with pytest.raises(InvalidDomain) as excinfo:
            classify(vector["input"], patterns)
        assert excinfo.value.code == vector["error"]
        assert str(excinfo.value)
        return
    expected = SiteDomain(name=vector["canonical"], development=vector["development"])
    assert classify(vector["input"], patterns) == expected
    assert canonical_domain(vector["input"]) == expected.name
    assert is_development_host(expected.name, patterns) is expected.development


# --------------------------------------------------------------------------
# API details
# --------------------------------------------------------------------------


def test_error_codes_and_types() -> None:
    assert InvalidDomain.code == "INVALID_DOMAIN"
    assert InvalidDevPattern.code == "INVALID_DEV_PATTERN"
    assert issubclass(InvalidDomain, ValueError)
    assert issubclass(InvalidDevPattern, ValueError)
    assert MAX_HOST_OCTETS == 253


@pytest.mark.parametrize("value", [None, b"example.com", 42, ["example.com"]])
def test_non_string_input_is_invalid(value: Any) -> None:
    with pytest.raises(InvalidDomain):
        canonical_domain(value)
    with pytest.raises(InvalidDevPattern):
        canonical_dev_pattern(value)


def test_site_domain_is_frozen() -> None:
    site = classify("Example.com")
    with pytest.raises(dataclasses.FrozenInstanceError):
        site.name = "other.com"  # type: ignore[misc]


def test_builtin_idna_codec_would_differ() -> None:
    # Guard against regressing to IDNA 2003 (Python's codec): ß must survive.
    assert "faß.de".encode("idna") == b"fass.de"
    assert canonical_domain("faß.de") == "xn--fa-hia.de"
    assert canonical_domain("faß.de") != canonical_domain("fass.de")


# --------------------------------------------------------------------------
# Development patterns
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.wpengine.com", "*.wpengine.com"),
        ("*.WPEngine.COM", "*.wpengine.com"),
        ("*.kinsta.cloud.", "*.kinsta.cloud"),
        ("  *.kinsta.cloud\n", "*.kinsta.cloud"),
        ("staging.*", "staging.*"),
        ("STAGING.*", "staging.*"),
        ("staging.eu.*", "staging.eu.*"),
        ("dev.mysite.com", "dev.mysite.com"),
        ("Dev.MySite.com.", "dev.mysite.com"),
        ("www.dev.mysite.com", "dev.mysite.com"),
        ("*.Bücher.de", "*.xn--bcher-kva.de"),
        ("Bücher.*", "xn--bcher-kva.*"),
        ("*.www.example.com", "*.www.example.com"),
        ("intranet", "intranet"),
        ("203.0.113.7", "203.0.113.7"),
        ("[2001:DB8::1]", "2001:db8::1"),
    ],
)
def test_canonical_dev_pattern_valid(pattern: str, expected: str) -> None:
    assert canonical_dev_pattern(pattern) == expected
    assert canonical_dev_pattern(expected) == expected


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "   ",
        "*",
        "*.",
        "*.*",
        "**",
        "*.com",
        "*.de.",
        "*.xn--bcher-kva",
        "*.1.2",
        "a.*.com",
        "*.a.*",
        "*foo.com",
        "foo*.com",
        "foo.*bar",
        "staging*",
        "*.a..com",
        "*.-abc.com",
        "*.co.uk",  # a public suffix: every site under it
        "*.com.au",
        "-abc.*",
        "a..b",
        "https://dev.mysite.com/",
        "dev.mysite.com:8080",
        "dev.mysite.com/path",
        "user@dev.mysite.com",
        "dev%2emysite.com",
        "dev mysite.com",
        "www",
        "010.0.0.1",
        "[::g]",
        "*." + "a" * 64 + ".com",
    ],
)
def test_canonical_dev_pattern_rejected(pattern: str) -> None:
    with pytest.raises(InvalidDevPattern) as excinfo:
        canonical_dev_pattern(pattern)
    assert excinfo.value.code == "INVALID_DEV_PATTERN"


@pytest.mark.parametrize(
    ("domain", "pattern", "expected"),
    [
        ("mysite.wpengine.com", "*.wpengine.com", True),
        ("a.b.wpengine.com", "*.wpengine.com", True),
        ("wpengine.com", "*.wpengine.com", False),
        ("mywpengine.com", "*.wpengine.com", False),
        ("wpengine.com.evil.org", "*.wpengine.com", False),
        ("staging.example.com", "staging.*", True),
        ("staging", "staging.*", False),
        ("staging2.example.com", "staging.*", False),
        ("prestaging.example.com", "staging.*", False),
        ("example.staging.com", "staging.*", False),
        ("staging.eu.example.com", "staging.eu.*", True),
        ("staging.us.example.com", "staging.eu.*", False),
        ("dev.mysite.com", "dev.mysite.com", True),
        ("x.dev.mysite.com", "dev.mysite.com", False),
        ("10.0.0.1", "10.*", True),  # private anyway
        ("8.8.8.8", "8.*", False),  # wildcards never match IP literals
        ("8.8.8.8", "8.8.8.8", True),
    ],
)
def test_pattern_matching_is_by_whole_labels(
    domain: str, pattern: str, expected: bool
) -> None:
    assert is_development_host(domain, [canonical_dev_pattern(pattern)]) is expected


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

LABEL_CHARS = "abcxyzABCXYZ0189-äßéü"
label_st = st.text(alphabet=LABEL_CHARS, min_size=1, max_size=12)
tld_st = st.sampled_from(
    ["com", "de", "io", "dev", "test", "local", "localhost", "example", "invalid"]
)
host_st = st.builds(
    lambda www, labels, tld: ("www." if www else "") + ".".join([*labels, tld]),
    st.booleans(),
    st.lists(label_st, min_size=0, max_size=4),
    tld_st,
)
decorated_host_st = st.builds(
    lambda scheme, host, port, path, dot: f"{scheme}{host}{dot}{port}{path}",
    st.sampled_from(["", "http://", "https://", "HTTPS://", "//"]),
    host_st,
    st.sampled_from(["", ":80", ":8080", ":"]),
    st.sampled_from(["", "/", "/shop?x=1", "#frag", "?q"]),
    st.sampled_from(["", "."]),
)
ip_st = st.ip_addresses().map(str)
any_input_st = st.one_of(st.text(), decorated_host_st, ip_st)


def _canonical_or_none(raw: str) -> str | None:
    try:
        return canonical_domain(raw)
    except InvalidDomain:
        return None


@PROPERTY_SETTINGS
@given(st.text())
def test_arbitrary_text_only_raises_invalid_domain(raw: str) -> None:
    try:
        result = canonical_domain(raw)
    except InvalidDomain as exc:
        assert exc.code == "INVALID_DOMAIN"
    else:
        assert result == result.strip().lower()
        assert 0 < len(result) <= MAX_HOST_OCTETS
        assert result.isascii()


@PROPERTY_SETTINGS
@given(st.text())
def test_arbitrary_pattern_only_raises_invalid_dev_pattern(raw: str) -> None:
    try:
        pattern = canonical_dev_pattern(raw)
    except InvalidDevPattern:
        return
    assert canonical_dev_pattern(pattern) == pattern


@PROPERTY_SETTINGS
@given(any_input_st)
def test_canonical_domain_is_idempotent(raw: str) -> None:
    first = _canonical_or_none(raw)
    if first is None:
        return
    # Exactly one leading "www." is dropped per call (PROTOCOL §3), so the only
    # non-fixed points are canonical names that still start with "www." (input
    # "www.www.x"): they lose one more "www." label each time.
    if first.startswith("www."):
        assert canonical_domain(first) == first.removeprefix("www.")
        return
    assert canonical_domain(first) == first
    assert canonical_domain(f"  https://{_bracket(first)}:443/x?y#z ") == first


def _bracket(domain: str) -> str:
    return f"[{domain}]" if ":" in domain else domain


@PROPERTY_SETTINGS
@given(decorated_host_st, st.lists(st.sampled_from(["staging.*", "*.wpengine.com"])))
def test_is_development_host_is_consistent(raw: str, patterns: list[str]) -> None:
    name = _canonical_or_none(raw)
    if name is None:
        return
    plain = is_development_host(name)
    with_patterns = is_development_host(name, patterns)
    assert isinstance(plain, bool)
    assert not plain or with_patterns, "patterns can only add development hosts"
    assert classify(raw, patterns) == SiteDomain(name, with_patterns)
    if not name.startswith("www."):  # see test_canonical_domain_is_idempotent
        assert is_development_host(name, [canonical_dev_pattern(name)])
    labels = name.split(".")
    assert plain is (
        name == "localhost"
        or (
            len(labels) > 1
            and labels[-1] in {"localhost", "test", "local", "example", "invalid"}
        )
    )
    if len(labels) >= 2:
        assert is_development_host(f"sub.{name}", [f"*.{name}"])
        assert not is_development_host(name, [f"*.{name}"]) or plain
        # 'x.*' leaves at least one label in front of a registrable domain
        rest = ".".join(labels[1:])
        registrable = PSL.privatesuffix(rest) is not None
        assert is_development_host(name, [f"{labels[0]}.*"]) is (plain or registrable)


@PROPERTY_SETTINGS
@given(st.ip_addresses())
def test_ip_literals(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if isinstance(address, ipaddress.IPv6Address):
        raw = f"http://[{address}]:8080/"
    else:
        raw = f"{address}:8080"
    name = canonical_domain(raw)
    assert ipaddress.ip_address(name) == address
    if isinstance(address, ipaddress.IPv4Address) or address.ipv4_mapped is None:
        assert name == address.compressed
    v4 = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address
    if v4 is not None:
        expected = (
            v4.is_loopback
            or v4.is_link_local
            or any(
                v4 in ipaddress.IPv4Network(net)
                for net in (
                    "0.0.0.0/8",
                    "10.0.0.0/8",
                    "172.16.0.0/12",
                    "192.168.0.0/16",
                )
            )
        )
    else:
        expected = (
            address.is_loopback
            or address.is_unspecified
            or address.is_link_local
            or (address in ipaddress.IPv6Network("fc00::/7"))
        )
    assert is_development_host(name) is expected


def _ascii_answer(to_ascii: Any, host: str) -> str | None:
    try:
        return str(to_ascii(host))
    except domains.InvalidDomain:
        return None


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.from_regex(r"[A-Za-z0-9-]{1,12}(\.[A-Za-z0-9-]{1,12}){0,3}", fullmatch=True)
    | st.sampled_from(
        [
            "xn--bcher-kva.example",
            "ab--cd.example",
            "a--b.example",
            "-a.example",
            "a-.example",
            "XN--BCHER-KVA.EXAMPLE",
            "Shop.Example.COM",
            "1.2.3.4",
        ]
    )
)
def test_plain_hosts_skip_idna_with_the_same_answer(host: str) -> None:
    """The ASCII fast path answers exactly what the IDNA tables answer."""
    assert _ascii_answer(domains._to_ascii, host) == _ascii_answer(
        domains._idna_to_ascii, host
    )
