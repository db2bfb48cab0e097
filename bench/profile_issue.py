"""Where a bulk issue's CPU time goes: ``POST /v1/admin/licenses/batch``, in-process.

The sibling of bench/profile_validate.py: builds the app on a scratch database,
then calls the WSGI application directly with ``"count": 1000`` and reports the CPU
time of this process per call and per license (the goal: 10,000 licenses a second,
at most 100 ms a call for everything, database included), then, with ``--top N``,
the N costliest functions (cProfile, CPU time).

    .venv/bin/python bench/profile_issue.py --backend postgresql --top 30
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import profile_validate as pv  # noqa: E402

from license_server import migrate  # noqa: E402
from license_server.config import normalise_database_url  # noqa: E402
from license_server.runtime import of as runtime_of  # noqa: E402

BATCH = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"])
    parser.add_argument("--pg-url", default=pv.PG_URL)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument(
        "--no-freeze",
        dest="freeze",
        action="store_false",
        help="leave the app's objects to the GC (the served app freezes them)",
    )
    args = parser.parse_args()
    for backend in [args.backend] if args.backend else ["postgresql", "sqlite"]:
        with tempfile.TemporaryDirectory(prefix="ls-profile-") as scratch:
            url = pv._database(backend, args.pg_url, Path(scratch))
            try:
                _run(args, backend, url, Path(scratch))
            finally:
                if backend == "postgresql":
                    pv._admin(args.pg_url, pv.DROP)


def _run(args: argparse.Namespace, backend: str, url: str, scratch: Path) -> None:
    from license_server.extensions import db
    from license_server.services.vendors import create_vendor

    migrate.upgrade(normalise_database_url(url))
    app = pv._make_app(url, scratch, limiter=True)
    if args.freeze:
        gc.freeze()  # as license_server.wsgi does once the served app is built
    with app.app_context():
        new = create_vendor(
            keyring=runtime_of(app).keyring, name="Profile", now=datetime.now(UTC)
        )
    token = f"Bearer {new.api_key}"
    app.test_client().post(
        "/v1/admin/products", json=pv.PRODUCT, headers={"Authorization": token}
    )
    body = {"product": pv.PRODUCT["slug"], "count": BATCH}

    def call() -> None:
        environ = pv._environ("POST", "/v1/admin/licenses/batch", body)
        environ["HTTP_AUTHORIZATION"] = token
        status, answer = pv._call(app, environ)
        if not status.startswith("201") or len(json.loads(answer)["data"]) != BATCH:
            sys.exit(f"batch issue failed: {status} {answer[:300]!r}")

    call()  # warm up
    cpu, wall = [], []
    for _ in range(args.calls):
        began, began_wall = time.process_time(), time.perf_counter()
        call()
        cpu.append(time.process_time() - began)
        wall.append(time.perf_counter() - began_wall)
    cpu.sort()
    wall.sort()
    median, median_wall = cpu[len(cpu) // 2], wall[len(wall) // 2]
    print(
        f"{backend}: POST /v1/admin/licenses/batch, {BATCH} per call, median of"
        f" {args.calls}: {median * 1e3:.0f} ms CPU here ({median * 1e6 / BATCH:.0f} us"
        f" a license), {median_wall * 1e3:.0f} ms wall"
        f" ({BATCH / median_wall:,.0f} licenses/s in this process)"
    )
    if args.top:
        import cProfile
        import pstats

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(3):
            call()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
