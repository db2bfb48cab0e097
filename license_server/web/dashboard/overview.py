"""The overview: cards, daily charts, licences by status, per product; as CSV too."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from flask import Response, abort, render_template, url_for
from markupsafe import Markup

from license_server.models import LicenseStatus
from license_server.services import stats
from license_server.web.common import sessions
from license_server.web.common.charts import Series, bar_chart
from license_server.web.dashboard import access, bp

STATUSES = [str(status) for status in LicenseStatus]


@dataclass
class Chart:
    """A chart with its table and CSV: one set of numbers, three views."""

    id: str
    title: str
    unit: str
    label_name: str
    labels: list[str]
    series: list[Series]
    csv: str = ""
    svg: Markup = field(default_factory=Markup)

    def __post_init__(self) -> None:
        self.svg = bar_chart(
            chart_id=self.id,
            title=self.title,
            labels=self.labels,
            series=self.series,
            unit=self.unit,
        )


def _numbers() -> dict[str, Any]:
    return stats.overview(vendor_id=access.vendor_id(), now=sessions.now())


def _tables(numbers: dict[str, Any]) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Every table of the overview as (header, rows): the charts and CSV read these."""
    daily = numbers["daily"]
    by_status = numbers["licenses_by_status"]
    expiring = numbers["expiring_30_days"]
    return {
        "daily": (
            ["date", "activations", "deactivations", "validations"],
            [
                [d["date"], d["activations"], d["deactivations"], d["validations"]]
                for d in daily
            ],
        ),
        "status": (
            ["status", "licences"],
            [[status, by_status.get(status, 0)] for status in STATUSES],
        ),
        "products": (
            ["product", "active domains", *STATUSES, "expiring in 30 days"],
            [
                [
                    p["product"],
                    p["active_domains"],
                    *(p["licenses_by_status"].get(s, 0) for s in STATUSES),
                    expiring.get(p["product"], 0),
                ]
                for p in numbers["products"]
            ],
        ),
    }


def _charts(tables: dict[str, tuple[list[str], list[list[Any]]]]) -> list[Chart]:
    _, daily = tables["daily"]
    _, status = tables["status"]
    dates = [row[0] for row in daily]
    csv_url = url_for("dashboard.overview_csv", table="daily")
    return [
        Chart(
            "sites",
            "Activations and deactivations per day (UTC)",
            "sites",
            "Date",
            dates,
            [
                Series("Activations", [r[1] for r in daily]),
                Series("Deactivations", [r[2] for r in daily]),
            ],
            csv_url,
        ),
        Chart(
            "validations",
            "Validations per day (UTC)",
            "validations",
            "Date",
            dates,
            [Series("Validations", [r[3] for r in daily])],
            csv_url,
        ),
        Chart(
            "status",
            "Licences by status",
            "licences",
            "Status",
            [row[0] for row in status],
            [Series("Licences", [r[1] for r in status])],
            url_for("dashboard.overview_csv", table="status"),
        ),
    ]


@bp.get("/")
@access.require("viewer")
def overview() -> str:
    """Show the vendor's numbers for the last 30 days."""
    numbers = _numbers()
    tables = _tables(numbers)
    expiring = sum(numbers["expiring_30_days"].values())
    return render_template(
        "dashboard/overview.html",
        numbers=numbers,
        charts=_charts(tables),
        products=tables["products"],
        expiring=expiring,
    )


@bp.get("/overview/<table>.csv")
@access.require("viewer")
def overview_csv(table: str) -> Response:
    """Download one overview table as CSV (the numbers of its chart)."""
    tables = _tables(_numbers())
    if table not in tables:
        abort(404)
    header, rows = tables[table]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )
