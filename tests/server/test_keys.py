"""Tests for the license-key format (PROTOCOL §1): license_server.keys."""

from __future__ import annotations

import dataclasses
import json
import string
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from license_server.keys import (
    ALPHABET,
    InvalidKeyFormat,
    InvalidKeyPrefix,
    LicenseKey,
    canonical_prefix,
    check_symbol,
    generate_key,
    parse_key,
    parse_legacy_key,
)

VECTORS_PATH = Path(__file__).resolve().parents[1] / "vectors" / "keys.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))

SAMPLE_BODY = "7K3M9PQRX2WY4T8VH6N0J1G5P"  # a valid body, also used in keys.json


def _vector_id(vector: dict[str, Any]) -> str:
    return ascii(vector["input"])[:60]


# --------------------------------------------------------------------------
# Known-answer vectors shared with the client library
# --------------------------------------------------------------------------


def test_vectors_file_shape() -> None:
    assert isinstance(VECTORS["description"], str)
    assert len(VECTORS["check_symbol"]) >= 10
    assert len(VECTORS["parse"]) >= 25
    payloads = {v["payload"] for v in VECTORS["check_symbol"]}
    assert "0" * 24 in payloads
    assert "Z" * 24 in payloads
    for vector in VECTORS["parse"]:
        assert set(vector) == {"input", "canonical", "error"}
        assert (vector["canonical"] is None) != (vector["error"] is None)


@pytest.mark.parametrize("vector", VECTORS["check_symbol"], ids=lambda v: v["payload"])
def test_check_symbol_vectors(vector: dict[str, str]) -> None:
    assert check_symbol(vector["payload"]) == vector["check"]
    key = parse_key(vector["payload"] + vector["check"])
    assert key.body == vector["payload"] + vector["check"]


@pytest.mark.parametrize("vector", VECTORS["parse"], ids=_vector_id)
def test_parse_vectors(vector: dict[str, Any]) -> None:
    if vector["error"] is None:
        key = parse_key(vector["input"])
        assert str(key) == vector["canonical"]
        assert parse_key(str(key)) == key
    else:
        with pytest.raises(InvalidKeyFormat) as excinfo:
            parse_key(vector["input"])
        assert excinfo.value.code == vector["error"]


# --------------------------------------------------------------------------
# Check symbol
# --------------------------------------------------------------------------


def _reference_check(payload: str) -> str:
    """Luhn mod N from the textbook description, kept separate from the module."""
    n = len(ALPHABET)
    total = 0
    for i, symbol in enumerate(reversed(payload)):
        addend = (2 if i % 2 == 0 else 1) * ALPHABET.index(symbol)
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=24, max_size=24))
def test_check_symbol_matches_reference(payload: str) -> None:
    assert check_symbol(payload) == _reference_check(payload)


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "0" * 23,
        "0" * 25,
        "0" * 23 + "U",
        "0" * 23 + "I",
        "0" * 23 + "a",
        "0" * 23 + "\u0660",
        None,
        24,
    ],
)
def test_check_symbol_rejects_bad_payload(payload: Any) -> None:
    with pytest.raises(InvalidKeyFormat):
        check_symbol(payload)


def test_known_blind_spot_is_only_zero_z_swap() -> None:
    """Luhn mod 32 misses exactly one kind of neighbour swap: 0Z <-> Z0."""
    missed = set()
    for a in ALPHABET:
        for b in ALPHABET:
            if a == b:
                continue
            for offset in (0, 1):  # the pair in either weight alignment
                payload = "0" * (22 - offset) + a + b + "0" * offset
                swapped = "0" * (22 - offset) + b + a + "0" * offset
                if check_symbol(payload) == check_symbol(swapped):
                    missed.add(frozenset((a, b)))
    assert missed == {frozenset("0Z")}


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


def test_generate_key_round_trips() -> None:
    for prefix in ("", "BOLT", "io", "ABCDEFGH", "T2"):
        key = generate_key(prefix)
        assert isinstance(key, LicenseKey)
        assert key.prefix == prefix.upper()
        assert len(key.body) == 25
        assert set(key.body) <= set(ALPHABET)
        assert key.body[-1] == check_symbol(key.body[:24])
        assert parse_key(str(key)) == key
        assert parse_key(str(key).lower().replace("-", " ")) == key


def test_generate_key_default_has_no_prefix() -> None:
    key = generate_key()
    assert key.prefix == ""
    assert str(key).count("-") == 4


