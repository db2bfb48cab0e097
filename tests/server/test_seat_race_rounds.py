"""The seat races of ``test_seat_races.py``, repeated for many rounds on PostgreSQL.

Each round issues a fresh license and lets threads race: for its seats (every
answer 201 or 409, exactly ``seats`` live activations) and for one domain (one
201, the rest 200, one live activation). ``SEAT_RACE_ROUNDS`` sets the number of
rounds (10 by default; ``make reliability`` runs more).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from license_server.extensions import db
from license_server.models import Activation
from tests.conftest import (
    _truncate,
    create_license,
    create_product,
    make_app,
    new_vendor,
)
from tests.server.hardening_support import GENEROUS_LIMITS, record
from tests.server.test_seat_races import race as _race

ROUNDS = int(os.environ.get("SEAT_RACE_ROUNDS", "10"))
SEATS, RACERS = 3, 16


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(
        postgres_url, tmp_path / "instance", DB_POOL_SIZE=RACERS, **GENEROUS_LIMITS
    )
    yield app
    with app.app_context():
        db.engine.dispose()
    _truncate(postgres_url)


def _live(app: Flask, prefix: str) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(
            select(Activation.domain, func.count())
            .where(Activation.deactivated_at.is_(None))
            .group_by(Activation.domain)
        ).all()
        db.session.remove()
    return {domain: count for domain, count in rows if domain.startswith(prefix)}


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_seat_race_round(pg_app: Flask, round_number: int) -> None:
    client = pg_app.test_client()
    vendor = new_vendor(pg_app)
    create_product(client, vendor, max_domains=SEATS)
    key = create_license(client, vendor)["key"]
    tag = f"r{round_number}-"
    many = [
        {"license_key": key, "domain": f"{tag}{n}.example.com", "product": "jannah"}
        for n in range(RACERS)
    ]
    seat_results = Counter(_race(pg_app, many))
    one = {"license_key": key, "domain": f"{tag}same.example.com", "product": "jannah"}
    second = create_license(client, vendor)["key"]
    one["license_key"] = second
    same_results = Counter(status for status, _ in _race(pg_app, [one] * RACERS))
    live = _live(pg_app, tag)
    seat_holders = [d for d in live if not d.startswith(f"{tag}same")]
    violations = max(0, len(seat_holders) - SEATS) + max(
        0, live.get(one["domain"], 0) - 1
    )
    record(
        "seat_race",
        round=round_number,
        violations=violations,
        seat_answers={f"{s} {c}": n for (s, c), n in seat_results.items()},
        same_domain_answers=dict(same_results),
    )
    assert seat_results == Counter(
        {(201, "VALID"): SEATS, (409, "ACTIVATION_LIMIT_REACHED"): RACERS - SEATS}
    )
    assert same_results == Counter({201: 1, 200: RACERS - 1})
    assert len(seat_holders) == SEATS and live[one["domain"]] == 1
    assert all(count == 1 for count in live.values())
