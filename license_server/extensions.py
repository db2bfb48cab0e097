"""Extension singletons, bound to an app in :func:`init_app`."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every model."""


# Objects stay loaded after commit: answers are dumped after the service commits,
# and reloading every attribute would cost one query per object.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def init_app(app: Flask) -> Engine:
    """Bind the database to ``app``; SQLite gets WAL, foreign keys, a busy timeout.

    Returns the app's engine (the runtime's buffers and hot-path reads use it).
    """
    db.init_app(app)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite" and not event.contains(
            engine, "connect", _sqlite_pragmas
        ):
            event.listen(engine, "connect", _sqlite_pragmas)
    return engine
