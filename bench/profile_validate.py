"""Where a validation's CPU time goes, measured in one process, without a server.

Builds the app on a scratch database (PostgreSQL ``ls_bench_profile_<pid>``, dropped
at the end, or a temporary SQLite file), seeds licenses with bench/seed.py, then
calls the WSGI application directly (no HTTP server, no wrk, no test client) and
reports the CPU time per request, so the figures hold on a busy machine:

- ``GET /healthz``: Flask's floor;
- ``POST /v1/validate`` as served (rate limiter on, counting every request);
- the same with the rate limiter off;
- ``validation.validate()`` alone (the service: parse, one query, sign).

``--pyinstrument served`` (or ``service``) adds a profile of that path.

    .venv/bin/python bench/profile_validate.py
    .venv/bin/python bench/profile_validate.py --backend sqlite --pyinstrument service
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from license_server.runtime import of as runtime_of

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed  # noqa: E402

from license_server import create_app, migrate  # noqa: E402
from license_server.api import throttle  # noqa: E402
from license_server.config import normalise_database_url  # noqa: E402
from license_server.keyring import new_master_key  # noqa: E402

# one per run: two profiles at once (helpers, CI) must not drop each other's database
DATABASE = f"ls_bench_profile_{os.getpid()}"
DROP = f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PRODUCT = {"slug": "bench-theme", "name": "Bench", "key_prefix": "BEN"}
UNLIMITED = "1000000000/minute"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"])
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--licenses", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument(
        "--pyinstrument",
        choices=["served", "service"],
        help="profile the served request, or the service alone",
    )
    parser.add_argument(
        "--by-package",
        action="store_true",
        help="CPU of the served request by package (cProfile, own time)",
    )
    parser.add_argument(
        "--path",
        choices=["validate", "update"],
        default="validate",
        help="the request --pyinstrument served and --by-package profile",
    )
    args = parser.parse_args()
    backends = [args.backend] if args.backend else ["postgresql", "sqlite"]
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="ls-profile-") as scratch:
            url = _database(backend, args.pg_url, Path(scratch))
            try:
                _run(args, backend, url, Path(scratch))
            finally:
                if backend == "postgresql":
                    _admin(args.pg_url, DROP)


def _admin(pg_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute(statement)


def _database(backend: str, pg_url: str, scratch: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{scratch / 'profile.sqlite3'}"
    _admin(pg_url, DROP)
    _admin(pg_url, f'CREATE DATABASE "{DATABASE}"')
    return f"{pg_url.rpartition('/')[0]}/{DATABASE}"


def _environ(method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        "HTTP_HOST": "127.0.0.1:8000",
    }
    if body is not None:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(data))
    return environ


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    status: list[str] = []
    chunks = app.wsgi_app(environ, lambda s, h, e=None: status.append(s))
    body = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return status[0], body


def _cpu_per_call(label: str, count: int, call: Callable[[int], None]) -> float:
    # warm up with the same calls: caches, pool, prepared statements, the pages
    # read, known keys; the first figure measured must not pay what later ones don't
    for i in range(count):
        call(i)
    began = time.process_time()
    for i in range(count):
        call(i)
    micros = (time.process_time() - began) / count * 1e6
    print(f"  {label:<42} {micros:8.0f} us CPU per request")
    return micros


def _components(runtime: Any, bodies: list[dict[str, Any]], requests: int) -> None:
    """CPU per call of the validate path's parts, each alone."""
    from license_server import keys
    from license_server.runtime.limiter import Op
    from license_server.validation.answers import key_hash_claim

    parsed = [keys.parse_key(b["license_key"]) for b in bodies]
    hashes = [runtime.keyring.license_lookup(k.body) for k in parsed]
    domains = [b["domain"] for b in bodies]
    n = len(bodies)
    _cpu_per_call(
        "  the state read (prepared on PostgreSQL)",
        requests,
        lambda i: runtime.reader.state(hashes[i % n], domains[i % n]) and None,
    )
    signer = runtime.reader.signer(next(iter(runtime.caches.signers._entries)))
    key = runtime.signer.open(signer.kid, signer.sealed)
    claims = {"iss": "x", "aud": "y", "dom": "z", "valid": True, "code": "VALID"}
    _cpu_per_call("  signing one token", requests, lambda i: key.token(claims) and None)
    _cpu_per_call(
        "  parsing a key + its lookup hash + kh",
        requests,
        lambda i: (
            (
                runtime.keyring.license_lookup(
                    keys.parse_key(bodies[i % n]["license_key"]).body
                ),
                key_hash_claim(parsed[i % n].body),
            )
            and None
        ),
    )
    ops = [Op(f"bench:{name}", 1, 60) for name in ("a", "b")] + [Op("bench:c", 0, 0)]
    _cpu_per_call(
        "  one limiter round (3 counters)",
        requests,
        lambda i: runtime.limiter.apply(ops) and None,
    )


def _by_package(call: Callable[[int], None], count: int) -> None:
    """Print where the served request's own time goes, by package."""
    import cProfile
    import pstats
    from collections import Counter

    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(count):
        call(i)
    profiler.disable()
    shares: Counter[str] = Counter()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (path, _line, _name), (_cc, _nc, own, _cum, _callers) in stats.items():
        shares[_package(path)] += own
    total = sum(shares.values())
    print("  own time by package (cProfile):")
    for package, own in shares.most_common(20):
        print(f"    {100 * own / total:5.1f}%  {own / count * 1e6:6.0f} us  {package}")


