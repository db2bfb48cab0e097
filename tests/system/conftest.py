"""System tests: the real processes of a deployment, on loopback."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.system.cluster import Cluster, Missing, cluster

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def skip_or_fail(missing: Missing) -> None:
    """Skip for a missing service, or fail when its ``REQUIRE_*`` switch is on."""
    if os.environ.get(missing.switch) == "1":
        pytest.fail(f"{missing}; {missing.switch}=1 forbids skipping")
    pytest.skip(str(missing))


@pytest.fixture
def start(tmp_path: Path) -> Callable[..., AbstractContextManager[Cluster]]:
    """Return a context manager factory: servers behind nginx, or a skip."""

    @contextmanager
    def start(**options: Any) -> Iterator[Cluster]:
        if not PG_URL:
            skip_or_fail(Missing("TEST_DATABASE_URL is not set", "REQUIRE_POSTGRES"))
        try:
            with cluster(
                tmp_path, pg_url=PG_URL, redis_url=REDIS_URL, **options
            ) as running:
                yield running
        except Missing as missing:  # raised before the cluster runs, never after
            skip_or_fail(missing)

    return start
