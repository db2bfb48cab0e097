"""The ``license-server`` command: master-key, db upgrade, vendors create, serve."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from license_server.cli import main
from license_server.keyring import decode_master_key
from license_server.signing import jwk_thumbprint, public_key_from_jwk


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An environment with the embedded default in a temporary instance folder."""
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(tmp_path))
    return tmp_path


def test_master_key_prints_a_fresh_key() -> None:
    result = CliRunner().invoke(main, ["master-key"])
    assert result.exit_code == 0
    assert len(decode_master_key(result.output.strip())) == 32


def test_db_upgrade_then_vendors_create_json(embedded: Path) -> None:
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    result = runner.invoke(main, ["vendors", "create", "Acme Themes", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"vendor", "api_key", "public_keys"}
    assert payload["vendor"]["slug"] == "acme-themes"
    assert payload["api_key"].startswith("lsk_")
    jwk = payload["public_keys"][0]
    raw = public_key_from_jwk(jwk).public_bytes_raw()
    assert jwk["kid"] == jwk_thumbprint(raw)
    again = runner.invoke(main, ["vendors", "create", "Acme Themes"])
    assert again.exit_code == 1
    assert "VENDOR_EXISTS" in again.output


def test_vendors_create_human_output_shows_key_once(embedded: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"])
    result = runner.invoke(main, ["vendors", "create", "Beta", "--slug", "beta"])
    assert result.exit_code == 0
    assert "lsk_" in result.output
    assert '"kty": "OKP"' in result.output


def test_bad_configuration_is_a_clear_error(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LICENSE_SERVER_DATABASE_URL", "postgresql://x@127.0.0.1/x")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "No master key" in result.output
    assert "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
        data: bytes = response.read()
        return data


def _healthz_counts_by_worker(metrics_dir: Path) -> dict[str, float]:
    """Read each worker's own metrics file: its count of ``GET /healthz``."""
    from prometheus_client.mmap_dict import MmapedDict

    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.removeprefix("counter_")
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            name, sample, labels, *_ = json.loads(key)
            if sample == "license_server_requests_total" and (
                labels.get("endpoint") == "ops.healthz"
            ):
                counts[pid] = counts.get(pid, 0) + value
    return counts


def _server_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {name.decode(): value.decode() for name, value in pairs}


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_serve_runs_gunicorn_and_sums_metrics_of_all_workers(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    CliRunner().invoke(main, ["db", "upgrade"])
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "license_server.cli", "serve", "--port", str(port)]
    command += ["--workers", "2"]
    log = (embedded / "serve.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        body = None
        deadline = time.monotonic() + 60  # a loaded machine boots slowly
        while time.monotonic() < deadline and body is None:
            try:
                body = json.loads(_get(f"{base}/readyz"))
            except OSError:
                time.sleep(0.2)
        assert body == {"status": "ready"}
        # serve made a metrics directory of its own and exec'd gunicorn in place
        metrics_dir = Path(_server_environ(server.pid)["PROMETHEUS_MULTIPROC_DIR"])
        sent = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for _ in range(20):
                _get(f"{base}/healthz")
            sent += 20
            if len(_healthz_counts_by_worker(metrics_dir)) >= 2:
                break
        by_worker = _healthz_counts_by_worker(metrics_dir)
        assert len(by_worker) == 2, by_worker  # both workers answered
        assert sum(by_worker.values()) == sent
        samples = [
            line
            for line in _get(f"{base}/metrics").decode().splitlines()
            if line.startswith("license_server_requests_total")
            and 'endpoint="ops.healthz"' in line
        ]
        # every scrape sums the workers' counts
        assert sum(float(line.rsplit(" ", 1)[1]) for line in samples) == sent
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_commands_refuse_an_unmigrated_database(embedded: Path) -> None:
    runner = CliRunner()
    for args in (["vendors", "create", "Early"], ["serve", "--port", "1"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 1, result.output
        assert "run `license-server db upgrade` first" in result.output
