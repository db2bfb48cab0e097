"""``make example``'s runner: the example site against a real ``license-server serve``.

From a fresh instance, the README's commands alone: ``db upgrade``, ``vendors
create "Acme Themes"``, a product and a license from the CLI, ``serve``, then
``examples/themed_site/run.py`` (what ``make example`` runs), which asks the CLI for
the issuer and public key. The site shows the notice, activates the key, and the
notice is gone.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("license-server")
NOTICE = "Jannah License is not validated"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str, data: bytes | None = None) -> str:
    with urllib.request.urlopen(url, data=data, timeout=10) as answer:  # noqa: S310
        text: str = answer.read().decode()
        return text


def _wait(url: str, log: Path) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(log.read_text())


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSE_SERVER_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return {**env, "LICENSE_SERVER_INSTANCE_PATH": str(tmp_path / "instance")}


def _cli(env: dict[str, str], *args: str) -> dict[str, object]:
    run = subprocess.run(
        [str(CLI), *args, "--json"], env=env, capture_output=True, text=True, check=True
    )
    answer: dict[str, object] = json.loads(run.stdout)
    return answer


def test_make_example_runs_the_site_from_the_readme_commands(
    environ: dict[str, str], tmp_path: Path
) -> None:
    env = environ
    _cli(env, "db", "upgrade")
    _cli(env, "vendors", "create", "Acme Themes")
    _cli(env, "products", "create", "jannah", "Jannah", "--key-prefix", "JAN")
    key = str(_cli(env, "licenses", "create", "--product", "jannah")["key"])
    server_port, site_port = _free_port(), _free_port()
    server_log, site_log = tmp_path / "server.log", tmp_path / "site.log"
    serve = [str(CLI), "serve", "--port", str(server_port), "--workers", "1"]
    site_env = {
        **env,
        "LICENSE_SERVER_URL": f"http://127.0.0.1:{server_port}",
        "LICENSE_STATE": str(tmp_path / "license.json"),
    }
    runner = [sys.executable, str(ROOT / "examples/themed_site/run.py")]
    runner += ["--port", str(site_port)]
    with server_log.open("wb") as out1, site_log.open("wb") as out2:
        server = subprocess.Popen(serve, env=env, stdout=out1, stderr=subprocess.STDOUT)
        site = subprocess.Popen(runner, env=site_env, stdout=out2, stderr=out2)
    try:
        _wait(f"http://127.0.0.1:{server_port}/readyz", server_log)
        base = f"http://127.0.0.1:{site_port}"
        _wait(base + "/", site_log)
        assert NOTICE in _get(base + "/")
        form = urllib.parse.urlencode({"action": "activate", "license_key": key})
        page = _get(base + "/admin/theme-options", form.encode())
        assert "VALID" in page, page
        assert NOTICE not in _get(base + "/")
    finally:
        for process in (site, server):
            process.terminate()
            process.wait(timeout=20)
    assert "blog.example.com" in site_log.read_text()
