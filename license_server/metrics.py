"""Prometheus metrics: requests, latency, validation and activation results.

With several server processes, set ``PROMETHEUS_MULTIPROC_DIR`` to a directory
shared by them (``license-server serve`` does this itself); every scrape of
``/metrics`` then sums all processes. Otherwise each process reports its own.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "license_server_requests_total",
    "HTTP requests answered, by endpoint and status.",
    ["method", "endpoint", "status"],
)
LATENCY = Histogram(
    "license_server_request_seconds",
    "Time to answer a request, by endpoint.",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RESULTS = Counter(
    "license_server_results_total",
    "Answers of validate and activate, by result code.",
    ["operation", "code"],
)


# labelled children, looked up once per label set (labels() takes a lock and
# builds a tuple on every call)
_LATENCY: dict[str, Any] = {}
_REQUESTS: dict[tuple[str, str, int], Any] = {}


def observe(method: str, endpoint: str, status: int, seconds: float) -> None:
    """Count one answered request and its time."""
    latency = _LATENCY.get(endpoint)
    if latency is None:
        latency = _LATENCY[endpoint] = LATENCY.labels(endpoint)
    latency.observe(seconds)
    key = (method, endpoint, status)
    counter = _REQUESTS.get(key)
    if counter is None:
        counter = _REQUESTS[key] = REQUESTS.labels(method, endpoint, str(status))
    counter.inc()


def count_result(operation: str, code: str) -> None:
    """Count one validate or activate answer by its result code."""
    RESULTS.labels(operation, code).inc()


def exposition() -> Response:
    """Render the metrics of this process, or of all when multiprocess is on."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def clear_children() -> None:
    """Forget the cached children (after a registry reset, in tests)."""
    _LATENCY.clear()
    _REQUESTS.clear()
