"""Benchmark the update path: update check vs validate, download vs a bare handler.

One run (``.venv/bin/python bench/updates.py``, or ``make bench-updates``):

1. creates a scratch database (PostgreSQL ``ls_bench_<pid>`` by default), migrates it,
   creates a vendor (CLI) and a product (admin API), and publishes one release whose
   package is a ZIP of ``--package-mb`` (20) MB of incompressible bytes;
2. seeds ``--licenses`` licenses with one activation each (bench/seed.py);
3. starts ``license-server serve`` as production does and, with wrk, alternates
   ``POST /v1/validate`` and ``POST /v1/updates/check`` (the same sampled (key,
   domain) pairs; every check is entitled, so each answer carries a package URL and
   two signatures) for ``--repeat`` runs each, after a warm-up of both;
4. downloads the package through its package URL (``GET /v1/downloads/<token>``:
   URL check, licence re-check, download count, the file) and the same file from a
   bare WSGI app (bench/static_app.py) under the same server and options, alternated;
5. prints medians and the ratios (goals: check >= 0.8x validate, download >= 0.7x
   bare) and writes the report under bench/results/updates-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import run  # noqa: E402
import seed  # noqa: E402

from license_server.cli.serve import _server_argv  # noqa: E402
from license_server.keyring import Keyring, decode_master_key, new_master_key  # noqa: E402

PRODUCT = run.PRODUCT


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend", default="postgresql", choices=["postgresql", "sqlite"]
    )
    parser.add_argument("--licenses", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--download-connections", type=int, default=4)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--package-mb", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    return parser.parse_args()


def package(slug: str, megabytes: int) -> bytes:
    """A theme ZIP of about ``megabytes`` MB that does not compress."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{slug}/style.css", f"/*\nTheme Name: {slug}\n*/\n")
        archive.writestr(
            f"{slug}/assets/blob.bin",
            random.randbytes(megabytes * 1024 * 1024),
            compress_type=zipfile.ZIP_STORED,
        )
    return buffer.getvalue()


def put_package(url: str, token: str, data: bytes) -> dict[str, Any]:
    """PUT a package as the raw body; return the release."""
    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1 only
        url,
        data=data,
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/zip"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
        answer: dict[str, Any] = json.load(response)
        return answer


def publish_release(
    server: harness.Server, api_key: str, megabytes: int
) -> dict[str, Any]:
    status, product = harness.http(server.url + "/v1/admin/products", PRODUCT, api_key)
    if status != 201:
        sys.exit(f"cannot create the product: {status} {product}")
    release = add_release(server, api_key, product["id"], megabytes)
    return {"product": product, "release": release}


def add_release(
    server: harness.Server, api_key: str, product_id: str, megabytes: int
) -> dict[str, Any]:
    """Create, upload and publish release 1.1.0 of the bench product; return it."""
    base = server.url + "/v1/admin"
    status, release = harness.http(
        f"{base}/products/{product_id}/releases",
        {"version": "1.1.0", "changelog": "* Faster"},
        api_key,
    )
    if status != 201:
        sys.exit(f"cannot create the release: {status} {release}")
    put_package(
        f"{base}/releases/{release['id']}/package",
        api_key,
        package(PRODUCT["slug"], megabytes),
    )
    status, release = harness.http(
        f"{base}/releases/{release['id']}/publish", {}, api_key
    )
    if status != 200:
        sys.exit(f"cannot publish: {status} {release}")
    return release


def check_offers_package(server: harness.Server, pairs: list[tuple[str, str]]) -> str:
    """Refuse to benchmark unless a sampled pair's update check has a package URL."""
    key, domain = pairs[0]
    status, answer = harness.http(
        server.url + "/v1/updates/check",
        {
            "license_key": key,
            "domain": domain,
            "product": PRODUCT["slug"],
            "version": "1.0.0",
        },
    )
    if status != 200 or not answer.get("package"):
        sys.exit(f"the update check offers no package: {status} {answer}")
    return str(answer["package"])


def wrk_run(args: argparse.Namespace, url: str, script: str, *script_args: str,
            seconds: float, connections: int) -> harness.WrkResult:  # fmt: skip
    return harness.wrk(
        url, script, *script_args, seconds=seconds, connections=connections,
        threads=args.wrk_threads,
    )  # fmt: skip


def alternate(
    args: argparse.Namespace,
    phases: dict[str, tuple[str, str, list[str]]],
    connections: int,
) -> dict[str, dict[str, Any]]:
    """Warm every phase up, then run them in turn ``--repeat`` times; medians."""
    for url, script, script_args in phases.values():
        wrk_run(
            args,
            url,
            script,
            *script_args,
            seconds=args.warmup,
            connections=connections,
        )
    runs: dict[str, list[harness.WrkResult]] = {name: [] for name in phases}
    for _ in range(args.repeat):
        for name, (url, script, script_args) in phases.items():
            result = wrk_run(
                args,
                url,
                script,
                *script_args,
                seconds=args.duration,
                connections=connections,
            )
            runs[name].append(result)
    return {
        name: {
            "rps": statistics.median(r.rps for r in found),
            "mb_s": statistics.median(
                r.detail["bytes"] / r.seconds / 1e6 for r in found
            ),
            "p50_ms": statistics.median(r.p50_ms for r in found),
            "p99_ms": statistics.median(r.p99_ms for r in found),
            "errors": sum(r.errors for r in found),
            "runs": [r.detail for r in found],
        }
        for name, found in runs.items()
    }


