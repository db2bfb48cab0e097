"""``license-server worker``: deliver webhooks and run the timed jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

import click
from flask import Flask

from license_server.cli import _app, _require_migrated, main

BESIDE_SERVE_DELAY = 3.0


@main.command("worker")
@click.option(
    "--parent-pid",
    type=int,
    default=None,
    hidden=True,
    help="Exit when this process is gone (serve's supervision).",
)
def worker(parent_pid: int | None) -> None:
    """Deliver the webhook outbox and run the timed jobs until stopped."""
    if parent_pid is not None:
        # beside serve: let the server's workers boot first (they answer requests)
        time.sleep(BESIDE_SERVE_DELAY)
    from license_server.webhooks.runner import Runner

    app = _app()
    _require_migrated(app)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo("webhook worker started", err=True)
    Runner(app, parent_pid=parent_pid).run(stop)
    click.echo("webhook worker stopped", err=True)


def start_beside_serve(app: Flask) -> subprocess.Popen[bytes] | None:
    """On SQLite (one writer, one worker), start the worker as ``serve``'s child.

    ``serve`` then execs the WSGI server under the same pid, so the child watches
    that pid and exits when the server does. On PostgreSQL run ``license-server
    worker`` yourself, as many as you like, on any machines.
    """
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return None
    command = [sys.executable, "-m", "license_server.cli", "worker"]
    click.echo("starting the webhook worker beside the server (SQLite)", err=True)
    # background work: a lower priority, so the server's own workers boot first
    return subprocess.Popen(  # noqa: S603
        [*command, "--parent-pid", str(os.getpid())], preexec_fn=_lower_priority
    )


def _lower_priority() -> None:
    os.nice(10)