def test_generate_key_is_random() -> None:
    keys = [generate_key() for _ in range(2000)]
    assert len({key.body for key in keys}) == 2000
    assert len({key.body[:24] for key in keys}) == 2000
    for position in range(25):
        counts = Counter(key.body[position] for key in keys)
        # 2000 draws from 32 symbols: every symbol appears (P(miss) < 1e-26).
        assert set(counts) == set(ALPHABET), position
        # ~62.5 expected per symbol; allow a generous band.
        assert max(counts.values()) < 130, position


def test_generate_key_uses_all_120_bits() -> None:
    keys = [generate_key() for _ in range(500)]
    ones = [0] * 120
    for key in keys:
        value = 0
        for symbol in key.body[:24]:
            value = value * 32 + ALPHABET.index(symbol)
        for bit in range(120):
            ones[bit] += (value >> bit) & 1
    # each bit is set in ~250 of 500 keys; a stuck bit would give 0 or 500.
    assert all(150 < count < 350 for count in ones)


@pytest.mark.parametrize("prefix", ["X", "ABCDEFGHJ", "AB-C", "AB_C", "ſku", "ÄB"])
def test_generate_key_rejects_bad_prefix(prefix: str) -> None:
    with pytest.raises(InvalidKeyPrefix) as excinfo:
        generate_key(prefix)
    assert excinfo.value.code == "INVALID_KEY_PREFIX"


# --------------------------------------------------------------------------
# Prefixes
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", ""),
        ("bolt", "BOLT"),
        ("IO", "IO"),
        ("UX", "UX"),
        ("T2", "T2"),
        ("ABCDEFGH", "ABCDEFGH"),
        ("12345678", "12345678"),
    ],
)
def test_canonical_prefix_accepts(prefix: str, expected: str) -> None:
    assert canonical_prefix(prefix) == expected


@pytest.mark.parametrize(
    "prefix",
    ["A", "ABCDEFGHJ", "AB C", "AB-", "AB_", "ſt", "ß1", "ＡＢ", "١٢", "AB\nC"],
)
def test_canonical_prefix_rejects(prefix: str) -> None:
    with pytest.raises(InvalidKeyPrefix):
        canonical_prefix(prefix)


def test_error_codes() -> None:
    assert InvalidKeyFormat.code == "INVALID_KEY_FORMAT"
    assert InvalidKeyPrefix.code == "INVALID_KEY_PREFIX"
    assert issubclass(InvalidKeyFormat, ValueError)
    assert issubclass(InvalidKeyPrefix, ValueError)


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def test_str_format() -> None:
    assert str(LicenseKey("", SAMPLE_BODY)) == "7K3M9-PQRX2-WY4T8-VH6N0-J1G5P"
    assert str(LicenseKey("BOLT", SAMPLE_BODY)) == "BOLT-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P"


def test_license_key_is_frozen() -> None:
    key = parse_key(SAMPLE_BODY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        key.body = "0" * 25  # type: ignore[misc]


def test_every_single_substitution_is_rejected() -> None:
    key = generate_key("BOLT")
    assert parse_key(str(key)) == key
    rejected = 0
    for position in range(25):
        for symbol in ALPHABET:
            if symbol == key.body[position]:
                continue
            typo = key.body[:position] + symbol + key.body[position + 1 :]
            with pytest.raises(InvalidKeyFormat, match="typo"):
                parse_key(key.prefix + typo)
            rejected += 1
    assert rejected == 25 * 31


def test_neighbour_swaps_are_rejected_except_zero_z() -> None:
    body = SAMPLE_BODY
    for i in range(24):
        if body[i] == body[i + 1] or {body[i], body[i + 1]} == {"0", "Z"}:
            continue
        swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
        with pytest.raises(InvalidKeyFormat):
            parse_key(swapped)


def test_aliases_apply_to_body_only() -> None:
    key = parse_key("oil-7K3M9-PQRX2-WY4T8-VH6NO-JiG5P")
    assert key.prefix == "OIL"
    assert key.body == SAMPLE_BODY


def test_too_long_input_rejected_before_other_work() -> None:
    padded = SAMPLE_BODY + " " * 175
    assert len(padded) == 200
    assert parse_key(padded).body == SAMPLE_BODY
    with pytest.raises(InvalidKeyFormat):
        parse_key(padded + " ")
    with pytest.raises(InvalidKeyFormat):
        parse_key("-" * 10_000_000)


@pytest.mark.parametrize(
    "raw", [None, 12345, b"7K3M9PQRX2WY4T8VH6N0J1G5P", ["7K3M9"], object()]
)
def test_non_text_rejected(raw: object) -> None:
    with pytest.raises(InvalidKeyFormat):
        parse_key(raw)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

_KEYISH = st.text(
    alphabet=st.sampled_from(ALPHABET + "ILOUilou- \t" + string.ascii_lowercase),
    min_size=20,
    max_size=40,
)
_TEXT = st.one_of(st.text(max_size=250), _KEYISH)


def _parse_or_none(raw: object) -> LicenseKey | None:
    try:
        return parse_key(raw)
    except InvalidKeyFormat:
        return None


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_parse_only_raises_invalid_key_format_on_text(raw: str) -> None:
    _parse_or_none(raw)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.binary(max_size=40),
        st.lists(st.text(max_size=5), max_size=5),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
        st.text(max_size=250),
    )
)
def test_parse_only_raises_invalid_key_format_on_objects(raw: object) -> None:
    _parse_or_none(raw)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_parse_is_idempotent(raw: str) -> None:
    key = _parse_or_none(raw)
    if key is not None:
        assert parse_key(str(key)) == key
        assert str(parse_key(str(key))) == str(key)


