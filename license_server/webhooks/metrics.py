"""Prometheus metrics of the webhook worker (summed with the server's, see
:mod:`license_server.metrics`, when ``PROMETHEUS_MULTIPROC_DIR`` is shared)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DELIVERED = Counter(
    "license_server_webhooks_delivered_total",
    "Webhook deliveries a receiver accepted (2xx).",
)
RETRIED = Counter(
    "license_server_webhooks_retried_total",
    "Webhook attempts that failed and were scheduled again.",
)
FAILED = Counter(
    "license_server_webhooks_failed_total",
    "Webhook deliveries given up (schedule exhausted, or 410 Gone).",
)
OUTBOX_AGE = Gauge(
    "license_server_webhooks_outbox_age_seconds",
    "Age of the oldest undelivered webhook, 0 when the outbox is empty.",
    multiprocess_mode="livemax",
)
