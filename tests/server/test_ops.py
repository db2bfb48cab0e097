"""Operations endpoints: health, readiness, metrics, docs."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import public_call


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_metrics_count_requests_and_results(
    client: FlaskClient, license: dict[str, Any]
) -> None:
    def scrape() -> str:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        return response.get_data(as_text=True)

    before = scrape()
    body = {"license_key": license["key"], "domain": "a.com", "product": "jannah"}
    public_call(client, "activate", **body)
    public_call(client, "activate", **{**body, "domain": "b.com"})
    public_call(client, "validate", **body)
    after = scrape()
    for name, labels, delta in [
        ("license_server_results_total", {"operation": "activate", "code": "VALID"}, 1),
        (
            "license_server_results_total",
            {"operation": "activate", "code": "ACTIVATION_LIMIT_REACHED"},
            1,
        ),
        ("license_server_results_total", {"operation": "validate", "code": "VALID"}, 1),
        (
            "license_server_requests_total",
            {"method": "POST", "endpoint": "public.validate", "status": "200"},
            1,
        ),
    ]:
        assert _sample(after, name, **labels) - _sample(before, name, **labels) == delta
    assert "license_server_request_seconds_bucket" in after
