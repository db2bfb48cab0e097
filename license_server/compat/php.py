"""The few PHP and WordPress behaviours the EDD protocol leans on, in Python.

EDD Software Licensing is PHP inside WordPress, and its clients see PHP's answers:
``serialize()`` strings, ``json_encode`` output, ``empty()`` and ``absint()`` on
request values, bracketed form names (``products[slug][version]``) and
``sanitize_title`` for comparing item names. Each function here reproduces one of
those, only as far as the protocol needs it (documented per function).
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_TAGS = re.compile(r"<[^>]*>")
_ENTITIES = re.compile(r"&.+?;")
_NOT_SLUG = re.compile(r"[^a-z0-9 _-]")
_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"-+")
_LEADING_INT = re.compile(r"\s*([+-]?\d+)")


def is_empty(value: Any) -> bool:
    """Return PHP's ``empty($value)``: "", "0", 0, false, null and [] are empty."""
    return value in (None, False, 0, "", "0") or value == [] or value == {}


def absint(value: Any) -> int:
    """Return PHP's ``absint()``: the leading integer of the text, made positive."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return abs(value)
    if isinstance(value, float):
        return abs(int(value))
    match = _LEADING_INT.match(str(value or ""))
    return abs(int(match.group(1))) if match else 0


def sanitize_title(text: str) -> str:
    """Return WordPress's ``sanitize_title()`` of ``text`` (for comparing names).

    Tags and entities are dropped, accents removed, the text lower-cased, dots and
    slashes become dashes, anything else outside ``a-z0-9 _-`` goes, and runs of
    spaces and dashes become one dash.
    """
    text = _ENTITIES.sub("", _TAGS.sub("", html.unescape(text)))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = text.lower().replace(".", "-").replace("/", "-")
    text = _NOT_SLUG.sub("", text)
    text = _DASHES.sub("-", _SPACES.sub("-", text))
    return text.strip("-")


def json_encode(value: Any) -> str:
    """Return PHP's default ``json_encode($value)`` (escaping ``/`` and non-ASCII)."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/")


def strlen(value: Any) -> int:
    """Return PHP's ``strlen()`` of a scalar: UTF-8 bytes; false and null are 0."""
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    return len(str(value).encode("utf-8"))


def serialize(value: Any) -> str:
    """Return PHP's ``serialize()`` of scalars, lists and dicts."""
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, str):
        return f's:{len(value.encode("utf-8"))}:"{value}";'
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        raise TypeError(f"cannot serialize {type(value).__name__}")
    pairs = list(items)
    body = "".join(serialize(key) + serialize(item) for key, item in pairs)
    return f"a:{len(pairs)}:{{{body}}}"


def form_to_nested(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Read form fields the way PHP fills ``$_POST``: ``a[b][c]=v`` nests; last wins."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        head, _, rest = name.partition("[")
        if not head:
            continue
        keys = [head]
        if rest:
            keys += _BRACKETS.findall("[" + rest)
        node = result
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        last = keys[-1] if keys[-1] != "" else str(len(node))
        node[last] = value
    return result


class UnserializeError(ValueError):
    """The text is not a PHP ``serialize()`` string this reader understands."""


def unserialize(text: str) -> Any:
    """Read PHP's ``serialize()`` of scalars and arrays (EDD's price lists)."""
    data = text.encode("utf-8")
    value, end = _read(data, 0)
    if end != len(data):
        raise UnserializeError("trailing data after the serialized value")
    return value


def _until(data: bytes, pos: int, stop: bytes) -> tuple[str, int]:
    end = data.find(stop, pos)
    if end < 0:
        raise UnserializeError("truncated serialized value")
    return data[pos:end].decode("utf-8"), end + len(stop)


def _read(data: bytes, pos: int) -> tuple[Any, int]:
    kind = data[pos : pos + 2]
    if data[pos : pos + 2] == b"N;":
        return None, pos + 2
    if kind in (b"i:", b"b:", b"d:"):
        raw, end = _until(data, pos + 2, b";")
        if kind == b"d:":
            return float(raw), end
        return (int(raw) if kind == b"i:" else raw == "1"), end
    if kind == b"s:":
        size, start = _until(data, pos + 2, b":")
        start += 1  # the opening quote
        end = start + int(size)
        return data[start:end].decode("utf-8"), end + 2  # the closing '";'
    if kind == b"a:":
        count, cursor = _until(data, pos + 2, b":{")
        result: dict[Any, Any] = {}
        for _ in range(int(count)):
            key, cursor = _read(data, cursor)
            result[key], cursor = _read(data, cursor)
        return result, cursor + 1  # the closing '}'
    raise UnserializeError(f"unsupported serialized type {kind!r}")
