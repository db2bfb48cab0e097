"""License-key format: generation, canonicalisation and offline validation.

A key looks like ``PPP-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`` (PROTOCOL §1):

* an optional product prefix ``PPP``: 2 to 8 characters of ``A-Z0-9``, set per
  product (empty when the product has none);
* then 25 symbols of Crockford's base32 alphabet
  (``0123456789ABCDEFGHJKMNPQRSTVWXYZ``: no I, L, O or U), shown in five groups
  of five.  The first 24 symbols are random (120 bits from :mod:`secrets`); the
  25th is a check symbol computed over those 24 with the Luhn mod N algorithm
  (N = 32, over that alphabet).

The check symbol catches every single-symbol substitution and every swap of
two neighbouring symbols except ``0Z`` <-> ``Z0`` (the base-32 analogue of the
``09`` <-> ``90`` blind spot of decimal Luhn), so typos are rejected offline,
before any network or database work.

Parsing is forgiving about presentation: it removes every character of
:data:`WHITESPACE` around the key, and the same but line breaks and dashes
between its groups (a key pasted from an HTML mail carries no-break spaces, one
from a word processor a BOM or a zero-width space), ignores case, and, in the
25-symbol body only, reads
``I`` and ``L`` as ``1`` and ``O`` as ``0`` (a prefix may legitimately contain
those letters and is kept as typed, uppercased).  The last 25 significant
characters are the body; whatever precedes them is the prefix.  Any non-ASCII
character left after that is rejected *before* case folding, so that Unicode
case mappings (``"ß".upper() == "SS"``, ``"ı".upper() == "I"``) can never turn
garbage into a valid key.

**Legacy keys** (keys imported from Easy Digital Downloads Software Licensing): text
that, once surrounding whitespace is stripped, is exactly 32 hexadecimal characters
with nothing between them is a legacy key, read in lower case (EDD's own form) and
returned with an empty prefix and the 32 characters as its ``body``. This rule is
checked first and matches nothing else: every key of ours as shown has dashes, and
every other text goes through the check-symbol path unchanged, so a typo in one of
our keys is still refused offline. The only overlap is one of our keys whose product
prefix is 7 hexadecimal characters, typed without its dashes, whose 25 symbols all
happen to be hexadecimal digits (about 1 in 2**25): it is looked up as a legacy key
and answers "unknown key", never another license's answer.

**Envato purchase codes** (ThemeForest buyers' proof of purchase, docs/CHANNELS.md):
text that, once surrounding whitespace is stripped, is a UUID as Envato shows it
(8-4-4-4-12 hexadecimal digits with its four dashes) is a purchase code, read in
lower case and returned with an empty prefix and the 36 characters as its ``body``.
Our keys as shown have five-symbol groups, legacy keys have no dashes: neither
matches, so this rule changes nothing for them.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import secrets

__all__ = [
    "ALPHABET",
    "BODY_LENGTH",
    "PAYLOAD_LENGTH",
    "LINE_BREAKS",
    "WHITESPACE",
    "InvalidKeyFormat",
    "InvalidKeyPrefix",
    "LEGACY_LENGTH",
    "LicenseKey",
    "PURCHASE_CODE_LENGTH",
    "canonical_prefix",
    "check_symbol",
    "generate_key",
    "generate_keys",
    "parse_key",
    "parse_legacy_key",
    "parse_purchase_code",
]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32 alphabet; a symbol's codepoint is its index here."""

_N = len(ALPHABET)  # 32
_CODEPOINT = {symbol: index for index, symbol in enumerate(ALPHABET)}

PAYLOAD_LENGTH = 24
"""Number of random symbols in a key (24 x 5 bits = 120 bits)."""

BODY_LENGTH = PAYLOAD_LENGTH + 1
"""Number of symbols in a key body: the random payload plus the check symbol."""

