"""The PHP client stays inside PHP 7.4 syntax and API (only PHP 8.2 runs here).

A deny-list of what PHP 8.0+ added and 7.4 cannot parse or lacks; the real-PHP runs
(phpunit, the e2e suite) prove the code works, this keeps it loadable on 7.4.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "client" / "wordpress"
PHP8_ONLY = {
    "str_contains and friends": r"\bstr_(contains|starts_with|ends_with)\s*\(",
    "array_is_list": r"\barray_is_list\s*\(",
    "match expression": r"\bmatch\s*\(",
    "nullsafe operator": r"\?->",
    "attributes": r"^\s*#\[",
    "mixed/never/static types": r":\s*\??(mixed|never|static)\b|\(\s*mixed\s+\$",
    "union types": r"[(,]\s*\??[A-Za-z_]+\|[A-Za-z_|]+\s+\$",
    "enums": r"^\s*enum\s+\w+",
    "readonly properties": r"\breadonly\s+(public|private|protected|\w+\s+\$)",
    "constructor promotion": (
        r"function\s+__construct\s*\([^)]*\b(public|private|protected)\s"
    ),
    "throw expression": r"(\?\?|=>|\?:)\s*throw\b",
}


SAMPLES = {
    "str_contains and friends": "if ( str_starts_with( $a, 'x' ) ) {}",
    "array_is_list": "array_is_list( $a );",
    "match expression": "$x = match ( $a ) { 1 => 2 };",
    "nullsafe operator": "$a?->b();",
    "attributes": "#[Attribute]\nclass A {}",
    "mixed/never/static types": "function f( mixed $a ) {}",
    "union types": "function f( int|string $a ) {}",
    "enums": "enum Suit { case A; }",
    "readonly properties": "class A { public readonly int $a; }",
    "constructor promotion": "function __construct( private $a ) {}",
    "throw expression": "$a = $b ?? throw new E();",
}


def found_in(text: str) -> set[str]:
    """Return the PHP 8 features used in PHP source (comments and strings ignored)."""
    code = re.sub(r"/\*.*?\*/|//[^\n]*|'(?:[^'\\]|\\.)*'", "''", text, flags=re.S)
    return {
        name
        for name, pattern in PHP8_ONLY.items()
        if re.search(pattern, code, flags=re.M)
    }


@pytest.mark.parametrize("name", list(SAMPLES))
def test_the_deny_list_catches_each_feature(name: str) -> None:
    assert name in found_in("<?php\n" + SAMPLES[name])


def php_files() -> list[Path]:
    return sorted(CLIENT.rglob("*.php"))


@pytest.mark.parametrize("path", php_files(), ids=lambda p: p.name)
def test_php_74_syntax_only(path: Path) -> None:
    found = found_in(path.read_text("utf-8"))
    assert not found, f"{path.name} uses PHP 8 only: {sorted(found)}"
