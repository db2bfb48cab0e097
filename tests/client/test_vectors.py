"""Shared known-answer vectors: the client computes what the server computes.

``domains.json`` and ``keys.json`` are the tables the server tests use too. The
differential properties at the end (which import the server, as server tests may)
feed both implementations the same random input and demand the same answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from license_client import DomainInvalid, KeyFormatInvalid, parse_key
from license_client.domains import (
    canonical_domain,
    canonical_pattern,
    is_development_host,
)
from license_client.keys import ALPHABET, check_symbol
from license_server import domains as server_domains
from license_server import keys as server_keys

VECTORS = Path(__file__).parent.parent / "vectors"
DOMAINS: list[dict[str, Any]] = json.loads(
    (VECTORS / "domains.json").read_text(encoding="utf-8")
)["vectors"]
KEYS: dict[str, Any] = json.loads((VECTORS / "keys.json").read_text(encoding="utf-8"))


def test_vector_tables_are_not_empty() -> None:
    assert len(DOMAINS) >= 100
    assert len(KEYS["check_symbol"]) >= 10 and len(KEYS["parse"]) >= 40


@pytest.mark.parametrize("vector", DOMAINS, ids=lambda v: repr(v["input"])[:40])
def test_domain_vector(vector: dict[str, Any]) -> None:
    patterns = vector.get("patterns", [])
    if vector["error"] is not None:
        with pytest.raises(DomainInvalid) as caught:
            canonical_domain(vector["input"])
        assert caught.value.code == vector["error"]
        return
    canonical = canonical_domain(vector["input"])
    assert canonical == vector["canonical"]
    assert [canonical_pattern(p) for p in patterns] == patterns
    assert is_development_host(canonical, patterns) is vector["development"]


@pytest.mark.parametrize("vector", KEYS["check_symbol"], ids=lambda v: v["payload"])
def test_check_symbol_vector(vector: dict[str, str]) -> None:
    assert check_symbol(vector["payload"]) == vector["check"]


@pytest.mark.parametrize("vector", KEYS["parse"], ids=lambda v: repr(v["input"])[:40])
def test_key_vector(vector: dict[str, Any]) -> None:
    if vector["error"] is not None:
        with pytest.raises(KeyFormatInvalid) as caught:
            parse_key(vector["input"])
        assert caught.value.code == vector["error"]
    else:
        assert parse_key(vector["input"]) == vector["canonical"]


def test_not_the_builtin_idna_codec() -> None:
    assert "faß.de".encode("idna") == b"fass.de"  # IDNA 2003 would merge them
    assert canonical_domain("faß.de") != canonical_domain("fass.de")


# -- differential: the same random input, the same answer on both sides ---------

_HOSTISH = st.text(
    alphabet=st.sampled_from(
        list("abcxyzß.-:/[]@*%09wW_ ") + ["ü", "。", "例", "\u200d"]
    ),
    max_size=40,
)


def _server_domain(raw: str) -> tuple[str | None, bool | None]:
    try:
        name = server_domains.canonical_domain(raw)
    except server_domains.InvalidDomain:
        return None, None
    return name, server_domains.is_development_host(name)


def _client_domain(raw: str) -> tuple[str | None, bool | None]:
    try:
        name = canonical_domain(raw)
    except DomainInvalid:
        return None, None
    return name, is_development_host(name)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_HOSTISH, st.text(max_size=30)))
def test_domains_agree_with_server(raw: str) -> None:
    assert _client_domain(raw) == _server_domain(raw)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=ALPHABET + "ilo -", min_size=20, max_size=40),
    st.sampled_from(["", "JAN-", "ab ", "TOOLONGPREFIX-"]),
)
def test_keys_agree_with_server(body: str, prefix: str) -> None:
    raw = prefix + body
    try:
        expected: str | None = str(server_keys.parse_key(raw))
    except server_keys.InvalidKeyFormat:
        expected = None
    try:
        got: str | None = parse_key(raw)
    except KeyFormatInvalid:
        got = None
    assert got == expected


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["", "JAN"]))
def test_generated_server_keys_parse(prefix: str) -> None:
    key = server_keys.generate_key(prefix)
    assert parse_key(str(key).lower().replace("-", " ")) == str(key)


@pytest.mark.parametrize("vector", KEYS["legacy"], ids=lambda v: repr(v["input"])[:40])
def test_legacy_key_vectors(vector: dict[str, Any]) -> None:
    if vector["error"] is not None:
        with pytest.raises(KeyFormatInvalid):
            parse_key(vector["input"])
    else:
        assert parse_key(vector["input"]) == vector["canonical"]