_GROUP = 5
_PREFIX_MIN = 2
_PREFIX_MAX = 8
_MAX_INPUT = 200
_PREFIX_RE = re.compile(r"[A-Z0-9]{2,8}")
# symbols of the alphabet only (one C pass, not a Python test per symbol)
_SYMBOLS_RE = re.compile(f"[{ALPHABET}]*")
WHITESPACE = (
    " \t\n\r\x0b\x0c"  # ASCII: what PHP's trim() strips, but NUL
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"  # Unicode spaces (no-break ones included)
    "\u200b\ufeff"  # zero-width space, byte-order mark
)
"""What parsing strips around a key (PROTOCOL §1; keys.json "whitespace")."""
LINE_BREAKS = "\n\r\x0b\x0c\u2028\u2029"
"""Whitespace that is refused between a key's groups (only stripped around it)."""
_SEPARATORS = str.maketrans(
    "", "", "".join(c for c in WHITESPACE if c not in LINE_BREAKS) + "-"
)
_BODY_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_LEGACY_RE = re.compile(r"[0-9A-Fa-f]{32}")
_PURCHASE_CODE_RE = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)

LEGACY_LENGTH = 32
"""Number of hexadecimal characters of a legacy (EDD) key."""

PURCHASE_CODE_LENGTH = 36
"""Number of characters of an Envato purchase code (a UUID with its dashes)."""


class InvalidKeyFormat(ValueError):
    """The text is not a well-formed license key (or contains a typo)."""

    code = "INVALID_KEY_FORMAT"


class InvalidKeyPrefix(ValueError):
    """The product prefix is not 2-8 characters of A-Z0-9."""

    code = "INVALID_KEY_PREFIX"


@dataclasses.dataclass(frozen=True)
class LicenseKey:
    """A validated license key in canonical form."""

    prefix: str
    """Product prefix, uppercase, or ``""`` when none."""
    body: str
    """25 canonical symbols, the check symbol last; a legacy key's 32 hex digits; or
    a purchase code's 36 characters."""

    @property
    def legacy(self) -> bool:
        """Return whether this is an imported legacy (EDD) key."""
        return len(self.body) == LEGACY_LENGTH

    @property
    def purchase_code(self) -> bool:
        """Return whether this is an Envato purchase code."""
        return len(self.body) == PURCHASE_CODE_LENGTH

    def __str__(self) -> str:
        """Render as ``PPP-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`` (no ``PPP-`` if none)."""
        body = self.body
        if len(body) == BODY_LENGTH:  # ours: the common case, spelt out
            text = f"{body[:5]}-{body[5:10]}-{body[10:15]}-{body[15:20]}-{body[20:]}"
            return f"{self.prefix}-{text}" if self.prefix else text
        if self.legacy or self.purchase_code:
            return body
        groups = [body[i : i + _GROUP] for i in range(0, len(body), _GROUP)]
        if self.prefix:
            groups.insert(0, self.prefix)
        return "-".join(groups)


def check_symbol(payload: str) -> str:
    """Compute the Luhn mod 32 check symbol over 24 canonical symbols."""
    if (
        not isinstance(payload, str)
        or len(payload) != PAYLOAD_LENGTH
        or _SYMBOLS_RE.fullmatch(payload) is None
    ):
        raise InvalidKeyFormat(
            f"a key payload is {PAYLOAD_LENGTH} symbols of {ALPHABET}"
        )
    return _check_symbol(payload.encode("ascii").translate(_CODEPOINT_BYTES))


