"""Where an activation's CPU time goes, measured in one process, without a server.

The sibling of bench/profile_validate.py (same scratch database, same seeding, the
WSGI application called directly): seeds a pool of licenses with free seats and
reports the CPU time of this process per request, so the figures hold on a busy
machine, for

- ``POST /v1/validate`` as served, the baseline the goal is stated against
  (activate ≥ 0.5× validate);
- ``POST /v1/activate`` of a fresh domain each time, as served;
- ``activations.activate()`` alone (the use case: parse, lock, read, insert, event,
  commit, sign);
- its parts, each alone: the row lock with the state read, the seat-checked insert,
  the event append (hash chain and webhook outbox), an empty commit, canonicalising
  a fresh domain, signing the answer.

The database's own CPU (PostgreSQL backends) is not in these figures; bench/run.py
reports it per request.

    .venv/bin/python bench/profile_activate.py --backend postgresql
    .venv/bin/python bench/profile_activate.py --backend sqlite --pyinstrument served
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import profile_validate as pv  # noqa: E402
import seed  # noqa: E402

from license_server import migrate  # noqa: E402
from license_server.config import normalise_database_url  # noqa: E402
from license_server.runtime import of as runtime_of  # noqa: E402

SEATS = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"])
    parser.add_argument("--pg-url", default=pv.PG_URL)
    parser.add_argument("--licenses", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument(
        "--pyinstrument",
        choices=["served", "service"],
        help="profile the served activation, or the use case alone",
    )
    parser.add_argument(
        "--by-package",
        action="store_true",
        help="CPU of the served activation by package (cProfile, own time)",
    )
    parser.add_argument(
        "--top", type=int, default=0, help="the N costliest functions of the use case"
    )
    args = parser.parse_args()
    backends = [args.backend] if args.backend else ["postgresql", "sqlite"]
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="ls-profile-") as scratch:
            url = pv._database(backend, args.pg_url, Path(scratch))
            try:
                _run(args, backend, url, Path(scratch))
            finally:
                if backend == "postgresql":
                    pv._admin(args.pg_url, pv.DROP)


def _run(args: argparse.Namespace, backend: str, url: str, scratch: Path) -> None:
    from license_server.extensions import db
    from license_server.services import activations, common
    from license_server.services.unit import transaction
    from license_server.services.vendors import create_vendor
    from license_server.validation import state as states
    from license_server.validation.answers import key_hash_claim, signed_answer
    from license_server.validation.results import ResultCode

    migrate.upgrade(normalise_database_url(url))
    app = pv._make_app(url, scratch, limiter=True)
    runtime = runtime_of(app)
    keyring = runtime.keyring
    with app.app_context():
        new = create_vendor(keyring=keyring, name="Profile", now=datetime.now(UTC))
        vendor_id = new.vendor.id
    product = app.test_client().post(
        "/v1/admin/products",
        json=pv.PRODUCT,
        headers={"Authorization": f"Bearer {new.api_key}"},
    )
    target = seed.Target(
        url=url,
        keyring=keyring,
        vendor_id=vendor_id,
        product_id=uuid.UUID(product.get_json()["id"]),
        key_prefix=pv.PRODUCT["key_prefix"],
    )
    pool = [
        k
        for k, _ in seed.seed(
            target, start=10**9, count=args.licenses, seats=SEATS, activate=False
        ).sample
    ]
    served_pairs = seed.seed(target, start=0, count=args.licenses).sample
    random.shuffle(pool)
    slug = pv.PRODUCT["slug"]
    fresh = itertools.count()
    tag = uuid.uuid4().hex[:6]

    def domain() -> str:
        return f"new-{tag}-{next(fresh)}.bench-site.com"

    print(
        f"{backend}, {args.licenses:,} licenses with free seats,"
        f" {args.requests:,} requests each:"
    )

    def validate(i: int) -> None:
        key, site = served_pairs[i % len(served_pairs)]
        body = {"license_key": key, "domain": site, "product": slug, "nonce": "n"}
        status, answer = pv._call(app, pv._environ("POST", "/v1/validate", body))
        if not status.startswith("200"):
            sys.exit(f"validate failed: {status} {answer[:300]!r}")

    def activate(i: int) -> None:
        body = {
            "license_key": pool[i % len(pool)],
            "domain": domain(),
            "product": slug,
            "nonce": "n",
        }
        status, answer = pv._call(app, pv._environ("POST", "/v1/activate", body))
        if not status.startswith("201"):
            sys.exit(f"activate failed: {status} {answer[:300]!r}")

    def service(i: int) -> None:
        with app.app_context():
            activations.activate(
                runtime=runtime,
                license_key=pool[i % len(pool)],
                domain=domain(),
                product=slug,
                nonce="n",
                environment=None,
                client_address="127.0.0.1",
                now=datetime.now(UTC),
            )

    results: dict[str, float] = {}
    results["validate"] = pv._cpu_per_call(
        "POST /v1/validate (served)", args.requests, validate
    )
    results["activate"] = pv._cpu_per_call(
        "POST /v1/activate (served)", args.requests, activate
    )
    results["service"] = pv._cpu_per_call(
        "activations.activate() alone", args.requests, service
    )

    # the parts, each in a transaction that is rolled back (nothing accumulates)
    parsed = [common.parse_license_key(k) for k in pool]
    hashes = [keyring.license_lookup(k.body) for k in parsed]
    item = runtime.reader.product(slug)
    signer = runtime.reader.signer(item.vendor_id)
    opened = runtime.signer.open(signer.kid, signer.sealed)
    n = len(pool)

    def rolled_back(part: Callable[[int, Any], None]) -> Callable[[int], None]:
        def call(i: int) -> None:
            with app.app_context():
                session = db.session()
                try:
                    part(i, session)
                finally:
                    session.rollback()

        return call

    def lock_and_read(i: int, session: Any) -> Any:
        activations._lock_license(hashes[i % n])
        return states.read_state(session.connection(), hashes[i % n], "x.example")

    def lock_read_insert(i: int, session: Any) -> None:
        state = lock_and_read(i, session)
        activations._insert_if_seat_free(
            state=state,
            site=domain(),
            development=False,
            environment=None,
            limit=SEATS,
            now=datetime.now(UTC),
        )

    def event(i: int, session: Any) -> None:
        common.record_event(
            keyring=keyring,
            vendor_id=vendor_id,
            actor=common.public_actor(keyring, "127.0.0.1"),
            action="activation.created",
            subject_type="activation",
            subject_id=uuid.uuid4(),
            data={"license_id": str(uuid.uuid4()), "domain": "x", "development": False},
            now=datetime.now(UTC),
        )

    def empty_commit(i: int) -> None:
        with app.app_context(), transaction() as session:
            session.connection()

    baseline = pv._cpu_per_call(
        "  an empty transaction (begin, rollback)",
        args.requests,
        rolled_back(lambda i, s: s.connection() and None),
    )
    pv._cpu_per_call("  an empty use case (begin, commit)", args.requests, empty_commit)
    pv._cpu_per_call(
        "  row lock + state read", args.requests, rolled_back(lock_and_read)
    )
    pv._cpu_per_call(
        "  row lock + state read + seat-checked insert",
        args.requests,
        rolled_back(lock_read_insert),
    )
    pv._cpu_per_call(
        "  the event append (chain + outbox)", args.requests, rolled_back(event)
    )
    pv._cpu_per_call(
        "  canonicalising a fresh domain",
        args.requests,
        lambda i: common.canonical_domain(domain()) and None,
    )
    with app.app_context():
        state = runtime.reader.state(hashes[0], "x.example")
    now = datetime.now(UTC)
    pv._cpu_per_call(
        "  signing the answer (claims + token)",
        args.requests,
        lambda i: (
            signed_answer(
                ResultCode.VALID,
                product=item,
                domain="x.example",
                state=state,
                kh=key_hash_claim(parsed[i % n].body),
                nonce="n",
                now=now,
                key=opened,
            )
            and None
        ),
    )
    del baseline
    print(
        f"  activate / validate, CPU per request: "
        f"{results['activate'] / results['validate']:.2f}"
        f" (the goal, in requests per second: activate >= 0.5x validate,"
        f" i.e. at most {2 * results['validate']:.0f} us here)"
    )
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0001)
        call = activate if args.pyinstrument == "served" else service
        profiler.start()
        for i in range(args.requests):
            call(i)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    if args.by_package:
        pv._by_package(activate, args.requests)
    if args.top:
        _top(service, args.requests, args.top)
    with app.app_context():
        db.engine.dispose()


def _top(call: Callable[[int], None], count: int, limit: int) -> None:
    """Print the functions with the most cumulative time, and calls per request."""
    import cProfile
    import pstats
    import time

    profiler = cProfile.Profile(time.process_time)  # CPU, not wall time
    profiler.enable()
    for i in range(count):
        call(i)
    profiler.disable()
    stats = pstats.Stats(profiler)
    calls = sum(nc for _cc, nc, _tt, _ct, _cl in stats.stats.values())  # type: ignore[attr-defined]
    print(f"  Python function calls per use case: {calls / count:,.0f}")
    stats.sort_stats("cumulative").print_stats(limit)


if __name__ == "__main__":
    main()
