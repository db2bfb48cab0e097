"""Every license key shown in the README, docs/ and the OpenAPI document checks.

Sample keys come from :func:`license_server.examples.sample_key`, which runs the key
code, so a reader who pastes one gets past the check symbol (PROTOCOL §1).
Templates (``PPP-XXXXX-...``) are not keys and are skipped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from license_server.examples import SAMPLE_KEY, sample_key
from license_server.keys import InvalidKeyFormat, parse_key

ROOT = Path(__file__).resolve().parents[2]
KEY_LIKE = re.compile(r"\b(?:[A-Z0-9]{2,8}-)?(?:[0-9A-Z]{5}-){4}[0-9A-Z]{5}\b")
DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "client" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "examples").rglob("*.md")),
]


def key_like(text: str) -> list[str]:
    """Return the key-looking strings of ``text`` that are not templates."""
    return [found for found in KEY_LIKE.findall(text) if "XXXXX" not in found]


def test_sample_keys_pass_their_check_symbol() -> None:
    assert str(parse_key(SAMPLE_KEY)) == SAMPLE_KEY
    assert sample_key("a") != sample_key("b")
    with pytest.raises(InvalidKeyFormat):  # the checker is really checking
        parse_key(SAMPLE_KEY[:-1] + ("0" if SAMPLE_KEY[-1] != "0" else "1"))


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_keys_in_documents_pass_their_check_symbol(path: Path) -> None:
    for found in key_like(path.read_text(encoding="utf-8")):
        parse_key(found)  # raises InvalidKeyFormat for a bad sample


def test_the_readme_shows_the_sample_key() -> None:
    assert SAMPLE_KEY in key_like((ROOT / "README.md").read_text(encoding="utf-8"))


def test_keys_in_the_openapi_document_pass_their_check_symbol(
    client: FlaskClient,
) -> None:
    found = key_like(json.dumps(client.get("/openapi.json").get_json()))
    assert SAMPLE_KEY in found
    for key in found:
        parse_key(key)
