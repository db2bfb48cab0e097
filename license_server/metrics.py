"""Prometheus metrics: requests, latency, validation and activation results.

With several server processes, set ``PROMETHEUS_MULTIPROC_DIR`` to a directory
shared by them (``license-server serve`` does this itself); every scrape of
``/metrics`` then sums all processes. Otherwise each process reports its own.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
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


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    endpoint = request.endpoint or "unmatched"
    if started is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    return response


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


def init_app(app: Flask) -> None:
    """Time and count every request of ``app``."""
    app.before_request(_start)
    app.after_request(_observe)
