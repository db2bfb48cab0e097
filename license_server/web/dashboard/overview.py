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
from license_server.updates import stats as update_stats
from license_server.updates.versions import sort_key
from license_server.validation.results import ResultCode
from license_server.web.common import sessions
from license_server.web.common.charts import Series, bar_chart, stacked_bar_chart
from license_server.web.dashboard import access, bp

STATUSES = [str(status) for status in LicenseStatus]
CODES = [str(code) for code in ResultCode]
SHARES = {
    "versions": "Installed versions",
    "wp": "WordPress versions",
    "php": "PHP versions",
}
# a result code keeps its colour whichever codes a chart shows (VALID green)
CODE_COLOURS = {
    "VALID": 2,
    "DOMAIN_NOT_ACTIVATED": 0,
    "EXPIRED": 4,
    "SUSPENDED": 5,
    "REVOKED": 1,
    "PRODUCT_MISMATCH": 3,
    "NOT_FOUND": 7,
    "ACTIVATION_LIMIT_REACHED": 6,
}
TOP = 10  # bars in a share chart; the rest are summed as "other"
Table = tuple[list[str], list[list[Any]]]


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
    stacked: bool = False
    colours: list[int] = field(default_factory=list)
    svg: Markup = field(default_factory=Markup)

    def __post_init__(self) -> None:
        if not self.stacked:
            self.svg = bar_chart(
                chart_id=self.id,
                title=self.title,
                labels=self.labels,
                series=self.series,
                unit=self.unit,
            )
            return
        self.colours = self.colours or list(range(len(self.series)))
        self.svg = stacked_bar_chart(
            chart_id=self.id,
            title=self.title,
            labels=self.labels,
            series=self.series,
            unit=self.unit,
            colours=self.colours,
        )


def _numbers() -> dict[str, Any]:
    now = sessions.now()
    numbers = stats.overview(vendor_id=access.vendor_id(), now=now)
    numbers["by_code"] = stats.daily_validations_by_code(
        vendor_id=access.vendor_id(), now=now
    )
    numbers["updates"] = update_stats.vendor_stats(
        vendor_id=access.vendor_id(), today=now.date()
    )
    return numbers


def _share_rows(updates: dict[str, Any], dimension: str) -> list[list[Any]]:
    """Rows of (product, value, checks, share %) for one reported dimension."""
    rows = []
    for slug in sorted(updates):
        counts: dict[str, int] = updates[slug][dimension]
        total = sum(counts.values())
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        for value, checks in ranked:
            rows.append([slug, value, checks, round(100 * checks / total, 1)])
    return rows


def _update_tables(updates: dict[str, Any]) -> dict[str, Table]:
    downloads = [
        [slug, version, count]
        for slug in sorted(updates)
        for version, count in sorted(
            updates[slug]["downloads"].items(),
            key=lambda item: sort_key(item[0]),
            reverse=True,
        )
    ]
    tables: dict[str, Table] = {
        "downloads": (["product", "version", "downloads"], downloads)
    }
    for dimension in SHARES:
        header = ["product", "version", "update checks", "share (%)"]
        tables[dimension] = (header, _share_rows(updates, dimension))
    return tables


def _by_code_table(numbers: dict[str, Any]) -> Table:
    seen, daily = numbers["by_code"]
    codes = [code for code in CODES if code in seen] + sorted(set(seen) - set(CODES))
    return (
        ["date", *codes],
        [[day["date"], *(day[code] for code in codes)] for day in daily],
    )


def _tables(numbers: dict[str, Any]) -> dict[str, Table]:
    """Every table of the overview as (header, rows): the charts and CSV read these."""
    tables = _licence_tables(numbers)
    tables["validations_by_code"] = _by_code_table(numbers)
    tables.update(_update_tables(numbers["updates"]))
    return tables


def _licence_tables(numbers: dict[str, Any]) -> dict[str, Table]:
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


def _charts(tables: dict[str, Table]) -> list[Chart]:
    _, daily = tables["daily"]
    _, status = tables["status"]
    code_header, by_code = tables["validations_by_code"]
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
            "Validations per day (UTC), by result code",
            "validations",
            "Date",
            [row[0] for row in by_code],
            [
                Series(code, [row[index] for row in by_code])
                for index, code in enumerate(code_header[1:], start=1)
            ]
            or [Series("Validations", [0 for _ in by_code])],
            url_for("dashboard.overview_csv", table="validations_by_code"),
            stacked=True,
            colours=[CODE_COLOURS.get(code, 7) for code in code_header[1:]],
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


def _label(row: list[Any], products: int) -> str:
    return f"{row[0]} {row[1]}" if products > 1 else str(row[1])


def _update_charts(tables: dict[str, Table], products: int) -> list[Chart]:
    """Downloads per release and the shares of reported versions (top ten each)."""
    _, downloads = tables["downloads"]
    charts = []
    if downloads:
        charts.append(
            Chart(
                "downloads",
                "Package downloads per release, last 30 days",
                "downloads",
                "Release",
                [_label(row, products) for row in downloads[:TOP]],
                [Series("Downloads", [row[2] for row in downloads[:TOP]])],
                url_for("dashboard.overview_csv", table="downloads"),
            )
        )
    for dimension, title in SHARES.items():
        _, rows = tables[dimension]
        if not rows:
            continue
        shown, rest = rows[:TOP], rows[TOP:]
        labels = [_label(row, products) for row in shown]
        values = [row[2] for row in shown]
        if rest:
            labels.append("other")
            values.append(sum(row[2] for row in rest))
        charts.append(
            Chart(
                dimension,
                f"{title} reported by update checks, last 30 days",
                "update checks",
                "Version",
                labels,
                [Series("Update checks", values)],
                url_for("dashboard.overview_csv", table=dimension),
            )
        )
    return charts


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
        update_charts=_update_charts(tables, len(numbers["updates"])),
        shares={name: tables[name] for name in SHARES},
        share_titles=SHARES,
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
