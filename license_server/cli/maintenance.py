"""Maintenance commands for a timer (cron, a systemd timer): purge what expired."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from license_server.cli import _app_context, main


@main.group()
def idempotency() -> None:
    """Stored answers of Idempotency-Key requests."""


@idempotency.command("purge")
def idempotency_purge() -> None:
    """Delete the stored answers older than 24 hours (run it hourly)."""
    from license_server.services import idempotency as stored

    with _app_context():
        gone = stored.purge_expired(now=datetime.now(UTC))
    click.echo(f"purged {gone} expired idempotency keys")
