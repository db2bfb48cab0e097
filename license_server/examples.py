"""Sample license keys for the documentation, made by the key code so they check.

The README, docs/ and the OpenAPI examples show these keys; a test checks that
every key-looking string there passes :func:`license_server.keys.parse_key`. They
are derived from a fixed label (not random), so the documents stay stable.
"""

from __future__ import annotations

import hashlib

from license_server.keys import ALPHABET, PAYLOAD_LENGTH, LicenseKey, check_symbol


def sample_key(label: str, prefix: str = "JAN") -> str:
    """Return a well-formed key derived from ``label`` (for documents, not sales)."""
    digest = hashlib.sha256(label.encode("utf-8")).digest()
    payload = "".join(
        ALPHABET[byte % len(ALPHABET)] for byte in digest[:PAYLOAD_LENGTH]
    )
    return str(LicenseKey(prefix=prefix, body=payload + check_symbol(payload)))


SAMPLE_KEY = sample_key("the README's first license")
"""The key the README's walk-through and the OpenAPI examples show."""
