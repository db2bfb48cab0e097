"""CI step: pip-audit of the pinned runtime dependencies, when a service answers.

    .venv/bin/python .ci/audit.py

The set audited is what ``pip install .`` puts in production: the installed versions
of ``license-server``'s requirements and theirs, pinned. pip-audit asks PyPI's JSON
API or OSV; when neither can be reached (some machines reach only package indexes)
this step says so and passes: it cannot tell, and a network limit is not a defect of
the code. It fails when a known vulnerability is found. With ``RELIABILITY_METRICS``
set (``make reliability``) it appends its result there too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

SERVICES = {
    "pypi": "https://pypi.org/pypi/pip/24.0/json",  # what pip-audit asks: per version
    "osv": "https://api.osv.dev/v1/vulns/PYSEC-2021-1",
}


def reachable(url: str) -> bool:
    """Return whether ``url`` answers 200 within 5 seconds."""
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


def record(**data: Any) -> None:
    """Append the result for ``make reliability`` (no-op outside it)."""
    path = os.environ.get("RELIABILITY_METRICS")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": "pip_audit", **data}) + "\n")


def audit(service: str, pins: dict[str, str]) -> dict[str, Any]:
    """Run pip-audit on ``pins`` against ``service``; return its JSON report."""
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
        argv = [sys.executable, "-m", "pip_audit", "-r", str(requirements)]
        argv += ["--no-deps", "--disable-pip", "--progress-spinner", "off"]
        argv += ["-f", "json", "-s", service]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=600)  # noqa: S603
    report: dict[str, Any] = json.loads(run.stdout)
    return report


def main() -> int:
    """Audit, print one line of outcome, and return the exit status."""
    service = next((name for name, url in SERVICES.items() if reachable(url)), None)
    if service is None:
        record(status="skipped", reason="no vulnerability service")
        print("pip-audit: not run: no vulnerability service reachable (PyPI, OSV)")
        return 0
    pins = runtime_pins()
    report = audit(service, pins)
    unaudited = [d["name"] for d in report["dependencies"] if "skip_reason" in d]
    if len(unaudited) == len(report["dependencies"]):
        record(status="skipped", reason=f"{service} audited nothing")
        print(f"pip-audit: not run: {service} could audit none of the dependencies")
        return 0
    found = {
        dep["name"]: [v["id"] for v in dep.get("vulns", [])]
        for dep in report["dependencies"]
        if dep.get("vulns")
    }
    record(
        status="ran",
        service=service,
        audited=len(pins),
        unaudited=unaudited,
        vulnerable=found,
    )
    if found:
        print(f"pip-audit ({service}): known vulnerabilities: {found}")
        return 1
    print(f"pip-audit ({service}): {len(pins)} pinned dependencies, none vulnerable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
