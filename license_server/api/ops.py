"""Operations endpoints: liveness, readiness and metrics."""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy import text

from license_server import errors, metrics
from license_server.api.parsing import Blueprint
from license_server.api.raises import raises
from license_server.extensions import db

blp = Blueprint("ops", __name__, description="Operations.")


_ALIVE = b'{"status":"ok"}\n'


@blp.get("/healthz")
@blp.response(200)
def healthz() -> Response:
    """Answer while the process is up; touches nothing."""
    return Response(_ALIVE, mimetype="application/json")


@blp.get("/readyz")
@blp.response(200)
@raises(errors.ServiceUnavailable)
def readyz() -> dict[str, Any]:
    """Answer when the database is reachable."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        db.session.rollback()
        raise errors.ServiceUnavailable(
            "The database is not reachable.", headers={"Retry-After": "5"}
        ) from exc
    return {"status": "ready"}


@blp.get("/metrics")
@blp.response(
    200, content_type="text/plain", description="Prometheus text exposition format."
)
def metrics_endpoint() -> Any:
    """Expose Prometheus metrics (restrict it to your scraper at the proxy)."""
    return metrics.exposition()