# a symbol's ASCII byte -> its codepoint; a codepoint -> its Luhn addend doubled
_CODEPOINT_BYTES = bytes(
    _CODEPOINT.get(chr(byte), 0) if byte < 128 else 0 for byte in range(256)
)
_DOUBLED = bytes((2 * c) // _N + (2 * c) % _N if c < _N else 0 for c in range(256))


def _check_symbol(codepoints: bytes) -> str:
    """Luhn mod 32 over 24 codepoints: from the right, every other one doubled."""
    # the rightmost payload symbol (index 23) is doubled, so the odd indices are
    total = sum(codepoints[1::2].translate(_DOUBLED)) + sum(codepoints[0::2])
    return ALPHABET[(_N - total % _N) % _N]


def canonical_prefix(prefix: str) -> str:
    """Validate a product prefix and return it uppercased ("" means none)."""
    if not isinstance(prefix, str):
        raise InvalidKeyPrefix("a key prefix must be a string")
    stripped = prefix.strip()
    if stripped == "":
        return ""
    canonical = stripped.upper()
    if not stripped.isascii() or _PREFIX_RE.fullmatch(canonical) is None:
        raise InvalidKeyPrefix(
            f"a key prefix is {_PREFIX_MIN} to {_PREFIX_MAX} characters of A-Z0-9"
        )
    return canonical


def generate_key(prefix: str = "") -> LicenseKey:
    """Generate a new random key (120 bits from a CSPRNG) with its check symbol."""
    return generate_keys(prefix, 1)[0]


# base32's alphabet (RFC 4648) -> ours, symbol for symbol, and -> codepoints
_RFC4648 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_FROM_B32 = bytes.maketrans(_RFC4648, ALPHABET.encode())
_B32_CODEPOINTS = bytes.maketrans(_RFC4648, bytes(range(_N)))
_PAYLOAD_BYTES = PAYLOAD_LENGTH * 5 // 8  # 15 random bytes are 24 symbols


def generate_keys(prefix: str, count: int) -> list[LicenseKey]:
    """Generate ``count`` new random keys (120 bits each from a CSPRNG).

    One read of the CSPRNG for all of them, base32-encoded in one pass: every
    5 random bits are one symbol, as :func:`generate_key` promises.
    """
    canonical = canonical_prefix(prefix)
    encoded = base64.b32encode(secrets.token_bytes(_PAYLOAD_BYTES * count))
    symbols = encoded.translate(_FROM_B32).decode()
    codepoints = encoded.translate(_B32_CODEPOINTS)
    made = []
    for start in range(0, PAYLOAD_LENGTH * count, PAYLOAD_LENGTH):
        end = start + PAYLOAD_LENGTH
        check = _check_symbol(codepoints[start:end])
        made.append(LicenseKey(prefix=canonical, body=symbols[start:end] + check))
    return made


def parse_key(raw: object) -> LicenseKey:
    """Parse and validate user-typed key text into its canonical form."""
    if not isinstance(raw, str):
        raise InvalidKeyFormat("a license key must be text")
    if len(raw) > _MAX_INPUT:
        raise InvalidKeyFormat("that is too long to be a license key")
    legacy = parse_legacy_key(raw) or parse_purchase_code(raw)
    if legacy is not None:
        return legacy
    compact = raw.strip(WHITESPACE).translate(_SEPARATORS)
    if not compact.isascii():
        raise InvalidKeyFormat("a license key contains a character that is not ASCII")
    compact = compact.upper()
    if not BODY_LENGTH <= len(compact) <= BODY_LENGTH + _PREFIX_MAX:
        raise InvalidKeyFormat(
            f"a license key has {BODY_LENGTH} symbols after its optional prefix"
        )
    prefix = compact[:-BODY_LENGTH]
    if prefix and _PREFIX_RE.fullmatch(prefix) is None:
        raise InvalidKeyFormat(
            f"a key prefix is {_PREFIX_MIN} to {_PREFIX_MAX} characters of A-Z0-9"
        )
    body = compact[-BODY_LENGTH:].translate(_BODY_ALIASES)
    if _SYMBOLS_RE.fullmatch(body) is None:
        raise InvalidKeyFormat(
            "a license key contains a character that is not in its alphabet"
        )
    if check_symbol(body[:PAYLOAD_LENGTH]) != body[PAYLOAD_LENGTH]:
        raise InvalidKeyFormat(
            "the license key has a typo: its check symbol does not match"
        )
    return LicenseKey(prefix=prefix, body=body)


def parse_legacy_key(raw: str) -> LicenseKey | None:
    """Return ``raw`` as a legacy (EDD) key if it is 32 hex digits, else None."""
    stripped = raw.strip(WHITESPACE)
    if _LEGACY_RE.fullmatch(stripped) is None:
        return None
    return LicenseKey(prefix="", body=stripped.lower())


def parse_purchase_code(raw: str) -> LicenseKey | None:
    """Return ``raw`` as an Envato purchase code if it is UUID-shaped, else None."""
    stripped = raw.strip()
    if _PURCHASE_CODE_RE.fullmatch(stripped) is None:
        return None
    return LicenseKey(prefix="", body=stripped.lower())
