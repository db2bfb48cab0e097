"""Benchmark the validate path against the bare request, at 1,000 to 1,000,000 licenses.

One run (``make bench``, or ``.venv/bin/python bench/run.py``), for PostgreSQL and then
SQLite:

1. creates a scratch database (PostgreSQL: ``ls_bench_<pid>``, dropped at the end),
   migrates it with ``license-server db upgrade`` and creates a vendor with
   ``license-server vendors create``; the product comes from the admin API;
2. seeds licenses with one activation each, in bulk (bench/seed.py), growing the same
   database through each size (default 1,000 then 1,000,000), plus a pool of 1,000
   licenses with free seats for the activation phase;
3. for each size starts ``license-server serve`` the way production does (its default
   server and worker count unless ``--servers``/``--workers`` say otherwise) and drives,
   with wrk at 16 connections: ``POST /v1/validate`` rotating through a shuffled
   sample of real (key, domain) pairs, ``POST /v1/updates/check`` over the same
   pairs (the ``update`` phase: the product has a published release, so every
   check is entitled and answers a package URL; its ratio to validate is printed,
   goal >= 0.8), ``POST /v1/activate`` of fresh domains, then ``GET /healthz``
   (touches nothing) as the bare baseline of the same server;
4. measures issuing licenses through the admin API, and the client's ``status()``
   when bench/client_status.py exists;
5. prints the table and writes it as JSON under bench/results/.

Each phase is a warm-up then ``--repeat`` (3) runs of ``--duration`` (10) seconds;
the table shows medians. ``--quick`` is a smaller run (1,000 and 20,000 licenses, one
5-second run per phase).
``--servers gunicorn,gunicorn:4,granian`` compares servers (``NAME[:THREADS]``);
``--profile`` samples one worker with py-spy during each validate, update check and
activate phase.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import profiling  # noqa: E402
import seed  # noqa: E402

from license_server.keyring import Keyring, decode_master_key, new_master_key  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PRODUCT = {"slug": "bench-theme", "name": "Bench Theme", "key_prefix": "BEN"}
POOL_SEATS = 1_000_000
ISSUE_BATCH = 1000
ISSUE_CALLS = 5
RATE_LIMITS = ("ACTIVATE", "VALIDATE", "DEACTIVATE", "JWKS", "LICENSE_KEY")
RATE_LIMITS += ("FAILED_LOOKUPS", "UPDATE_CHECK", "DOWNLOAD", "CHANGELOG")
UNLIMITED = "1000000000/minute"
DEFAULT_WORKERS = 2  # serve's default
PHASES = ("validate", "update", "activate", "healthz", "ideal", "bare")
UPDATE_GOAL = 0.8  # update check req/s >= 0.8x validate (issue 10)
RELEASE_MB = 1  # the update phase's package (downloads are bench/updates.py's)
# several processes serve, so the limiter's counters live in Redis (as in production)
DEFAULT_STORAGE = "redis://127.0.0.1:6379/15"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small, short run")
    parser.add_argument("--sizes", help="license counts, e.g. 1000,1000000")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--duration", type=float, help="seconds per run (10)")
    parser.add_argument("--warmup", type=float, help="seconds before each phase (3)")
    parser.add_argument("--repeat", type=int, help="runs per phase (3); medians")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--sample", type=int, help="(key, domain) pairs (100000)")
    parser.add_argument("--pool", type=int, default=1000, help="licenses to activate")
    parser.add_argument("--workers", type=int, help="serve --workers (serve's default)")
    parser.add_argument(
        "--servers", default="", help="NAME[:THREADS],... (serve's default)"
    )
    parser.add_argument(
        "--ratelimit-storage",
        default=DEFAULT_STORAGE,
        help=f"rate-limit counters ({DEFAULT_STORAGE})",
    )
    parser.add_argument(
        "--phases",
        default="validate,update,activate,healthz,ideal,issue",
        help="which to run (issue alone: only the bulk issue, after the seeding)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting, e.g. --set LAST_SEEN_FLUSH_INTERVAL=1 (repeatable)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy one worker in each validate, update and activate phase",
    )
    parser.add_argument("--no-issue", action="store_true", help="skip license issue")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server where ls_bench_<pid> may be created",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    quick = args.quick
    args.sizes = [
        int(n)
        for n in (args.sizes or ("1000,20000" if quick else "1000,1000000")).split(",")
    ]
    args.duration = args.duration or (5.0 if quick else 10.0)
    args.repeat = args.repeat or (1 if quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if quick else 3.0)
    args.sample = args.sample or (10_000 if quick else 100_000)
    args.backends = args.backends.split(",")
    args.phases = args.phases.split(",")
    args.servers = [spec for spec in args.servers.split(",") if spec] or [""]
    return args


def served(args: argparse.Namespace) -> bool:
    """Whether any phase but the bulk issue runs (the served rows of the table)."""
    return any(name in args.phases for name in PHASES)


def serve_options(spec: str, workers: int | None) -> list[str]:
    """Turn ``NAME[:THREADS]`` (empty: serve's defaults) into serve options."""
    options = [] if workers is None else ["--workers", str(workers)]
    if spec:
        name, _, threads = spec.partition(":")
        options += ["--server", name]
        if threads:
            options += ["--threads", threads]
    return options


def server_env(
    url: str, master: str, scratch: Path, storage: str | None, settings: list[str]
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSE_SERVER_")}
    env.update(
        LICENSE_SERVER_DATABASE_URL=url,
        LICENSE_SERVER_MASTER_KEY=master,
        LICENSE_SERVER_INSTANCE_PATH=str(scratch / "instance"),
        LICENSE_SERVER_LOG_LEVEL="WARNING",
    )
    # wrk is one client address: raise the limits so it is never refused, while the
    # limiter still counts every request (its cost is part of the figures)
    for name in RATE_LIMITS:
        env[f"LICENSE_SERVER_RATELIMIT_{name}"] = UNLIMITED
    if storage:
        env["LICENSE_SERVER_RATELIMIT_STORAGE_URI"] = storage
        env["LICENSE_SERVER_RATELIMIT_KEY_PREFIX"] = f"bench-{uuid.uuid4().hex[:8]}"
    for setting in settings:
        name, _, value = setting.partition("=")
        env[f"LICENSE_SERVER_{name}"] = value
    return env


def served_with(server: harness.Server) -> str:
    """Return what serve said it runs (server, workers, threads)."""
    for line in server.log.read_text(errors="replace").splitlines():
        if line.startswith("serving on "):
            return line.partition(" with ")[2] or line
    return "unknown"


def check_pairs(server: harness.Server, pairs: list[tuple[str, str]]) -> None:
    """Refuse to benchmark unless sampled pairs really validate as VALID."""
    for key, domain in random.sample(pairs, min(20, len(pairs))):
        body = {"license_key": key, "domain": domain, "product": PRODUCT["slug"]}
        status, answer = harness.http(server.url + "/v1/validate", body)
        if status != 200 or answer.get("code") != "VALID":
            sys.exit(f"seeded pair does not validate: {status} {answer}")


def phase(
    args: argparse.Namespace,
    server: harness.Server,
    script: str,
    *script_args: str,
    path: str = "",
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """Warm up, then run wrk ``--repeat`` times; return medians and the runs."""

    def run(seconds: float) -> harness.WrkResult:
        return harness.wrk(
            server.url + path,
            script,
            *script_args,
            seconds=seconds,
            connections=args.connections,
            threads=args.wrk_threads,
        )

    if args.warmup:
        run(args.warmup)
    runs, profile, cpu = [], None, []
    for attempt in range(args.repeat):
        sampler = None
        if profile_to is not None and attempt == 0:
            pids = server.worker_pids() or [server.process.pid]
            sampler = profiling.record(pids[0], max(1, args.duration - 1), profile_to)
        before = harness.cpu_seconds(server)
        runs.append(run(args.duration))
        after = harness.cpu_seconds(server)
        cpu.append(
            {
                name: (after[name] - before[name]) / runs[-1].requests * 1e6
                for name in before
            }
        )
        if sampler is not None:
            sampler.wait(timeout=60)
            if profile_to is not None and profile_to.exists():
                profile = {
                    "inclusive": profiling.summarise(profile_to, 25),
                    "self": profiling.self_time(profile_to, 25),
                    "raw": str(profile_to),
                }
    return {
        "rps": statistics.median(r.rps for r in runs),
        "p50_ms": statistics.median(r.p50_ms for r in runs),
        "p99_ms": statistics.median(r.p99_ms for r in runs),
        "errors": sum(r.errors for r in runs),
        # CPU time per request, in microseconds: the server's processes and the
        # database's (PostgreSQL backends of the bench database); steadier than
        # req/s on a machine shared with other work
        "cpu_us": {name: statistics.median(c[name] for c in cpu) for name in cpu[0]},
        "requests": sum(r.requests for r in runs),
        "runs": [r.detail for r in runs],
        "profile": profile,
    }


def write_lines(path: Path, lines: list[str]) -> str:
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def stage_sample(
    chunks: list[seed.Seeded], size: int, sample: int
) -> list[tuple[str, str]]:
    """Pick about ``sample`` pairs spread evenly over every seeded chunk, shuffled."""
    every = max(1, size // sample)
    pairs: list[tuple[str, str]] = []
    for chunk in chunks:
        pairs += chunk.sample[:: max(1, every // chunk.every)]
    random.shuffle(pairs)
    return pairs


def measure_issue(
    args: argparse.Namespace, server: harness.Server, api_key: str
) -> dict[str, Any]:
    """Licenses per second through the admin API: in batches if it can, else singly.

    Batches: ``POST /v1/admin/licenses/batch`` with ``"count": 1000``, one call
    after another (a vendor's import script), ``ISSUE_CALLS`` times, after one
    call to warm up. Without that endpoint: wrk on ``POST /v1/admin/licenses``.
    """
    url = server.url + "/v1/admin/licenses/batch"
    batch = {"product": PRODUCT["slug"], "count": ISSUE_BATCH}
    status, body = harness.http(url, batch, api_key)
    if status == 201:
        timings = []
        before = harness.cpu_seconds(server)
        for _ in range(ISSUE_CALLS):
            began = time.perf_counter()
            status, body = harness.http(url, batch, api_key)
            timings.append(time.perf_counter() - began)
            if status != 201 or len(body["data"]) != ISSUE_BATCH:
                sys.exit(f"batch issue failed: {status} {str(body)[:300]}")
        after = harness.cpu_seconds(server)
        issued = ISSUE_CALLS * ISSUE_BATCH
        return {
            "mode": f"POST /v1/admin/licenses/batch, {ISSUE_BATCH} per call",
            "licenses_per_s": ISSUE_BATCH / statistics.median(timings),
            "seconds_per_call": timings,
            # CPU per license of the server's processes and of the database (all
            # calls: steadier than the wall time on a shared machine)
            "cpu_us": {
                name: (after[name] - before[name]) / issued * 1e6 for name in before
            },
        }
    result = phase(args, server, "issue.lua", api_key, PRODUCT["slug"])
    return {
        "mode": f"POST /v1/admin/licenses, one per call (batch: {status})",
        "licenses_per_s": result["rps"],
        "p99_ms": result["p99_ms"],
        "errors": result["errors"],
    }


def client_status() -> dict[str, Any] | None:
    """Run bench/client_status.py (the client's status() cost) when it exists."""
    script = Path(__file__).resolve().parent / "client_status.py"
    if not script.exists():
        return None
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600
    )
    result: dict[str, Any] = {"returncode": done.returncode, "output": done.stdout}
    # lines such as "status() warm cache :    0.598 us/call (goal <= 5.0 us)"
    for line in done.stdout.splitlines():
        label, colon, value = line.partition(":")
        number = value.split()[0] if value.split() else ""
        if colon and number.rstrip("x").replace(".", "", 1).isdigit():
            result[label.strip()] = float(number.rstrip("x"))
    return result


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = Path("/proc/meminfo").read_text().split()[1]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 2**20, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "wrk": subprocess.run(
            [harness.ensure_wrk(), "-v"], capture_output=True, text=True
        ).stdout.split("\n")[0],
    }


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"


def bench_backend(
    args: argparse.Namespace, backend: str, scratch: Path, report: dict[str, Any]
) -> None:
    master = new_master_key()
    with harness.database(backend, args.pg_url, scratch) as url:
        if backend == "postgresql":
            report["machine"]["postgresql"] = postgres_version(url)
        env = server_env(url, master, scratch, args.ratelimit_storage, args.set)
        harness.cli(env, "db", "upgrade")
        vendor = json.loads(
            harness.cli(
                env, "vendors", "create", "Bench Themes", "--slug", "bench", "--json"
            )
        )
        api_key = vendor["api_key"]
        first = serve_options(args.servers[0], args.workers)
        with harness.serve(env, scratch, first) as server:
            status, product = harness.http(
                server.url + "/v1/admin/products", PRODUCT, api_key
            )
            if status != 201:
                sys.exit(f"cannot create the product: {status} {product}")
            if "update" in args.phases:
                import updates as update_bench  # bench/updates.py imports this module

                update_bench.add_release(server, api_key, product["id"], RELEASE_MB)
        target = seed.Target(
            url=url,
            keyring=Keyring(decode_master_key(master)),
            vendor_id=uuid.UUID(vendor["vendor"]["id"]),
            product_id=uuid.UUID(product["id"]),
            key_prefix=PRODUCT["key_prefix"],
        )
        pool = seed.seed(
            target, start=10**9, count=args.pool, seats=POOL_SEATS, activate=False
        )
        pool_file = write_lines(scratch / "pool.txt", [k for k, _ in pool.sample])
        chunks: list[seed.Seeded] = []
        seeded = 0
        for size in args.sizes:
            every = max(1, size // args.sample)
            chunk = seed.seed(target, start=seeded, count=size - seeded, every=every)
            chunks.append(chunk)
            seeded = size
            rate = chunk.count / chunk.seconds
            print(
                f"[{backend}] seeded {chunk.count:,} licenses in {chunk.seconds:.1f} s"
                f" ({rate:,.0f}/s); total {size:,}",
                flush=True,
            )
            report["seeding"].append(
                {"backend": backend, "licenses": chunk.count, "seconds": chunk.seconds}
            )
            pairs = stage_sample(chunks, size, args.sample)
            pairs_file = write_lines(
                scratch / "pairs.txt", [f"{k}\t{d}" for k, d in pairs]
            )
            for spec in args.servers if served(args) else []:
                row = bench_server(
                    args, env, scratch, spec, pairs, pairs_file, pool_file
                )
                row.update(backend=backend, licenses=size, keys=len(pairs))
                report["runs"].append(row)
                print_row(row)
        if "issue" in args.phases and not args.no_issue:
            with harness.serve(env, scratch, first) as server:
                issue = measure_issue(args, server, api_key)
                issue.update(backend=backend, licenses_before=seeded)
                report["issue"].append(issue)


def bench_server(
    args: argparse.Namespace,
    env: dict[str, str],
    scratch: Path,
    spec: str,
    pairs: list[tuple[str, str]],
    pairs_file: str,
    pool_file: str,
) -> dict[str, Any]:
    """Start one server and run the phases against it; return the table row."""
    with harness.serve(env, scratch, serve_options(spec, args.workers)) as server:
        check_pairs(server, pairs)
        row: dict[str, Any] = {"server": served_with(server)}
        print(f"  {row['server']} ...", flush=True)

        def profile_to(endpoint: str) -> Path | None:
            if not args.profile:
                return None
            name = f"profile-{endpoint}-{len(pairs)}-{spec or 'default'}-{server.port}"
            return args.out / f"{name.replace(':', 'x')}.txt"

        if "validate" in args.phases:
            row["validate"] = phase(
                args,
                server,
                "validate.lua",
                pairs_file,
                PRODUCT["slug"],
                profile_to=profile_to("validate"),
            )
        if "update" in args.phases:
            import updates as update_bench

            update_bench.check_offers_package(server, pairs)
            row["update"] = phase(
                args,
                server,
                "updates.lua",
                pairs_file,
                PRODUCT["slug"],
                profile_to=profile_to("update"),
            )
        if "activate" in args.phases:
            tag = uuid.uuid4().hex[:8]
            row["activate"] = phase(
                args,
                server,
                "activate.lua",
                pool_file,
                PRODUCT["slug"],
                tag,
                profile_to=profile_to("activate"),
            )
        row["healthz"] = phase(args, server, "healthz.lua", path="/healthz")
        if any(row[name]["errors"] for name in PHASES if name in row):
            log = server.log.read_text(errors="replace")
            print(log[-2000:])
            (args.out / "last-errors.log").write_text(log)
    if "ideal" in args.phases and env["LICENSE_SERVER_DATABASE_URL"].startswith(
        "postgres"
    ):
        name, _, threads = spec.partition(":")
        workers = args.workers or DEFAULT_WORKERS
        with harness.serve_ideal(
            env, scratch, name, workers, int(threads or 1)
        ) as ideal:
            row["ideal"] = phase(
                args, ideal, "validate.lua", pairs_file, PRODUCT["slug"]
            )
            row["bare"] = phase(args, ideal, "healthz.lua", path="/healthz")
    return row


def print_row(row: dict[str, Any]) -> None:
    # ratios: to bare Flask on the same server when measured, else to our /healthz;
    # validate also to the ideal endpoint
    bare = row.get("bare", row["healthz"])["rps"]
    ideal = row.get("ideal", {}).get("rps")
    for name in PHASES:
        if name not in row:
            continue
        r = row[name]
        cpu = r.get("cpu_us", {})
        to_ideal = (
            f"{r['rps'] / ideal:>6.2f}" if ideal and name == "validate" else " " * 6
        )
        print(
            f"  {row['backend']:<10} {row['licenses']:>9,} {name:<9} {r['rps']:>9,.0f}"
            f" {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>7}"
            f" {r['rps'] / bare:>6.2f} {to_ideal} {cpu.get('server', 0):>8.0f}"
            f" {cpu.get('database', 0):>6.0f}",
            flush=True,
        )
        if name == "update" and "validate" in row:
            ratio = r["rps"] / row["validate"]["rps"]
            print(
                f"  {'':<10} {'':>9} update check / validate = {ratio:.2f}"
                f" (goal >= {UPDATE_GOAL})",
                flush=True,
            )
        if r.get("profile"):
            for kind in ("inclusive", "self"):
                print(f"        profile, {kind}:")
                for fn, share in r["profile"][kind][:15]:
                    print(f"        {share:5.1f}%  {fn}")


def print_table(report: dict[str, Any]) -> None:
    print()
    print(f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores")
    servers = sorted({row["server"] for row in report["runs"]})
    print(f"Server: {'; '.join(servers)}")
    print(
        f"  {'backend':<10} {'licenses':>9} {'endpoint':<9} {'req/s':>9} {'p50 ms':>8}"
        f" {'p99 ms':>8} {'errors':>7} {'÷bare':>6} {'÷ideal':>6} {'cpu us':>8}"
        f" {'db us':>6}"
    )
    for row in report["runs"]:
        if len(servers) > 1:
            print(f"  -- {row['server']}")
        print_row(
            {**row, **{n: {**row[n], "profile": None} for n in PHASES if n in row}}
        )
    for issue in report["issue"]:
        cpu = issue.get("cpu_us", {})
        print(
            f"  issue on {issue['backend']}: {issue['licenses_per_s']:,.0f} licenses/s"
            f" ({issue['mode']}); {1e6 / issue['licenses_per_s']:.0f} us a license,"
            f" CPU {cpu.get('server', 0):.0f} us server + {cpu.get('database', 0):.0f}"
            " us database"
        )
    status = report.get("client_status") or {}
    if "status() warm cache" in status:
        print(
            f"  client status() with a warm cache: {status['status() warm cache']} us"
            f" per call; one Ed25519 verify: {status.get('Ed25519 verify', '?')} us"
        )
    for goal, ok in goals(report).items():
        print(f"  goal {'met ' if ok else 'MISSED'}: {goal}")


def goals(report: dict[str, Any]) -> dict[str, bool]:
    """Check the issue's goals on the PostgreSQL runs of this report."""
    pg = [
        row
        for row in report["runs"]
        if row["backend"] == "postgresql" and "validate" in row
    ]
    if not pg:
        return {}
    largest = max(pg, key=lambda row: row["licenses"])
    smallest = min(pg, key=lambda row: row["licenses"])
    v = largest["validate"]
    n = f"{largest['licenses']:,}"
    found = {
        f"validate at {n} p99 <= 10 ms": v["p99_ms"] <= 10,
        "zero errors": all(
            row[p]["errors"] == 0 for row in pg for p in PHASES if p in row
        ),
        f"{n} within 10% of {smallest['licenses']:,}": v["rps"]
        >= 0.9 * smallest["validate"]["rps"],
    }
    if "ideal" in largest:
        found[f"validate at {n} >= 0.7x ideal"] = (
            v["rps"] >= 0.7 * largest["ideal"]["rps"]
        )
    if "bare" in largest:
        found["healthz >= 0.8x bare Flask"] = (
            largest["healthz"]["rps"] >= 0.8 * largest["bare"]["rps"]
        )
    if "update" in largest:
        found[f"update check at {n} >= {UPDATE_GOAL}x validate"] = (
            largest["update"]["rps"] >= UPDATE_GOAL * v["rps"]
        )
    if "activate" in largest:
        found["activate >= 0.5x validate"] = (
            largest["activate"]["rps"] >= 0.5 * v["rps"]
        )
    for issue in report["issue"]:
        if issue["backend"] == "postgresql":
            found["issue >= 10,000 licenses/s"] = issue["licenses_per_s"] >= 10000
    status = report.get("client_status") or {}
    if "status() warm cache" in status:
        found["client status() <= 5 us"] = status["status() warm cache"] <= 5
    return found


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    harness.ensure_wrk()
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
        },
        "seeding": [],
        "runs": [],
        "issue": [],
    }
    with harness.scratch_dir() as scratch:
        for backend in args.backends:
            bench_backend(args, backend, Path(scratch), report)
    report["client_status"] = client_status() if served(args) else None
    report["goals"] = goals(report)
    print_table(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
