"""``license-server worker``: deliver webhooks and run the timed jobs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

import click
from flask import Flask

from license_server.cli import _app, _require_migrated, _safe_url, json_option, main

BESIDE_SERVE_DELAY = 3.0


@main.command("worker")
@click.option(
    "--parent-pid",
    type=int,
    default=None,
    hidden=True,
    help="Exit when this process is gone (serve's supervision).",
)
@json_option
def worker(parent_pid: int | None, as_json: bool) -> None:
    """Deliver the webhook outbox and run the timed jobs until stopped.

    It says on stderr when it starts and stops (with ``--json``, one JSON object a
    line, as ``serve`` does): stdout stays free for nothing but errors.
    """
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
    where = _safe_url(app)
    _say(as_json, {"worker": "started", "pid": os.getpid(), "database": where})
    Runner(app, parent_pid=parent_pid).run(stop)
    _say(as_json, {"worker": "stopped", "pid": os.getpid(), "database": where})


def _say(as_json: bool, state: dict[str, object]) -> None:
    if as_json:
        click.echo(json.dumps(state), err=True)
    else:
        click.echo(f"webhook worker {state['worker']}", err=True)


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
