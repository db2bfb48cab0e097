"""Webhook costs: the outbox on a state change, and the worker's delivery rate.

    .venv/bin/python bench/webhooks.py [--n 300] [--pg-url postgresql://...]

For each backend (SQLite always; PostgreSQL with --pg-url or BENCH_PG_URL) it
times N license updates through the admin API with 0 endpoints (the baseline), 1
and 5 endpoints subscribed, and prints ms per update and the ratio to the baseline;
then it delivers the queued webhooks to a receiver on 127.0.0.1 with one worker
and prints deliveries per second.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from license_server import create_app, migrate
from license_server.config import normalise_database_url
from license_server.extensions import db
from license_server.keyring import new_master_key
from license_server.runtime import of as runtime_of
from license_server.services.vendors import create_vendor
from license_server.webhooks.runner import Runner


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def _app(url: str, instance: Path) -> Any:
    return create_app(
        {
            "DATABASE_URL": url,
            "MASTER_KEY": new_master_key(),
            "INSTANCE_PATH": str(instance),
            "WEBHOOK_ALLOWED_SCHEMES": "http",
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "RATELIMIT_ENABLED": 0,
        }
    )


def _run(url: str, n: int, sink: str, label: str) -> None:
    migrate.upgrade(url)
    app = _app(url, Path(tempfile.mkdtemp()))
    client = app.test_client()
    with app.app_context():
        vendor = create_vendor(
            keyring=runtime_of(app).keyring, name="Bench", now=datetime.now(UTC)
        )
    headers = {"Authorization": f"Bearer {vendor.api_key}"}
    client.post(
        "/v1/admin/products", json={"slug": "bench", "name": "B"}, headers=headers
    )
    lic = client.post("/v1/admin/licenses", json={"product": "bench"}, headers=headers)
    path = f"/v1/admin/licenses/{lic.get_json()['id']}"
    results = {}
    endpoints = 0
    for wanted in (0, 1, 5):
        while endpoints < wanted:
            body = {"url": sink, "event_types": ["license.updated"]}
            client.post("/v1/admin/webhooks/endpoints", json=body, headers=headers)
            endpoints += 1
        started = time.perf_counter()
        for i in range(n):
            client.patch(path, json={"notes": f"n{i}"}, headers=headers)
        results[wanted] = (time.perf_counter() - started) / n * 1000
    base = results[0]
    for wanted, ms in results.items():
        print(f"{label:10} {wanted} endpoints: {ms:6.2f} ms/update  x{ms / base:.2f}")
    runner = Runner(app)
    started = time.perf_counter()
    sent = runner.tick()
    elapsed = time.perf_counter() - started
    print(
        f"{label:10} worker: {sent} deliveries in {elapsed:.1f} s, "
        f"{sent / elapsed:.0f}/s"
    )
    with app.app_context():
        db.engine.dispose()


def main() -> None:
    """Run the webhook benchmark on SQLite and, when given, PostgreSQL."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"))
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = f"http://127.0.0.1:{server.server_address[1]}/hook"
    folder = Path(tempfile.mkdtemp())
    _run(f"sqlite:///{folder / 'bench.sqlite3'}", args.n, sink, "sqlite")
    if args.pg_url:
        base = make_url(normalise_database_url(args.pg_url))
        name = f"ls_bench_webhooks_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = base.set(database=name).render_as_string(hide_password=False)
            _run(url, args.n, sink, "postgresql")
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
    server.shutdown()


if __name__ == "__main__":
    main()
