"""docker-compose.yml and the loopback scale-out test describe the same topology."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from license_server.config import DEFAULTS, FILE_KEYS
from tests.system.cluster import ROOT, TEMPLATE, _server_env, render_template

COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return found


def test_every_role_of_the_topology_is_a_service(services: dict[str, Any]) -> None:
    assert {"db", "redis", "migrate", "app", "worker", "nginx"} <= set(services)
    assert services["app"]["command"][:2] == ["license-server", "serve"]
    assert services["app"]["deploy"]["replicas"] >= 2
    assert services["worker"]["command"] == ["license-server", "worker"]
    assert services["migrate"]["command"] == ["license-server", "db", "upgrade"]
    needs = services["app"]["depends_on"]["migrate"]["condition"]
    assert needs == "service_completed_successfully"  # migrations before code
    for name in ("db", "redis", "app", "nginx"):
        assert "healthcheck" in services[name], name
    for name in ("db", "redis", "app", "worker", "nginx"):
        assert services[name]["restart"] == "unless-stopped", name


def test_nginx_in_compose_is_the_tested_site(services: dict[str, Any]) -> None:
    nginx = services["nginx"]
    mounted = [v.split(":")[0] for v in nginx["volumes"]]
    assert [(ROOT / m).resolve() for m in mounted] == [TEMPLATE.resolve()]
    values = {k: v for k, v in nginx["environment"].items() if k.startswith("LS_")}
    rendered = render_template(values)  # raises if a placeholder is left unfilled
    assert "server app:8000" in rendered


def test_the_app_settings_are_the_tested_settings(services: dict[str, Any]) -> None:
    compose = services["app"]["environment"]
    tested = _server_env("postgresql://x", "key", "redis://r", "prefix", {})
    for name in ("LICENSE_SERVER_TRUSTED_PROXIES",):
        assert compose[name] == tested[name]
    for name in ("LICENSE_SERVER_RATELIMIT_STORAGE_URI",):
        assert compose[name].startswith("redis://")
        assert tested[name].startswith("redis://")


def test_secrets_come_from_files_the_config_reads(services: dict[str, Any]) -> None:
    readable = {f"LICENSE_SERVER_{name}_FILE" for name in FILE_KEYS}
    readable.add("LICENSE_SERVER_MASTER_KEY_FILE")
    assert "MASTER_KEY_FILE" in DEFAULTS
    for service in ("migrate", "app", "worker"):
        env = services[service]["environment"]
        assert "LICENSE_SERVER_MASTER_KEY" not in env
        assert "LICENSE_SERVER_DATABASE_URL" not in env
        files = {name for name in env if name.endswith("_FILE")}
        assert files and files <= readable, files
        for name in files:
            secret = Path(env[name]).name
            assert secret in services[service]["secrets"]
