"""Version comparison exactly as PHP's ``version_compare()`` does it.

WordPress decides "is there an update" with PHP's ``version_compare``, so the server
orders versions the same way, quirks included: ``1.0 < 1.0.0``, ``1.0rc1 < 1.0``,
``1.0-beta < 1.0``, ``1.0pl1 > 1.0``, unknown words sort before ``dev``. This is a
port of the algorithm (canonicalise, then compare part by part), written from its
description; the vectors in ``tests/vectors/version_compare.json`` were produced by
PHP itself and are shared with the PHP client.
"""

from __future__ import annotations

import functools

_LONG_MAX = 2**63 - 1
_SPECIAL_FORMS = (
    (b"dev", 0),
    (b"alpha", 1),
    (b"a", 1),
    (b"beta", 2),
    (b"b", 2),
    (b"RC", 3),
    (b"rc", 3),
    (b"#", 4),
    (b"pl", 5),
    (b"p", 5),
)
_NUMBER = b"#N#"


def _is_digit(byte: int) -> bool:
    return 0x30 <= byte <= 0x39


def _is_alnum(byte: int) -> bool:
    return _is_digit(byte) or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _canonical(version: bytes) -> bytes:
    """Separate every number from every word with a dot; ``-_+`` become dots."""
    if not version:
        return b""
    out = bytearray(version[:1])
    previous = version[0]
    dot = ord(".")
    for byte in version[1:]:
        last = out[-1]
        digit_now, digit_before = _is_digit(byte), _is_digit(previous)
        word_now = not digit_now and byte != dot
        word_before = not digit_before and previous != dot
        if byte in b"-_+":
            if last != dot:
                out.append(dot)
        elif (word_before and digit_now) or (digit_before and word_now):
            if last != dot:
                out.append(dot)
            out.append(byte)
        elif not _is_alnum(byte):
            if last != dot:
                out.append(dot)
        else:
            out.append(byte)
        previous = byte
    return bytes(out)


def _special(form: bytes) -> int:
    for name, order in _SPECIAL_FORMS:
        if form.startswith(name):
            return order
    return -1


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _number(part: bytes) -> int:
    end = 0
    while end < len(part) and _is_digit(part[end]):
        end += 1
    return min(int(part[:end]), _LONG_MAX)


def _compare_parts(one: bytes, two: bytes) -> int:
    if one[:1].isdigit() and two[:1].isdigit():
        return _sign(_number(one) - _number(two))
    if not one[:1].isdigit() and not two[:1].isdigit():
        return _sign(_special(one) - _special(two))
    if one[:1].isdigit():
        return _sign(_special(_NUMBER) - _special(two))
    return _sign(_special(one) - _special(_NUMBER))


def _compare(first: bytes, second: bytes) -> int:
    if not first or not second:
        return 0 if first == second else (1 if first else -1)
    one = first if first[:1] == b"#" else _canonical(first)
    two = second if second[:1] == b"#" else _canonical(second)
    i = j = 0
    more_one = more_two = True  # "a dot followed the last part" (C's n1, n2)
    result = 0
    while i < len(one) and j < len(two) and more_one and more_two:
        end_one, end_two = one.find(b".", i), two.find(b".", j)
        more_one, more_two = end_one != -1, end_two != -1
        part_one = one[i : end_one if more_one else len(one)]
        part_two = two[j : end_two if more_two else len(two)]
        result = _compare_parts(part_one, part_two)
        if result:
            break
        if more_one:
            i = end_one + 1
        if more_two:
            j = end_two + 1
    if result == 0:
        if more_one:
            rest = one[i:]
            result = 1 if rest[:1].isdigit() else _compare(rest, _NUMBER)
        elif more_two:
            rest = two[j:]
            result = -1 if rest[:1].isdigit() else _compare(_NUMBER, rest)
    return result


@functools.lru_cache(maxsize=4096)
def version_compare(first: str, second: str) -> int:
    """Return -1, 0 or 1 as PHP's ``version_compare($first, $second)`` does."""
    # PHP hands C strings to the comparison: each ends at its first NUL byte.
    one = first.encode("utf-8", "surrogatepass").split(b"\0", 1)[0]
    two = second.encode("utf-8", "surrogatepass").split(b"\0", 1)[0]
    return _compare(one, two)


def newer(first: str, second: str) -> bool:
    """Return whether ``first`` is a newer version than ``second``."""
    return version_compare(first, second) > 0


#: a ``key=`` for ``sorted``: oldest version first, as PHP orders them
sort_key = functools.cmp_to_key(version_compare)
