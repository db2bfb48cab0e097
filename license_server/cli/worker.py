"""``license-server worker``: deliver webhooks and run the timed jobs."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from license_server.cli import _app, _require_migrated, main


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