def static_server(
    scratch: Path, file: Path, workers: int
) -> tuple[subprocess.Popen[bytes], str]:
    """Start bench/static_app.py under the same server and options as serve."""
    port = harness.free_port()
    argv = _server_argv("gunicorn", "127.0.0.1", port, workers, 1)[:-1] + [
        "static_app:app"
    ]
    env = {
        **os.environ,
        "BENCH_STATIC_FILE": str(file),
        "PYTHONPATH": str(Path(__file__).parent),
    }
    log = (scratch / "static.log").open("wb")
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as answer:  # noqa: S310
                answer.read()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit("the static server did not start")


def main() -> None:
    args = parse_args()
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(),
        "args": vars(args),
    }
    report["machine"] = run.machine()
    with harness.scratch_dir() as scratch_name:
        scratch = Path(scratch_name)
        master = new_master_key()
        with harness.database(args.backend, args.pg_url, scratch) as url:
            env = run.server_env(url, master, scratch, None, args.set)
            harness.cli(env, "db", "upgrade")
            vendor = json.loads(
                harness.cli(
                    env,
                    "vendors",
                    "create",
                    "Bench Themes",
                    "--slug",
                    "bench",
                    "--json",
                )
            )
            api_key = vendor["api_key"]
            options = run.serve_options("", args.workers)
            with harness.serve(env, scratch, options) as server:
                made = publish_release(server, api_key, args.package_mb)
            target = seed.Target(
                url=url,
                keyring=Keyring(decode_master_key(master)),
                vendor_id=uuid.UUID(vendor["vendor"]["id"]),
                product_id=uuid.UUID(made["product"]["id"]),
                key_prefix=PRODUCT["key_prefix"],
            )
            every = max(1, args.licenses // args.sample)
            chunk = seed.seed(target, start=0, count=args.licenses, every=every)
            print(
                f"seeded {chunk.count:,} licenses in {chunk.seconds:.1f} s", flush=True
            )
            pairs = run.stage_sample([chunk], args.licenses, args.sample)
            pairs_file = run.write_lines(
                scratch / "pairs.txt", [f"{k}\t{d}" for k, d in pairs]
            )
            with harness.serve(env, scratch, options) as server:
                run.check_pairs(server, pairs)
                package_url = check_offers_package(server, pairs)
                slug = PRODUCT["slug"]
                checks = alternate(
                    args,
                    {
                        "validate": (server.url, "validate.lua", [pairs_file, slug]),
                        "update_check": (server.url, "updates.lua", [pairs_file, slug]),
                    },
                    args.connections,
                )
                path = package_url.removeprefix("http://127.0.0.1:" + str(server.port))
                file = scratch / "package.zip"
                with urllib.request.urlopen(package_url, timeout=120) as got:  # noqa: S310
                    file.write_bytes(got.read())
                if file.stat().st_size != made["release"]["size"]:
                    sys.exit("the download is not the package")
                workers = args.workers or 2
                static, static_url = static_server(scratch, file, workers)
                try:
                    transfers = alternate(
                        args,
                        {
                            "download": (server.url, "download.lua", [path]),
                            "bare_static": (static_url, "download.lua", ["/"]),
                        },
                        args.download_connections,
                    )
                finally:
                    static.terminate()
                    static.wait(timeout=30)
        report.update(
            checks=checks, transfers=transfers, package_bytes=made["release"]["size"]
        )
    ratio_check = checks["update_check"]["rps"] / checks["validate"]["rps"]
    ratio_download = transfers["download"]["mb_s"] / transfers["bare_static"]["mb_s"]
    report["ratios"] = {
        "update_check_vs_validate": ratio_check,
        "download_vs_bare": ratio_download,
    }
    print(
        f"\n{args.backend}, {args.licenses:,} licences, {args.connections} connections:"
    )
    for name, row in checks.items():
        print(
            f"  {name:13s} {row['rps']:8.0f} req/s  p50 {row['p50_ms']:6.1f} ms"
            f"  p99 {row['p99_ms']:6.1f} ms  errors {row['errors']}"
        )
    print(f"  update check / validate = {ratio_check:.2f}  (goal >= 0.80)")
    size_mb = made["release"]["size"] / 1e6
    print(f"\n{size_mb:.1f} MB package, {args.download_connections} connections:")
    for name, row in transfers.items():
        print(
            f"  {name:13s} {row['mb_s']:8.0f} MB/s  {row['rps']:6.1f} downloads/s"
            f"  errors {row['errors']}"
        )
    print(f"  download / bare static = {ratio_download:.2f}  (goal >= 0.70)")
    run.RESULTS.mkdir(exist_ok=True)
    out = run.RESULTS / f"updates-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"\nreport: {out}")


if __name__ == "__main__":
    main()
