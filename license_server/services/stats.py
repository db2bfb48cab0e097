"""A vendor's numbers: licenses by status, active domains, daily activity."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from license_server.extensions import db
from license_server.models import (
    Activation,
    License,
    Product,
    UsageCounter,
    ValidationResultCounter,
)

DAYS = 30


def _utc_day(column: Any) -> ColumnElement[Any]:
    """Return the UTC calendar day of a timestamp column, on either backend."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _licenses_by_status(vendor_id: uuid.UUID) -> dict[uuid.UUID, dict[str, int]]:
    rows = db.session.execute(
        select(License.product_id, License.status, func.count())
        .where(License.vendor_id == vendor_id)
        .group_by(License.product_id, License.status)
    )
    result: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for product_id, status, count in rows:
        result[product_id][status] = count
    return result


def _active_domains(vendor_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = db.session.execute(
        select(License.product_id, func.count())
        .join(Activation, Activation.license_id == License.id)
        .where(
            Activation.vendor_id == vendor_id,
            Activation.deactivated_at.is_(None),
            Activation.development.is_(False),
        )
        .group_by(License.product_id)
    )
    return {product_id: count for product_id, count in rows}


def _daily_activations(
    vendor_id: uuid.UUID, start: datetime
) -> dict[uuid.UUID, dict[date, int]]:
    day = _utc_day(Activation.created_at)
    rows = db.session.execute(
        select(License.product_id, day, func.count())
        .join(Activation, Activation.license_id == License.id)
        .where(Activation.vendor_id == vendor_id, Activation.created_at >= start)
        .group_by(License.product_id, day)
    )
    result: dict[uuid.UUID, dict[date, int]] = defaultdict(dict)
    for product_id, when, count in rows:
        result[product_id][_as_date(when)] = count
    return result


def _daily_validations(
    vendor_id: uuid.UUID, first: date
) -> dict[uuid.UUID, dict[date, int]]:
    rows = db.session.execute(
        select(
            UsageCounter.product_id,
            UsageCounter.day,
            UsageCounter.validations,
        ).where(
            UsageCounter.vendor_id == vendor_id,
            UsageCounter.day >= first,
        )
    )
    result: dict[uuid.UUID, dict[date, int]] = defaultdict(dict)
    for product_id, when, count in rows:
        result[product_id][_as_date(when)] = int(count)
    return result


def vendor_stats(*, vendor_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """Return the vendor's stats, per product, for the last 30 days."""
    days = [(now - timedelta(days=n)).date() for n in range(DAYS - 1, -1, -1)]
    start = datetime.combine(days[0], datetime.min.time(), tzinfo=now.tzinfo)
    statuses = _licenses_by_status(vendor_id)
    domains = _active_domains(vendor_id)
    activations = _daily_activations(vendor_id, start)
    validations = _daily_validations(vendor_id, days[0])
    products = db.session.scalars(
        select(Product).where(Product.vendor_id == vendor_id).order_by(Product.slug)
    )
    per_product = [
        {
            "product": product.slug,
            "licenses_by_status": statuses.get(product.id, {}),
            "active_domains": domains.get(product.id, 0),
            "daily": [
                {
                    "date": day.isoformat(),
                    "activations": activations.get(product.id, {}).get(day, 0),
                    "validations": validations.get(product.id, {}).get(day, 0),
                }
                for day in days
            ],
        }
        for product in products
    ]
    totals: dict[str, int] = defaultdict(int)
    for by_status in statuses.values():
        for status, count in by_status.items():
            totals[status] += count
    return {
        "licenses_by_status": dict(totals),
        "active_domains": sum(domains.values()),
        "products": per_product,
    }


def _daily_deactivations(vendor_id: uuid.UUID, start: datetime) -> dict[date, int]:
    day = _utc_day(Activation.deactivated_at)
    rows = db.session.execute(
        select(day, func.count())
        .where(
            Activation.vendor_id == vendor_id,
            Activation.deactivated_at.is_not(None),
            Activation.deactivated_at >= start,
        )
        .group_by(day)
    )
    return {_as_date(when): count for when, count in rows}


def _expiring(vendor_id: uuid.UUID, now: datetime) -> dict[uuid.UUID, int]:
    rows = db.session.execute(
        select(License.product_id, func.count())
        .where(
            License.vendor_id == vendor_id,
            License.status == "active",
            License.expires_at >= now,
            License.expires_at < now + timedelta(days=DAYS),
        )
        .group_by(License.product_id)
    )
    return {product_id: count for product_id, count in rows}


def overview(*, vendor_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """Return :func:`vendor_stats` plus daily totals, deactivations and expiries."""
    stats = vendor_stats(vendor_id=vendor_id, now=now)
    days = [(now - timedelta(days=n)).date() for n in range(DAYS - 1, -1, -1)]
    start = datetime.combine(days[0], datetime.min.time(), tzinfo=now.tzinfo)
    ended = _daily_deactivations(vendor_id, start)
    daily = []
    for index, day in enumerate(days):
        row = {"date": day.isoformat(), "activations": 0, "validations": 0}
        for product in stats["products"]:
            row["activations"] += product["daily"][index]["activations"]
            row["validations"] += product["daily"][index]["validations"]
        row["deactivations"] = ended.get(day, 0)
        daily.append(row)
    expiring = _expiring(vendor_id, now)
    slugs = {
        product.id: product.slug
        for product in db.session.scalars(
            select(Product).where(Product.vendor_id == vendor_id)
        )
    }
    stats["daily"] = daily
    stats["expiring_30_days"] = {slugs[pid]: count for pid, count in expiring.items()}
    return stats


def daily_validations_by_code(
    *, vendor_id: uuid.UUID, now: datetime
) -> tuple[list[str], list[dict[str, Any]]]:
    """Return the codes seen and, per day of the last 30, validations by result code.

    Counted from the batched per-code counters, so a day before they existed
    (or a few seconds of the newest) may show fewer than the daily total.
    """
    days = [(now - timedelta(days=n)).date() for n in range(DAYS - 1, -1, -1)]
    rows = db.session.execute(
        select(
            ValidationResultCounter.day,
            ValidationResultCounter.code,
            func.sum(ValidationResultCounter.validations),
        )
        .where(
            ValidationResultCounter.vendor_id == vendor_id,
            ValidationResultCounter.day >= days[0],
        )
        .group_by(ValidationResultCounter.day, ValidationResultCounter.code)
    )
    found: dict[date, dict[str, int]] = defaultdict(dict)
    for when, code, count in rows:
        found[_as_date(when)][code] = int(count)
    codes = sorted({code for by_code in found.values() for code in by_code})
    daily = [
        {"date": day.isoformat(), **{c: found[day].get(c, 0) for c in codes}}
        for day in days
    ]
    return codes, daily
