"""The ``license-server`` command: the group, its helpers, and one module per area.

Each area attaches its commands to :data:`main` from its own module
(``cli/vendors.py``, ``cli/keys.py``, ...), imported at the bottom of this file.
Every command takes ``--json``; every failure is one line on stderr (or one JSON
object on stdout with ``--json``) and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any, NoReturn

import click
from flask import Flask

from license_server.config import ConfigError
from license_server.keyring import Keyring

CONTEXT = {"help_option_names": ["-h", "--help"]}


class CommandFailed(click.ClickException):
    """A command failed for a reason the user can fix; ``code`` names it."""

    def __init__(self, message: str, code: str = "ERROR") -> None:
        from license_server.errors import sentence

        super().__init__(sentence(message))
        self.code = code
        self.as_json = _json_wanted()  # the context is gone when click shows it

    def show(self, file: Any = None) -> None:
        """Print one line: JSON on stdout under ``--json``, else text on stderr."""
        if self.as_json:
            body = {"error": {"code": self.code, "message": self.message}}
            click.echo(json.dumps(body))
        else:
            click.echo(f"error: {self.message}", err=True)


def _json_wanted() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context and context.find_root().meta.get("json"))


def explain(exc: BaseException) -> CommandFailed:
    """Turn an expected failure into one line that says what went wrong."""
    from marshmallow import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from license_server import errors

    if isinstance(exc, CommandFailed):
        return exc
    if isinstance(exc, errors.APIError):
        text = exc.text
        fields = exc.detail.get("fields") if isinstance(exc.detail, dict) else None
        if fields:
            text += " " + "; ".join(_field_lines(fields))
        return CommandFailed(f"{exc.code}: {text}", exc.code)
    if isinstance(exc, ValidationError):
        fields = "; ".join(_field_lines(exc.messages))
        return CommandFailed(f"VALIDATION_ERROR: {fields}", "VALIDATION_ERROR")
    if isinstance(exc, ConfigError):
        return CommandFailed(str(exc), "CONFIG_INVALID")
    if isinstance(exc, SQLAlchemyError):
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        return CommandFailed(f"database error ({type(cause).__name__}): {first}", "DB")
    if isinstance(exc, OSError):
        return CommandFailed(f"{type(exc).__name__}: {exc}", "OS_ERROR")
    raise exc


def _field_lines(fields: Any, prefix: str = "") -> list[str]:
    if isinstance(fields, dict):
        lines: list[str] = []
        for name, inner in fields.items():
            lines += _field_lines(inner, f"{prefix}{name}.")
        return lines
    text = " ".join(map(str, fields)) if isinstance(fields, list) else fields
    return [f"{prefix.rstrip('.')}: {text}"]


class Group(click.Group):
    """A click group whose commands fail in one line, never with a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; turn expected failures into :class:`CommandFailed`."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except Exception as exc:  # mapped to one line, or re-raised (a bug)
            raise explain(exc) from exc


def _version() -> str:
    try:
        return metadata.version("license-server")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(_version(), "-V", "--version", prog_name="license-server")
def main() -> None:
    """Theme licensing server: serve it, and manage vendors, keys and licenses."""


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--json`` to a command; failures then print JSON too."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        ctx.find_root().meta["json"] = value
        return value

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        is_eager=True,
        callback=remember,
        help="Print JSON for scripts (errors too).",
    )(command)


def emit(as_json: bool, payload: Any, lines: Callable[[], Iterator[str]]) -> None:
    """Print ``payload`` as JSON, or the human ``lines``."""
    if as_json:
        click.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
        return
    for line in lines():
        click.echo(line)


def fail(message: str, code: str = "ERROR") -> NoReturn:
    """Stop the command with one line that says what to do."""
    raise CommandFailed(message, code)


def _app() -> Flask:
    from license_server import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise CommandFailed(str(exc), "CONFIG_INVALID") from exc


def _safe_url(app: Flask) -> str:
    from sqlalchemy.engine import make_url

    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(
        hide_password=True
    )


def _require_migrated(app: Flask) -> None:
    """Refuse to work on a database whose schema is not this code's."""
    from sqlalchemy.exc import SQLAlchemyError

    from license_server import migrate

    try:
        current, head = migrate.revisions(app.config["SQLALCHEMY_DATABASE_URI"])
    except SQLAlchemyError as exc:
        raise unreachable(app, exc) from exc
    if current != head:
        fail(
            f"the database is at schema revision {current or 'none'}, this server "
            f"needs {head}: run `license-server db upgrade` first",
            "NOT_MIGRATED",
        )


def unreachable(app: Flask, exc: Exception) -> CommandFailed:
    """Say which database could not be reached, and why, in one line."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return CommandFailed(
        f"cannot reach the database {_safe_url(app)}: {type(cause).__name__}: {first}",
        "DB_UNREACHABLE",
    )


def keyring_of(app: Flask) -> Keyring:
    """Return the app's keyring (from its runtime)."""
    from license_server.runtime import of as runtime_of

    return runtime_of(app).keyring


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


# Each area's commands: one line per area, added at the bottom.
# isort: off
from license_server.cli import basics  # noqa: E402,F401
from license_server.cli import vendors  # noqa: E402,F401
from license_server.cli import keys  # noqa: E402,F401
from license_server.cli import products  # noqa: E402,F401
from license_server.cli import licenses  # noqa: E402,F401
from license_server.cli import serve  # noqa: E402,F401
from license_server.cli import backup  # noqa: E402,F401
from license_server.cli import edd  # noqa: E402,F401
from license_server.cli import users  # noqa: E402,F401
from license_server.cli import worker  # noqa: E402,F401
from license_server.cli import releases  # noqa: E402,F401
from license_server.cli import wordpress  # noqa: E402,F401
from license_server.cli import mail  # noqa: E402,F401
from license_server.cli import maintenance  # noqa: E402,F401
