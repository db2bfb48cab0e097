"""``serve``: run the app under gunicorn or granian."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile

import click

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
@json_option
def serve(
    host: str, port: int, workers: int, server: str, threads: int, as_json: bool
) -> None:
    """Run the server under gunicorn or granian."""
    app = _app()  # fail here, with a clear message, on a bad configuration
    _require_migrated(app)
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
    argv = _server_argv(server, host, port, workers, threads)
    control = None
    if server == "gunicorn" and _has_control_socket():
        # gunicorn's control socket defaults to one path per user: give each
        # instance its own, or a second `serve` takes over the first one's
        control = _control_socket(port)
        argv[-1:-1] = ["--control-socket", control]
    started = {
        "url": f"http://{host}:{port}",
        "database": _safe_url(app),
        "server": server,
        "workers": workers,
        "threads": threads,
        "control_socket": control,
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
    os.execv(argv[0], argv)  # noqa: S606 - replaces this process with the server


def _has_control_socket() -> bool:
    """Return whether the installed gunicorn has a control socket (gunicorn 25+)."""
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == "control_socket" for setting in KNOWN_SETTINGS)


def _control_socket(port: int) -> str:
    """Return a control-socket path of this instance's own (a fresh directory)."""
    folder = tempfile.mkdtemp(prefix=f"license-server-{port}-")
    return os.path.join(folder, "gunicorn.ctl")


def _server_argv(
    server: str, host: str, port: int, workers: int, threads: int
) -> list[str]:
    found = shutil.which(server)
    argv = [found] if found else [sys.executable, "-m", server]
    if server == "granian":
        argv += ["--interface", "wsgi", "--host", host, "--port", str(port)]
        argv += ["--workers", str(workers), "--blocking-threads", str(threads)]
        argv += ["--no-ws", "--access-log", "--respawn-failed-workers"]
    else:
        argv += ["--bind", f"{host}:{port}", "--workers", str(workers)]
        if threads > 1:
            argv += ["--worker-class", "gthread", "--threads", str(threads)]
        argv += ["--access-logfile", "-", "--forwarded-allow-ips", "127.0.0.1"]
        # larger than the app's own header limit, so it answers 431 in JSON first
        argv += ["--limit-request-line", "8190"]
        argv += ["--limit-request-field_size", "32768"]
    return [*argv, "license_server.wsgi:app"]
