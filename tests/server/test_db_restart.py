"""PostgreSQL stopped mid-load and started again, under a real gunicorn server.

The test starts its own cluster (initdb + pg_ctl on a free port, in a temporary
folder), so the machine's shared server is never disturbed. While threads keep
activating new domains, the cluster is stopped at once (``-m immediate``), then
started again. Every answer must be 201 or 503 (never a 500, never a hang), the
server must answer 201 again by itself within seconds, every 201 must be in the
database afterwards, and a client retrying its 503s must end with exactly one
live activation per domain.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from license_server import migrate
from license_server.extensions import db
from license_server.models import Activation
from tests.conftest import (
    TEST_MASTER_KEY,
    create_license,
    create_product,
    make_app,
    new_vendor,
)
from tests.server.hardening_support import PostgresCluster, ServerProcess, record

THREADS = 4
RECOVERY_LIMIT = 20.0  # seconds from the database's return to the first 201


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A fresh PostgreSQL cluster with a migrated database ``ls``."""
    pg = PostgresCluster()
    try:
        pg.create()
        pg.start()
        admin = create_engine(pg.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text('CREATE DATABASE "ls"'))
        admin.dispose()
        pg.url = make_url(pg.url).set(database="ls").render_as_string(False)
        migrate.upgrade(pg.url)
        yield pg
    finally:
        pg.destroy()


class Load:
    """Threads that activate new domains until told to stop, logging every answer."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key
        self.answers: list[tuple[float, str, int]] = []  # (time, domain, status)
        self.failures: list[str] = []  # transport errors: hangs, resets
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, args=(n,)) for n in range(THREADS)
        ]

    def _run(self, number: int) -> None:
        session = requests.Session()
        count = 0
        while not self.stopping.is_set():
            domain = f"t{number}-{count}.example.com"
            count += 1
            body = {"license_key": self.key, "domain": domain, "product": "jannah"}
            try:
                status = session.post(
                    f"{self.base}/v1/activate", json=body, timeout=15
                ).status_code
            except requests.RequestException as exc:
                with self.lock:
                    self.failures.append(f"{domain}: {type(exc).__name__}")
                continue
            with self.lock:
                self.answers.append((time.monotonic(), domain, status))
        session.close()

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)

    def wait_for_created(self, after: float, timeout: float) -> float | None:
        """Return when the first 201 answered after ``after`` came, if it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                times = [t for t, _, status in self.answers if status == 201]
            later = [t for t in times if t > after]
            if later:
                return min(later)
            time.sleep(0.05)
        return None


def _server_env(url: str) -> dict[str, str]:
    return {
        "LICENSE_SERVER_DATABASE_URL": url,
        "LICENSE_SERVER_MASTER_KEY": TEST_MASTER_KEY,
        "LICENSE_SERVER_DB_POOL_SIZE": "4",
        # the load would trip any limit, and memory:// limits are refused with
        # two workers; limits are not what this test is about
        "LICENSE_SERVER_RATELIMIT_ENABLED": "0",
    }


def test_database_restart_mid_load(cluster: PostgresCluster, tmp_path: Path) -> None:
    app = make_app(cluster.url, tmp_path / "instance")
    client = app.test_client()
    vendor = new_vendor(app)
    create_product(client, vendor, max_domains=100_000)
    key = create_license(client, vendor)["key"]
    server = ServerProcess(tmp_path, _server_env(cluster.url), workers=2)
    try:
        with Load(server.base, key) as load:
            assert load.wait_for_created(0, 15) is not None, "no 201 before the outage"
            time.sleep(0.5)
            stopped_at = time.monotonic()
            cluster.stop()
            time.sleep(1.5)
            cluster.start()
            back_at = time.monotonic()
            first_created = load.wait_for_created(back_at, RECOVERY_LIMIT)
            time.sleep(0.5)
        answers, failures = list(load.answers), list(load.failures)
        retried = _retry_unanswered(server.base, key, answers, failures)
    finally:
        server.stop()
    statuses = Counter(status for _, _, status in answers)
    outage = [s for t, _, s in answers if stopped_at <= t <= (first_created or 1e18)]
    stored = _live_activations(app)
    created = {domain for _, domain, status in answers if status == 201}
    lost = sorted(created - set(stored))
    duplicated = sorted(domain for domain, count in stored.items() if count > 1)
    recovery = None if first_created is None else round(first_created - back_at, 2)
    record(
        "db_restart",
        recovery_seconds=recovery,
        answers=dict(statuses),
        transport_failures=len(failures),
        errors_5xx_outside_outage=sum(
            1 for t, _, s in answers if s >= 500 and not stopped_at <= t
        ),
        unexpected_5xx=statuses.total() - statuses[201] - statuses[503],
        lost=len(lost),
        duplicated=len(duplicated),
        retried=dict(Counter(retried.values())),
    )
    with app.app_context():
        db.engine.dispose()
    assert failures == [], failures[:5]
    assert set(statuses) <= {201, 503}, statuses
    assert statuses[503] > 0, "the outage was never seen"
    assert 503 in outage
    assert first_created is not None, f"no 201 within {RECOVERY_LIMIT} s of restart"
    assert lost == [] and duplicated == []
    assert set(stored) == created | set(retried), "a retried 503 left no activation"


def _retry_unanswered(
    base: str, key: str, answers: list[tuple[float, str, int]], failures: list[str]
) -> dict[str, int]:
    """Retry each domain that got a 503, as a client would: 201, or 200 if stored."""
    results: dict[str, int] = {}
    for _, domain, status in answers:
        if status == 503:
            body = {"license_key": key, "domain": domain, "product": "jannah"}
            response = requests.post(f"{base}/v1/activate", json=body, timeout=15)
            results[domain] = response.status_code
    assert set(results.values()) <= {200, 201}, Counter(results.values())
    return results


def _live_activations(app: Any) -> dict[str, int]:
    with app.app_context():
        db.engine.dispose()  # this app's pooled connections died with the restart
        rows = db.session.execute(
            select(Activation.domain, func.count()).group_by(Activation.domain)
        ).all()
        db.session.remove()
    return {domain: count for domain, count in rows}