def _package(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/")[1].split("/")[0]
    if "/license_server/" in path:
        return "license_server/" + path.split("/license_server/")[1]
    if path.startswith("<") or "/python3." in path:
        return "python (stdlib, builtins)"
    return path


def _publish_release(app: Any, api_key: str, product_id: str) -> None:
    """Publish release 1.1.0 of the product, so every update check has a package."""
    import updates as update_bench  # bench/updates.py

    client = app.test_client()
    auth = {"Authorization": f"Bearer {api_key}"}
    base = "/v1/admin"
    made = client.post(
        f"{base}/products/{product_id}/releases",
        json={"version": "1.1.0", "changelog": "* Faster"},
        headers=auth,
    )
    release = made.get_json()["id"]
    client.put(
        f"{base}/releases/{release}/package",
        data=update_bench.package(PRODUCT["slug"], 1),
        headers={**auth, "Content-Type": "application/zip"},
    )
    published = client.post(f"{base}/releases/{release}/publish", headers=auth)
    if published.status_code != 200:
        sys.exit(f"cannot publish: {published.status_code} {published.get_data()!r}")


def _make_app(url: str, scratch: Path, limiter: bool) -> Any:
    config: dict[str, Any] = {
        "DATABASE_URL": url,
        "MASTER_KEY": MASTER_KEY,
        "INSTANCE_PATH": str(scratch),
        "RATELIMIT_ENABLED": int(limiter),
    }
    config.update(dict.fromkeys(throttle.LIMIT_SETTINGS, UNLIMITED))
    return create_app(config)


MASTER_KEY = new_master_key()


def _run(args: argparse.Namespace, backend: str, url: str, scratch: Path) -> None:
    from license_server.extensions import db
    from license_server.services import validation
    from license_server.services.vendors import create_vendor

    migrate.upgrade(normalise_database_url(url))
    app = _make_app(url, scratch, limiter=True)
    keyring = runtime_of(app).keyring
    with app.app_context():
        new = create_vendor(keyring=keyring, name="Profile", now=datetime.now(UTC))
        vendor_id = new.vendor.id
    product = app.test_client().post(
        "/v1/admin/products",
        json=PRODUCT,
        headers={"Authorization": f"Bearer {new.api_key}"},
    )
    target = seed.Target(
        url=url,
        keyring=keyring,
        vendor_id=vendor_id,
        product_id=uuid.UUID(product.get_json()["id"]),
        key_prefix=PRODUCT["key_prefix"],
    )
    pairs = seed.seed(target, start=0, count=args.licenses).sample
    _publish_release(app, new.api_key, product.get_json()["id"])
    random.shuffle(pairs)
    bodies = [
        {"license_key": k, "domain": d, "product": PRODUCT["slug"], "nonce": "n"}
        for k, d in pairs
    ]
    print(f"{backend}, {args.licenses:,} licenses, {args.requests:,} requests each:")

    def served(application: Any) -> Callable[[int], None]:
        def call(i: int) -> None:
            status, body = _call(
                application,
                _environ("POST", "/v1/validate", bodies[i % len(bodies)]),
            )
            if not status.startswith("200") or b'"VALID"' not in body:
                sys.exit(f"validate failed: {status} {body[:300]!r}")

        return call

    updates = [
        {**b, "version": "1.0.0", "wp_version": "6.6.2", "php_version": "8.2.12"}
        for b in bodies
    ]

    def update_check(i: int) -> None:
        status, body = _call(
            app, _environ("POST", "/v1/updates/check", updates[i % len(updates)])
        )
        if not status.startswith("200") or b'"package":"http' not in body:
            sys.exit(f"update check failed: {status} {body[:300]!r}")

    _cpu_per_call(
        "GET /healthz",
        args.requests,
        lambda i: _call(app, _environ("GET", "/healthz", None)) and None,
    )
    _cpu_per_call("POST /v1/validate (rate limiter on)", args.requests, served(app))
    _cpu_per_call("POST /v1/updates/check (limiter on)", args.requests, update_check)
    quiet = _make_app(url, scratch, limiter=False)
    _cpu_per_call("POST /v1/validate (rate limiter off)", args.requests, served(quiet))

    runtime = runtime_of(app)

    def service(i: int) -> None:
        body = bodies[i % len(bodies)]
        with app.app_context():
            validation.validate(
                runtime=runtime,
                license_key=body["license_key"],
                domain=body["domain"],
                product=body["product"],
                nonce="n",
                now=datetime.now(UTC),
            )

    _cpu_per_call("validation.validate() alone", args.requests, service)
    _components(runtime, bodies, args.requests)
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0001)
        call = served(app) if args.pyinstrument == "served" else service
        if args.pyinstrument == "served" and args.path == "update":
            call = update_check
        profiler.start()
        for i in range(args.requests):
            call(i)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    if args.by_package:
        _by_package(
            update_check if args.path == "update" else served(app), args.requests
        )
    for application in (app, quiet):
        with application.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
