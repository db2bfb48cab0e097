"""Scale-out: validate through nginx with 1, 2 and 3 server processes.

The topology of docker-compose.yml and of tests/system/test_scale_out.py (the same
harness, tests/system/cluster.py): N ``license-server serve`` processes on their
own ports behind Debian's nginx, one PostgreSQL database of the run's own, the
machine's Redis under a key prefix of the run's own (rate limits on, counted there,
set high enough never to refuse). wrk drives ``POST /v1/validate`` through nginx,
rotating over real (key, domain) pairs. Each process count gets a warm-up and
``--repeat`` runs (medians reported) and the ratio to one process in the same run.

On a machine with few cores the server processes, nginx, PostgreSQL, Redis and wrk
all share the same CPUs, so adding processes cannot add throughput: what this shows
there is that throughput does not fall and p99 holds as processes are added. On a
machine with more cores than one process uses, throughput should grow.

    .venv/bin/python bench/scale_out.py --seconds 5 --licenses 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import LUA, wrk  # noqa: E402

from tests.system.cluster import Nginx, cluster, create_vendor  # noqa: E402

RESULTS = ROOT / "bench" / "results"
LIMITS = {
    "RATELIMIT_VALIDATE": "100000000/minute",
    "RATELIMIT_ACTIVATE": "100000000/minute",
    "RATELIMIT_LICENSE_KEY": "100000000/minute",
}


def machine() -> dict[str, Any]:
    """Name the machine: host, CPU model, cores and the load when the run began."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "host": platform.node(),
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "python": platform.python_version(),
    }


def seed(base: str, api_key: str, count: int, scratch: Path) -> Path:
    """Issue ``count`` licenses, activate one domain each; write the pairs file."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with requests.Session() as session:
        session.headers.update(headers)
        product = {"slug": "scale", "name": "Scale", "max_domains": 1}
        session.post(f"{base}/v1/admin/products", json=product, timeout=30)
        lines = []
        for n in range(count):
            made = session.post(
                f"{base}/v1/admin/licenses", json={"product": "scale"}, timeout=30
            )
            key = made.json()["key"]
            domain = f"site{n}.example.com"
            body = {"license_key": key, "domain": domain, "product": "scale"}
            done = session.post(f"{base}/v1/activate", json=body, timeout=30)
            assert done.status_code == 201, done.text
            lines.append(f"{key}\t{domain}")
    pairs = scratch / "pairs.tsv"
    pairs.write_text("\n".join(lines) + "\n")
    return pairs


def measure(url: str, pairs: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then ``--repeat`` wrk runs; return the medians."""
    script = str(LUA / "validate.lua")
    options = {"connections": args.connections, "threads": 2}
    wrk(
        f"{url}/v1/validate",
        script,
        str(pairs),
        "scale",
        seconds=args.warmup,
        **options,
    )
    runs = [
        wrk(
            f"{url}/v1/validate",
            script,
            str(pairs),
            "scale",
            seconds=args.seconds,
            **options,
        )
        for _ in range(args.repeat)
    ]
    return {
        "rps": statistics.median(r.rps for r in runs),
        "p50_ms": statistics.median(r.p50_ms for r in runs),
        "p99_ms": statistics.median(r.p99_ms for r in runs),
        "errors": sum(r.errors for r in runs),
        "requests": sum(r.requests for r in runs),
    }


def main() -> None:
    """Run the scale-out phase and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--processes", default="1,2,3", help="process counts to run")
    parser.add_argument("--workers", type=int, default=1, help="workers per process")
    parser.add_argument("--licenses", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]

    about = machine()
    print(f"machine: {about['host']}, {about['cores']} cores, {about['cpu']}")
    print(f"load average at start: {about['load_average']} (a shared machine)")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ls-scale-bench-") as folder:
        scratch = Path(folder)
        with cluster(
            scratch,
            pg_url=args.pg_url,
            redis_url=args.redis_url,
            processes=max(counts),
            workers=args.workers,
            settings=LIMITS,
            access_log=False,  # as `serve` runs by default
        ) as running:
            api_key = create_vendor(running)
            pairs = seed(running.url, api_key, args.licenses, scratch)
            running.nginx.stop()
            for n in counts:
                # the same processes, nginx pointed at the first n of them
                ports = [server.port for server in running.servers[:n]]
                proxy = Nginx(scratch / f"nginx-{n}", ports)
                proxy.start()
                try:
                    result = measure(proxy.url, pairs, args)
                finally:
                    proxy.stop()
                rows.append({"processes": n, **result})
                print(
                    f"{n} process(es): {result['rps']:8.1f} req/s  "
                    f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  "
                    f"errors {result['errors']}",
                    flush=True,
                )
    base = rows[0]["rps"]
    print("\nprocesses  req/s     ratio  p50 ms  p99 ms  errors")
    for row in rows:
        row["ratio"] = row["rps"] / base if base else 0.0
        print(
            f"{row['processes']:>9}  {row['rps']:8.1f}  {row['ratio']:5.2f}  "
            f"{row['p50_ms']:6.1f}  {row['p99_ms']:6.1f}  {row['errors']:>6}"
        )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"scale-out-{stamp}.json"
    settings = {k: v for k, v in vars(args).items() if k != "pg_url"}
    out.write_text(
        json.dumps({"machine": about, "settings": settings, "rows": rows}, indent=2)
    )
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
