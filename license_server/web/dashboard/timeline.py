"""The events log with filters, and the hash chain check as a button."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import render_template, request, url_for

from license_server.services import events
from license_server.web.common import sessions
from license_server.web.dashboard import access, bp

FILTERS = ("action", "actor", "subject_type", "subject_id")


def _day(name: str) -> datetime | None:
    raw = request.args.get(name, "")
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC) if raw else None
    except ValueError:
        return None


def _query() -> dict[str, Any]:
    found: dict[str, Any] = {
        name: request.args[name] for name in FILTERS if request.args.get(name)
    }
    for name in ("since", "until"):
        moment = _day(name)
        if moment is not None:
            found[name] = moment
    return found


@bp.get("/events", endpoint="events")
@access.require("viewer")
def events_page() -> str:
    """List the vendor's events, newest first, filtered, one page at a time."""
    page = events.list_events(
        vendor_id=access.vendor_id(),
        cursor=request.args.get("cursor") or None,
        limit=50,
        **_query(),
    )
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "cursor"}
    next_url = (
        url_for("dashboard.events", **args, cursor=page.next) if page.next else ""
    )
    return render_template(
        "dashboard/events.html",
        page=page,
        args=request.args,
        next_url=next_url,
        verified=None,
    )


@bp.post("/events/verify")
@access.require("viewer")
def events_verify() -> str:
    """Recompute the vendor's event hash chain and show the result."""
    breaks = events.verify_chain(sessions.keyring(), access.vendor_id())
    page = events.list_events(vendor_id=access.vendor_id(), limit=50)
    return render_template(
        "dashboard/events.html",
        page=page,
        args={},
        next_url="",
        verified=breaks[0] if breaks else True,
    )
