"""One visible transaction per use case.

A use case runs its whole body inside :func:`transaction` (or under the
:func:`transactional` decorator): it commits once at the end, and rolls back on any
error, so a use case's changes and its events are stored together or not at all.
Helpers never commit. A use case called by another one (``rotate_signing_key``
runs ``prepare`` and ``activate``) joins the caller's transaction: only the
outermost commits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from sqlalchemy.orm import Session

from license_server.extensions import db

P = ParamSpec("P")
_OPEN = "license_server.unit.open"
R = TypeVar("R")


@contextmanager
def transaction() -> Iterator[Session]:
    """Run a block in the session's transaction; commit at its end, else roll back."""
    session: Session = db.session()
    if session.info.get(_OPEN):
        yield session  # inside another use case: its transaction decides
        return
    session.info[_OPEN] = True
    try:
        yield session
    except BaseException:
        session.info.pop(_OPEN, None)
        session.rollback()
        raise
    session.info.pop(_OPEN, None)
    session.commit()


def transactional(function: Callable[P, R]) -> Callable[P, R]:
    """Run a use case in one transaction (see :func:`transaction`)."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with transaction():
            return function(*args, **kwargs)

    return run
