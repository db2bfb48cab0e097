"""The PHP client's .pot holds exactly the strings its code translates."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "client" / "wordpress"
POT = CLIENT / "languages" / "lcwp-license.pot"
KEYWORDS = ("__", "esc_html__", "esc_html_e")  # as the .pot's header says


def msgids(pot: str) -> set[str]:
    """Return the msgids of a .pot (multi-line ones joined), without the header's."""
    found = set()
    for block in re.findall(r'^msgid ((?:".*"\n)+)', pot, flags=re.MULTILINE):
        text = "".join(re.findall(r'"(.*)"', block))
        if text:
            found.add(text)
    return found


def test_pot_matches_the_strings_of_the_code() -> None:
    if shutil.which("xgettext") is None:
        reason = "xgettext is not installed (apt-get install gettext)"
        if os.environ.get("REQUIRE_PHP") == "1":
            pytest.fail(reason + "; REQUIRE_PHP=1 forbids skipping")
        pytest.skip(reason)
    includes = sorted(f"includes/{p.name}" for p in (CLIENT / "includes").glob("*.php"))
    command = ["xgettext", "--language=PHP", "--from-code=UTF-8", "-o", "-"]
    command += [f"--keyword={keyword}" for keyword in KEYWORDS]
    command += ["license-client.php", *includes]
    extracted = subprocess.run(
        command, cwd=CLIENT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    shipped = msgids(POT.read_text(encoding="utf-8"))
    code = msgids(extracted)
    assert code - shipped == set(), "strings missing from the .pot: regenerate it"
    assert shipped - code == set(), "strings the code no longer uses: regenerate it"
