"""Concurrent failed sign-ins are all counted: the throttle cannot be outrun."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select

from license_server.extensions import db
from license_server.models.users import WebThrottle
from license_server.services import web_sessions
from license_server.services.web_sessions import ThrottleRule

THREADS = 8
RULE = ThrottleRule(limit=100, window=timedelta(minutes=15))


def _race(app: Flask, key: str, now: datetime) -> list[BaseException]:
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def one() -> None:
        try:
            with app.app_context():
                start.wait()
                web_sessions.record_failure(keys={key: RULE}, now=now)
                db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return failures


def _count(app: Flask, key: str) -> int:
    with app.app_context():
        row = db.session.scalar(select(WebThrottle).where(WebThrottle.key == key))
        return row.failures if row else 0


def test_concurrent_first_failures_are_all_counted(app: Flask) -> None:
    now = datetime.now(UTC)
    assert _race(app, "race:first", now) == []
    assert _count(app, "race:first") == THREADS


def test_concurrent_failures_in_a_stale_window_are_all_counted(app: Flask) -> None:
    old = datetime.now(UTC) - timedelta(hours=1)
    with app.app_context():
        db.session.add(WebThrottle(key="race:stale", window_start=old, failures=50))
        db.session.commit()
    assert _race(app, "race:stale", datetime.now(UTC)) == []
    assert _count(app, "race:stale") == THREADS


def test_concurrent_failures_in_a_fresh_window_are_all_counted(app: Flask) -> None:
    now = datetime.now(UTC)
    with app.app_context():
        db.session.add(WebThrottle(key="race:fresh", window_start=now, failures=3))
        db.session.commit()
    assert _race(app, "race:fresh", now) == []
    assert _count(app, "race:fresh") == 3 + THREADS