@settings(max_examples=200, deadline=None)
@given(
    payload=st.text(alphabet=ALPHABET, min_size=24, max_size=24),
    prefix=st.one_of(
        st.just(""),
        st.text(
            alphabet=string.ascii_uppercase + string.digits, min_size=2, max_size=8
        ),
    ),
    data=st.data(),
)
def test_parse_accepts_any_presentation_of_a_valid_key(
    payload: str, prefix: str, data: st.DataObject
) -> None:
    canonical = LicenseKey(prefix, payload + check_symbol(payload))
    text = str(canonical)
    # Re-present: random case, random separators between characters, aliases.
    pieces = []
    for index, char in enumerate(text.replace("-", "")):
        in_body = index >= len(prefix)
        if in_body and char in "01" and data.draw(st.booleans()):
            char = data.draw(st.sampled_from("Oo" if char == "0" else "IiLl"))
        elif data.draw(st.booleans()):
            char = char.lower()
        pieces.append(char + data.draw(st.sampled_from(["", "", "-", " ", "\t", "--"])))
    presented = " " + "".join(pieces) + "\n"
    # the one documented overlap with legacy keys (module docstring)
    assume(parse_legacy_key(presented) is None)
    assert parse_key(presented) == canonical


# --------------------------------------------------------------------------
# Legacy (EDD) keys: 32 hex digits, checked first, nothing else changes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["legacy"], ids=_vector_id)
def test_legacy_vectors(vector: dict[str, Any]) -> None:
    if vector["error"] is None:
        key = parse_key(vector["input"])
        assert key.legacy and key.prefix == ""
        assert str(key) == key.body == vector["canonical"]
        assert parse_key(str(key)) == key
    else:
        with pytest.raises(InvalidKeyFormat):
            parse_key(vector["input"])


def test_legacy_rule_wins_over_a_lucky_check_symbol() -> None:
    # this 32-hex text also passes our check symbol as prefix + 25 symbols
    text = "45c48cce2e2d7fbdea1afc51c7c6ad26"
    body = text[7:].upper()
    assert check_symbol(body[:24]) == body[24]
    assert parse_key(text).body == text


def test_vector_keys_never_read_as_legacy() -> None:
    for vector in VECTORS["parse"]:
        assert parse_legacy_key(vector["input"]) is None
        if vector["canonical"] is not None:
            assert not parse_key(vector["input"]).legacy


def test_every_single_substitution_stays_refused_with_the_legacy_rule() -> None:
    # a typo in one of our keys as shown (with dashes) is still caught offline
    key = generate_key("ABCDEF1")
    text = str(key)
    for index, char in enumerate(text):
        if char == "-":
            continue
        for other in "0123456789abcdef":
            if other.upper() == char:
                continue
            typo = text[:index] + other + text[index + 1 :]
            if index < 7:
                continue  # the prefix is not covered by the check symbol
            with pytest.raises(InvalidKeyFormat):
                parse_key(typo)


def test_the_whitespace_set_is_pinned_in_the_vectors() -> None:
    from license_client import keys as client_keys
    from license_server.keys import LINE_BREAKS, WHITESPACE

    vectors = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    assert [f"U+{ord(c):04X}" for c in WHITESPACE] == vectors["whitespace"]
    assert [f"U+{ord(c):04X}" for c in LINE_BREAKS] == vectors["line_breaks"]
    assert client_keys.WHITESPACE == WHITESPACE
    assert "\u00a0" in WHITESPACE and "\ufeff" in WHITESPACE  # PHP's trim() misses
