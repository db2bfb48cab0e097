"""``serve``: run the app under gunicorn or granian."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile

import click
from flask import Flask

from license_server.cli import (
    _app,
    _require_migrated,
    _safe_url,
    fail,
    json_option,
    main,
)

# The default server and threads are the fastest measured by bench/run.py on the
# validate path (README, "Performance"); both stay selectable.
SERVERS = ("gunicorn", "granian")
DEFAULT_SERVER = "gunicorn"
DEFAULT_THREADS = 1


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option(
    "--server",
    type=click.Choice(SERVERS),
    default=DEFAULT_SERVER,
    show_default=True,
    help="The WSGI server.",
)
@click.option(
    "--threads",
    default=DEFAULT_THREADS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Threads per worker (gunicorn: the gthread worker when above 1).",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every request (costs CPU on the hot path; the proxy usually logs).",
)
@json_option
def serve(
    host: str,
    port: int,
    workers: int,
    server: str,
    threads: int,
    access_log: bool,
    as_json: bool,
) -> None:
    """Run the server under gunicorn or granian."""
    app = _app()  # fail here, with a clear message, on a bad configuration
    _require_migrated(app)
    _refuse_per_process_limits(app, workers)
    if importlib.util.find_spec(server) is None:
        fail(
            f"The server {server} is not installed: pip install {server}",
            "NOT_INSTALLED",
        )
    if app.config["EMBEDDED"]:
        os.environ.setdefault(
            "LICENSE_SERVER_INSTANCE_PATH", app.config["INSTANCE_PATH"]
        )
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # every worker writes its metrics here, so a scrape sums them all
        metrics_dir = tempfile.mkdtemp(prefix="license-server-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    argv = _server_argv(server, host, port, workers, threads, access_log)
    started = {
        "url": f"http://{host}:{port}",
        "database": _safe_url(app),
        "server": server,
        "workers": workers,
        "threads": threads,
    }
    if as_json:
        click.echo(json.dumps(started), err=True)
    else:
        click.echo(
            f"serving on {started['url']} ({started['database']}) with {server}, "
            f"{workers} workers x {threads} threads",
            err=True,
        )
    sys.stdout.flush()
    from license_server.cli import worker  # noqa: PLC0415 - registered after us

    worker.start_beside_serve(app)  # SQLite: the webhook worker, as our child
    os.execv(argv[0], argv)  # noqa: S606 - replaces this process with the server


def _refuse_per_process_limits(app: Flask, workers: int) -> None:
    """Refuse rate limits counted per process when several processes serve.

    With ``memory://`` storage each worker counts alone, so every limit would be
    ``workers`` times what it says; only the embedded default may do that.
    """
    config = app.config
    memory = str(config["RATELIMIT_STORAGE_URI"] or "memory://").startswith("memory")
    if config["EMBEDDED"] or not config["RATELIMIT_ENABLED"] or not memory:
        return
    if workers > 1:
        fail(
            f"rate limits in memory:// are counted per process, and {workers} workers "
            "would multiply them: set LICENSE_SERVER_RATELIMIT_STORAGE_URI to a "
            "Redis URL (or serve with --workers 1)",
            "CONFIG_INVALID",
        )


def _server_argv(
    server: str,
    host: str,
    port: int,
    workers: int,
    threads: int,
    access_log: bool = False,
) -> list[str]:
    found = shutil.which(server)
    argv = [found] if found else [sys.executable, "-m", server]
    if server == "granian":
        argv += ["--interface", "wsgi", "--host", host, "--port", str(port)]
        argv += ["--workers", str(workers), "--blocking-threads", str(threads)]
        argv += ["--no-ws", "--respawn-failed-workers"]
        argv += ["--access-log"] if access_log else []
    else:
        argv += ["--bind", f"{host}:{port}", "--workers", str(workers)]
        if threads > 1:
            argv += ["--worker-class", "gthread", "--threads", str(threads)]
        argv += ["--forwarded-allow-ips", "127.0.0.1"]
        # no control socket: nothing uses it, and two servers would share its path
        argv += ["--no-control-socket"]
        argv += ["--access-logfile", "-"] if access_log else []
        # larger than the app's own header limit, so it answers 431 in JSON first
        argv += ["--limit-request-line", "8190"]
        argv += ["--limit-request-field_size", "32768"]
        # gunicorn's own refusals answered in the protocol's JSON (§5)
        argv += ["--config", "python:license_server.serving"]
    return [*argv, "license_server.wsgi:app"]
