"""License-key format, checked offline before any network call (PROTOCOL §1).

A key is ``PPP-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX``: an optional product prefix (2-8 of
``A-Z0-9``) and 25 symbols of Crockford's base32 alphabet, 24 random and a Luhn
mod 32 check symbol over them. Parsing ignores case, dashes and the whitespace of
``WHITESPACE`` (no-break spaces, BOM, zero-width space included), reads
``I``/``L`` as ``1`` and ``O`` as ``0`` in the body, and refuses non-ASCII text before
any case folding. The shared vectors in ``tests/vectors/keys.json`` pin it.

A legacy key imported from Easy Digital Downloads is exactly 32 hexadecimal digits
(surrounding whitespace aside, nothing between them); it is checked first and its
canonical form is the 32 digits in lower case. An Envato purchase code (a UUID as
Envato shows it, 8-4-4-4-12 hexadecimal digits with dashes) is accepted as it is,
in lower case, for products that take ThemeForest purchase codes.
"""

from __future__ import annotations

import base64
import hashlib
import re

from license_client.exceptions import KeyFormatInvalid

__all__ = ["ALPHABET", "check_symbol", "key_hash", "parse_key"]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
_BODY = 25
_MAX_INPUT = 200
_PREFIX = re.compile(r"[A-Z0-9]{2,8}")
# stripped around a key (PROTOCOL §1, keys.json "whitespace"); inside, the same
# but line breaks, and dashes
WHITESPACE = (
    " \t\n\r\x0b\x0c\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\ufeff"
)
_INNER = "".join(c for c in WHITESPACE if c not in "\n\r\x0b\x0c\u2028\u2029")
_DROP = str.maketrans("", "", _INNER + "-")  # line breaks only around a key
_ALIASES = str.maketrans("ILO", "110")
_LEGACY = re.compile(r"[0-9A-Fa-f]{32}")
_PURCHASE_CODE = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)


def check_symbol(payload: str) -> str:
    """Return the Luhn mod 32 check symbol of 24 canonical symbols."""
    if len(payload) != _BODY - 1 or any(s not in _VALUE for s in payload):
        raise KeyFormatInvalid("a key payload is 24 symbols of " + ALPHABET)
    total = 0
    for position, symbol in enumerate(reversed(payload)):
        addend = _VALUE[symbol] * (2 if position % 2 == 0 else 1)
        total += addend // 32 + addend % 32
    return ALPHABET[-total % 32]


def parse_key(raw: str) -> str:
    """Return the canonical form of a typed license key; raise KeyFormatInvalid."""
    if not isinstance(raw, str) or len(raw) > _MAX_INPUT:
        raise KeyFormatInvalid("that is not a license key")
    stripped = raw.strip(WHITESPACE)
    if _LEGACY.fullmatch(stripped) or _PURCHASE_CODE.fullmatch(stripped):
        return stripped.lower()
    compact = stripped.translate(_DROP)
    if not compact.isascii():
        raise KeyFormatInvalid("a license key is plain ASCII")
    compact = compact.upper()
    prefix, body = compact[:-_BODY], compact[-_BODY:].translate(_ALIASES)
    if len(body) != _BODY or (prefix and not _PREFIX.fullmatch(prefix)):
        raise KeyFormatInvalid("a license key has 25 symbols after its prefix")
    if any(symbol not in _VALUE for symbol in body):
        raise KeyFormatInvalid("a license key contains a symbol outside its alphabet")
    if check_symbol(body[:-1]) != body[-1]:
        raise KeyFormatInvalid("the license key has a typo (check symbol)")
    groups = [body[i : i + 5] for i in range(0, _BODY, 5)]
    return "-".join([prefix, *groups] if prefix else groups)


def key_hash(key: str) -> str:
    """Return the ``kh`` claim of a key (PROTOCOL §7): SHA-256 of its body, 16 bytes.

    The body is the 25 canonical symbols (upper case, no prefix, no dashes), or an
    Envato purchase code as parsed (lower case, with its dashes); the digest's
    first 16 bytes are written base64url without padding.
    """
    canonical = parse_key(key)
    # a purchase code's body is the whole code, dashes kept (PROTOCOL §1)
    body = canonical
    if not _PURCHASE_CODE.fullmatch(canonical):
        body = canonical.replace("-", "")[-_BODY:]
    digest = hashlib.sha256(body.encode("ascii")).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def held_key_hash(license_key: str | None) -> str | None:
    """Return the ``kh`` of a held key, or None when there is none to compare."""
    if not license_key:
        return None
    try:
        return key_hash(license_key)
    except KeyFormatInvalid:  # a legacy key: nothing of ours to compare
        return None
