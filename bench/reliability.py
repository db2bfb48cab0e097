"""Reliability report (issue 6): run the hardening suites, print what they saw.

    make reliability            # or: .venv/bin/python bench/reliability.py

Runs the bad-input table, the HTTP property tests, schemathesis, the seat races
(``SEAT_RACE_ROUNDS`` rounds, 30 by default), the database-restart test, the fault,
rate-limit, enumeration and secrets tests, on SQLite and on the PostgreSQL of
``TEST_DATABASE_URL`` (default: the local server), then pip-audit (``.ci/audit.py``).
The tests write their measurements to a JSON-lines file (``RELIABILITY_METRICS``);
this script sums them into one table, prints it, and writes it to
``bench/results/reliability.json``. It exits non-zero when a test failed, a 5xx
was seen outside the injected outage, a seat limit was broken, or an activation
was lost or duplicated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "reliability.json"
SUITES = [
    "test_bad_inputs.py",
    "test_properties.py",
    "test_schemathesis.py",
    "test_seat_races.py",
    "test_seat_race_rounds.py",
    "test_db_restart.py",
    "test_faults.py",
    "test_ratelimit.py",
    "test_enumeration.py",
    "test_secrets_in_logs.py",
]
# issue 17 (hardening, second pass): the suite of each finding, reported one by one
SECOND_PASS = {
    "test_secrets_at_rest.py": "idempotent answers sealed, purged, capped; keys bound",
    "test_migration_0009.py": "0005_releases database upgrades, secrets re-sealed",
    "test_event_chain_keyed.py": "event chain keyed: a rebuilt chain is caught",
    "test_instance_files.py": "embedded database 0600 in a 0700 folder",
    "test_seat_abuse.py": "dev cap 3, deactivation limit, read keys see hints",
    "test_security_headers.py": "security headers; gunicorn refusals in JSON",
    "test_domain_crosscheck.py": "domains agree with WHATWG URL and PHP ICU",
    "test_product_identifiers.py": "vendor-scoped product identifiers",
}
SUITES += list(SECOND_PASS)


def run_suites(metrics: Path, junit: Path) -> int:
    """Run the suites with measurements on; return pytest's exit code."""
    env = {
        **os.environ,
        "RELIABILITY_METRICS": str(metrics),
        "SEAT_RACE_ROUNDS": os.environ.get("SEAT_RACE_ROUNDS", "30"),
        "TEST_DATABASE_URL": os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    }
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    argv += [f"--junitxml={junit}", *(f"tests/server/{name}" for name in SUITES)]
    code = subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode
    # pip-audit is a CI step of its own (.ci/audit.py); it records its result too
    audit = [sys.executable, str(ROOT / ".ci" / "audit.py")]
    return code or subprocess.run(audit, cwd=ROOT, env=env, check=False).returncode


def load(metrics: Path) -> list[dict[str, Any]]:
    """Read the measurements the tests wrote."""
    if not metrics.exists():
        return []
    lines = metrics.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_counts(junit: Path) -> dict[str, int]:
    """Return passed/failed/skipped/xfailed counts from the JUnit report."""
    counts: Counter[str] = Counter()
    if not junit.exists():
        return dict(counts)
    for case in ElementTree.parse(junit).iter("testcase"):  # noqa: S314 - our own
        outcome = "passed"
        for child in case:
            if child.tag in {"failure", "error"}:
                outcome = "failed"
            elif child.tag == "skipped":
                xfail = "xfail" in (child.get("type") or "") + (
                    child.get("message") or ""
                )
                outcome = "xfailed" if xfail else "skipped"
        counts[outcome] += 1
    return dict(counts)


def suite_counts(junit: Path) -> dict[str, dict[str, int]]:
    """Return passed/failed/skipped counts per test module of the JUnit report."""
    counts: dict[str, Counter[str]] = {}
    if not junit.exists():
        return {}
    for case in ElementTree.parse(junit).iter("testcase"):  # noqa: S314 - our own
        module = (case.get("classname") or "").rpartition(".")[2] + ".py"
        tags = {child.tag for child in case}
        outcome = (
            "failed"
            if tags & {"failure", "error"}
            else "skipped"
            if "skipped" in tags
            else "passed"
        )
        counts.setdefault(module, Counter())[outcome] += 1
    return {name: dict(found) for name, found in counts.items()}


