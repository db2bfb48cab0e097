"""The ``license-server`` command."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from flask import Flask

from license_server.config import ConfigError
from license_server.keyring import new_master_key
from license_server.runtime import of as runtime_of


def _app() -> Flask:
    from license_server import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _require_migrated(app: Flask) -> None:
    """Refuse to work on a database whose schema is not this code's."""
    from sqlalchemy.exc import SQLAlchemyError

    from license_server import migrate

    try:
        current, head = migrate.revisions(app.config["SQLALCHEMY_DATABASE_URI"])
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"cannot reach the database {_safe_url(app)}: {type(exc).__name__}"
        ) from exc
    if current != head:
        raise click.ClickException(
            f"the database is at schema revision {current or 'none'}, this server "
            f"needs {head}: run `license-server db upgrade` first"
        )


@contextmanager
def _app_context() -> Iterator[Flask]:
    """Run a command in an app context; close the database connections after."""
    from license_server.extensions import db

    app = _app()
    _require_migrated(app)
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


@click.group()
def main() -> None:
    """Theme licensing server."""


@main.command("master-key")
def master_key() -> None:
    """Print a fresh master key (32 random bytes, base64url)."""
    click.echo(new_master_key())


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations to the configured database."""
    from license_server import migrate

    app = _app()
    migrate.upgrade(
        app.config["SQLALCHEMY_DATABASE_URI"], revision, runtime_of(app).keyring
    )
    click.echo(f"database at revision {revision}: {_safe_url(app)}")


def _safe_url(app: Flask) -> str:
    from sqlalchemy.engine import make_url

    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(
        hide_password=True
    )


@main.group()
def vendors() -> None:
    """Vendor commands."""


@vendors.command("create")
@click.argument("name")
@click.option("--slug", help="URL-safe id; derived from NAME when omitted.")
@click.option("--issuer", help="The tokens' iss claim; the slug when omitted.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def vendors_create(
    name: str, slug: str | None, issuer: str | None, as_json: bool
) -> None:
    """Create a vendor; print its first admin API key (once) and its public key."""
    from license_server import errors
    from license_server.services.vendors import create_vendor

    with _app_context() as app:
        try:
            new = create_vendor(
                keyring=runtime_of(app).keyring,
                name=name,
                slug=slug,
                issuer=issuer,
                now=datetime.now(UTC),
            )
        except errors.APIError as exc:
            raise click.ClickException(f"{exc.code}: {exc.text}") from exc
        vendor = {"id": str(new.vendor.id), "slug": new.vendor.slug, "name": name}
        issuer_text = new.vendor.issuer
    if as_json:
        payload = {
            "vendor": vendor,
            "api_key": new.api_key,
            "public_keys": new.public_keys,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"Vendor {name!r} created: slug {vendor['slug']}, id {vendor['id']}.")
    click.echo(f"Admin API key (shown once, store it now):\n  {new.api_key}")
    click.echo(f"Token issuer (iss): {issuer_text}")
    click.echo("Public key to embed in your theme (JWK):")
    click.echo(json.dumps(new.public_keys[0]))


@main.group()
def events() -> None:
    """Audit event commands."""


@events.command("verify")
@click.option("--vendor", "vendor_slug", help="Check one vendor (by slug) only.")
def events_verify(vendor_slug: str | None) -> None:
    """Recompute every vendor's event hash chain; report the first broken link."""
    from license_server.services import events as event_log
    from license_server.services.vendors import vendor_by_slug

    with _app_context() as app:
        vendor_id = vendor_by_slug(vendor_slug).id if vendor_slug else None
        breaks = event_log.verify_chain(runtime_of(app).keyring, vendor_id)
        for found in breaks:
            where = f"event #{found.seq}" + (
                f" (id {found.event_id})" if found.event_id is not None else ""
            )
            click.echo(f"BROKEN vendor {found.vendor_id}: {where}: {found.reason}")
    if breaks:
        raise SystemExit(1)
    click.echo("event chains verified: no broken link")


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
def serve(
    host: str, port: int, workers: int, server: str, threads: int, access_log: bool
) -> None:
    """Run the server under gunicorn or granian."""
    app = _app()  # fail here, with a clear message, on a bad configuration
    _require_migrated(app)
    _refuse_per_process_limits(app, workers)
    if importlib.util.find_spec(server) is None:
        raise click.ClickException(f"{server} is not installed: pip install {server}")
    argv = _server_argv(server, host, port, workers, threads, access_log)
    click.echo(
        f"serving on http://{host}:{port} ({_safe_url(app)}) with {server}, "
        f"{workers} workers x {threads} threads",
        err=True,
    )
    if app.config["EMBEDDED"]:
        os.environ.setdefault(
            "LICENSE_SERVER_INSTANCE_PATH", app.config["INSTANCE_PATH"]
        )
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # every worker writes its metrics here, so a scrape sums them all
        metrics_dir = tempfile.mkdtemp(prefix="license-server-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    sys.stdout.flush()
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
        raise click.ClickException(
            f"rate limits in memory:// are counted per process, and {workers} workers "
            "would multiply them: set LICENSE_SERVER_RATELIMIT_STORAGE_URI to a "
            "Redis URL (or serve with --workers 1)"
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


from license_server.cli import maintenance  # noqa: E402,F401
