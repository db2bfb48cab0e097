"""pip-audit of the server's pinned runtime dependencies, where a service answers.

The set audited is what ``pip install .`` puts in production: the installed
versions of ``license-server``'s requirements and theirs, pinned. pip-audit asks
PyPI's JSON API or OSV; when neither can be reached (this machine reaches only
package indexes), the test skips and says so.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.server.hardening_support import record

SERVICES = {
    "pypi": "https://pypi.org/pypi/pip/24.0/json",  # what pip-audit asks: per version
    "osv": "https://api.osv.dev/v1/vulns/PYSEC-2021-1",
}


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def runtime_pins(root: str = "license-server") -> dict[str, str]:
    """Return ``{name: version}`` for ``root``'s installed dependency closure."""
    pins: dict[str, str] = {}
    todo = [(root, frozenset[str]())]
    while todo:
        name, extras = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if key in pins and not extras:
            continue
        if key != root:
            pins[key] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in extras | {""}
            )
            if wanted:
                todo.append((requirement.name, frozenset(requirement.extras)))
    return pins


def test_runtime_dependencies_have_no_known_vulnerabilities(tmp_path: Path) -> None:
    service = next((name for name, url in SERVICES.items() if _reachable(url)), None)
    if service is None:
        record("pip_audit", status="skipped", reason="no vulnerability service")
        pytest.skip("no vulnerability service reachable (PyPI JSON API, OSV)")
    pins = runtime_pins()
    assert {"flask", "sqlalchemy", "flask-limiter", "redis"} <= set(pins)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
    argv = [sys.executable, "-m", "pip_audit", "-r", str(requirements), "--no-deps"]
    argv += ["--disable-pip", "--progress-spinner", "off", "-f", "json", "-s", service]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    report = json.loads(run.stdout)
    unaudited = [d["name"] for d in report["dependencies"] if "skip_reason" in d]
    if len(unaudited) == len(report["dependencies"]):
        record("pip_audit", status="skipped", reason=f"{service} audited nothing")
        pytest.skip(f"{service} could audit none of the dependencies")
    found = {
        dep["name"]: [v["id"] for v in dep.get("vulns", [])]
        for dep in report["dependencies"]
        if dep.get("vulns")
    }
    record(
        "pip_audit",
        status="ran",
        service=service,
        audited=len(pins),
        unaudited=unaudited,
        vulnerable=found,
    )
    assert not found, found
