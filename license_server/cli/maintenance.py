"""Maintenance commands for a timer (cron, a systemd timer): purge what expired.

``license-server worker`` runs the same purge among its timed jobs; this command is
for deployments that run no worker.
"""

from __future__ import annotations

from datetime import UTC, datetime

from license_server.cli import _app_context, emit, json_option, main


@main.group()
def idempotency() -> None:
    """Stored answers of Idempotency-Key requests."""


@idempotency.command("purge")
@json_option
def idempotency_purge(as_json: bool) -> None:
    """Delete the stored answers older than 24 hours (run it hourly)."""
    from license_server.services import idempotency as stored

    with _app_context():
        gone = stored.purge_expired(now=datetime.now(UTC))
    emit(
        as_json,
        {"purged": gone},
        lambda: iter([f"Purged {gone} expired idempotency keys."]),
    )