def summarise(records: list[dict[str, Any]], tests: dict[str, int]) -> dict[str, Any]:
    """Sum the measurements into the report's figures."""
    kinds: dict[str, list[dict[str, Any]]] = {}
    for item in records:
        kinds.setdefault(item["kind"], []).append(item)
    bad = kinds.get("bad_input", [])
    generated = kinds.get("property", []) + kinds.get("schemathesis", [])
    races = kinds.get("seat_race", [])
    restarts = kinds.get("db_restart", [])
    audits = kinds.get("pip_audit", [])
    five_xx = sum(1 for item in bad + generated if int(item["status"]) >= 500)
    five_xx += sum(int(r["errors_5xx_outside_outage"]) for r in restarts)
    five_xx += sum(int(r["unexpected_5xx"]) for r in restarts)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "tests": tests,
        "bad_inputs_tried": len(bad),
        "bad_inputs_answered_as_documented": sum(1 for b in bad if b["documented"]),
        "bad_inputs_not_documented": sorted(
            {b["case"] for b in bad if not b["documented"]}
        ),
        "generated_requests": len(generated),
        "5xx_outside_injected_outage": five_xx,
        "seat_race_rounds": len(races),
        "seat_limit_violations": sum(int(r["violations"]) for r in races),
        "db_restarts": len(restarts),
        "activations_answered_201_during_restart": sum(
            int(r["answers"].get("201", 0)) for r in restarts
        ),
        "answers_503_during_outage": sum(
            int(r["answers"].get("503", 0)) for r in restarts
        ),
        "activations_lost": sum(int(r["lost"]) for r in restarts),
        "activations_duplicated": sum(int(r["duplicated"]) for r in restarts),
        "recovery_seconds_after_db_restart": max(
            (
                float(r["recovery_seconds"])
                for r in restarts
                if r["recovery_seconds"] is not None
            ),
            default=None,
        ),
        "pip_audit": audits[-1] if audits else {"status": "not run"},
    }


def render(report: dict[str, Any]) -> str:
    """Return the report as an aligned two-column table."""
    rows = [
        (
            "tests (passed/failed/skipped/xfailed)",
            "/".join(
                str(report["tests"].get(k, 0))
                for k in ("passed", "failed", "skipped", "xfailed")
            ),
        ),
        ("bad inputs tried", report["bad_inputs_tried"]),
        ("  answered as documented", report["bad_inputs_answered_as_documented"]),
        ("  not as documented", ", ".join(report["bad_inputs_not_documented"]) or "-"),
        ("generated requests (hypothesis, schemathesis)", report["generated_requests"]),
        ("5xx seen outside the injected outage", report["5xx_outside_injected_outage"]),
        ("seat-race rounds (PostgreSQL)", report["seat_race_rounds"]),
        ("seat-limit violations", report["seat_limit_violations"]),
        (
            "201s during the database restart test",
            report["activations_answered_201_during_restart"],
        ),
        ("503s during the outage", report["answers_503_during_outage"]),
        ("activations lost", report["activations_lost"]),
        ("activations duplicated", report["activations_duplicated"]),
        (
            "recovery after the database restart (s)",
            report["recovery_seconds_after_db_restart"],
        ),
        (
            "pip-audit",
            report["pip_audit"].get("status", "?")
            + (
                f" ({report['pip_audit'].get('reason')})"
                if report["pip_audit"].get("reason")
                else ""
            ),
        ),
    ]
    for name, what in SECOND_PASS.items():
        found = report.get("second_pass", {}).get(name, {})
        figures = "/".join(
            str(found.get(k, 0)) for k in ("passed", "failed", "skipped")
        )
        rows.append((f"issue 17: {what}", figures))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main() -> int:
    """Run, print, save; return non-zero on any failure or violation."""
    with tempfile.TemporaryDirectory() as folder:
        metrics, junit = Path(folder) / "metrics.jsonl", Path(folder) / "junit.xml"
        started = time.monotonic()
        code = run_suites(metrics, junit)
        report = summarise(load(metrics), test_counts(junit))
        report["second_pass"] = {
            name: found
            for name, found in suite_counts(junit).items()
            if name in SECOND_PASS
        }
    report["seconds"] = round(time.monotonic() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("\nReliability report (issue 6)\n")
    print(render(report))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)} in {report['seconds']} s")
    broken = (
        report["5xx_outside_injected_outage"]
        or report["seat_limit_violations"]
        or report["activations_lost"]
        or report["activations_duplicated"]
        or not report["db_restarts"]
        or any(found.get("failed") for found in report["second_pass"].values())
    )
    return 1 if code != 0 or broken else 0


if __name__ == "__main__":
    sys.exit(main())
