"""The domain vectors through independent implementations (issue 17, items 14, 15).

Node's WHATWG URL is what browsers (and so every site's own URL) compute; PHP's
``idn_to_ascii`` (ICU, UTS 46) is what the WordPress client computes. Every
canonical domain of ``tests/vectors/domains.json`` must be what they compute, so
that no client and the server can drift; and every host WHATWG reads as an IPv4
address must be refused by us or mapped to that very address (no spelling of
127.0.0.1 holds a seat as a public name). Skipped with a reason where a tool is
missing, failed instead under ``REQUIRE_NODE=1`` / ``REQUIRE_PHP_INTL=1`` (CI).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from license_server.domains import InvalidDomain, canonical_domain
from tests.server.hardening_support import _skip_or_fail

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "domains.json").read_text("utf-8")
)["vectors"]
INPUTS = sorted({vector["input"] for vector in VECTORS})

NODE_SCRIPT = r"""
const inputs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = {};
for (const raw of inputs) {
  const text = raw.trim();
  const bareIpv6 = (text.match(/:/g) || []).length > 1 && !/[\[\/]/.test(text);
  const url = /^[A-Za-z][A-Za-z0-9+.\-]*:\/\//.test(text) ? text
    : text.startsWith('//') ? 'http:' + text
    : bareIpv6 ? 'http://[' + text + ']/' : 'http://' + text;
  try { out[raw] = new URL(url).hostname; } catch (e) { out[raw] = null; }
}
process.stdout.write(JSON.stringify(out));
"""

PHP_SCRIPT = r"""
$inputs = json_decode(stream_get_contents(STDIN), true);
$flags = IDNA_NONTRANSITIONAL_TO_ASCII | IDNA_USE_STD3_RULES | IDNA_CHECK_BIDI
    | IDNA_CHECK_CONTEXTJ;
$out = [];
foreach ($inputs as $raw) {
    $ascii = idn_to_ascii($raw, $flags, INTL_IDNA_VARIANT_UTS46, $info);
    $out[] = [$raw, $ascii === false ? null : $ascii];
}
echo json_encode($out);
"""


def _run(argv: list[str], payload: Any) -> Any:
    done = subprocess.run(  # noqa: S603 - fixed argv, our own script
        argv, input=json.dumps(payload), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _ours(raw: str) -> str | None:
    try:
        return canonical_domain(raw)
    except InvalidDomain:
        return None


def _like_ours(host: str) -> str:
    """WHATWG's hostname in our canonical shape: no brackets, dot or ``www.``."""
    host = host.removeprefix("[").removesuffix("]").removesuffix(".")
    if ":" in host:
        return host
    return host.removeprefix("www.") if host != "www." else host


@pytest.fixture(scope="module")
def whatwg() -> dict[str, str | None]:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        _skip_or_fail("Node.js is not installed (WHATWG URL check)", "REQUIRE_NODE")
    assert node is not None
    result: dict[str, str | None] = _run([node, "-e", NODE_SCRIPT], INPUTS)
    return result


def test_every_canonical_domain_is_what_whatwg_url_computes(
    whatwg: dict[str, str | None],
) -> None:
    drift = []
    for raw in INPUTS:
        ours, theirs = _ours(raw), whatwg[raw]
        if ours is not None and (theirs is None or _like_ours(theirs) != ours):
            drift.append((raw, ours, theirs))
    assert drift == []


def test_every_host_whatwg_reads_as_ipv4_is_refused_or_that_address(
    whatwg: dict[str, str | None],
) -> None:
    for raw in INPUTS:
        theirs = whatwg[raw]
        try:
            address = ipaddress.IPv4Address(theirs or "")
        except ValueError:
            continue
        ours = _ours(raw)
        assert ours is None or ours == str(address), (raw, ours, theirs)


def _is_bare_name(raw: str) -> bool:
    text = raw.strip()
    if not text or any(mark in text for mark in "/:?#@[%*") or " " in text:
        return False
    ours = _ours(text)
    try:
        ipaddress.ip_address(ours or "")
    except ValueError:
        return True
    return False


def test_every_canonical_name_is_what_php_idn_to_ascii_computes() -> None:
    php = shutil.which("php")
    if php is None:
        _skip_or_fail("PHP is not installed (idn_to_ascii check)", "REQUIRE_PHP_INTL")
    assert php is not None
    probe = subprocess.run(  # noqa: S603
        [php, "-r", 'echo function_exists("idn_to_ascii") ? "yes" : "no";'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.stdout != "yes":
        _skip_or_fail("PHP has no intl (idn_to_ascii)", "REQUIRE_PHP_INTL")
    names = [raw.strip() for raw in INPUTS if _is_bare_name(raw)]
    assert len(names) > 40
    drift = []
    for raw, theirs in _run([php, "-r", PHP_SCRIPT], names):
        ours = _ours(raw)
        if ours is None:
            continue
        if theirs is None or _like_ours(theirs.lower()) != ours:
            drift.append((raw, ours, theirs))
    assert drift == []
