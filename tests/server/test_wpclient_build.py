"""The WordPress client build: ``license-server wp-client`` and its admin ZIP route."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from license_server import create_app
from license_server.cli import main
from tests.conftest import VendorFixture


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An environment with the embedded default in a temporary instance folder."""
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path


def _check_built(files: dict[str, str], kid: str, x: str) -> None:
    assert "license-client.php" in files
    assert "includes/class-acme-token.php" in files
    assert "languages/acme-license.pot" in files
    for name, text in files.items():
        assert "lcwp" not in text.lower(), f"unprefixed name left in {name}"
        assert "lcwp" not in name.lower()
    assert "final class Acme_License {" in files["license-client.php"]
    config = files["config.php"]
    assert f"'{kid}' => '{x}'" in config
    assert "'product' => 'jannah'" in config
    assert "'issuer' => 'acme-themes'" in config


def _php_config(path: Path) -> dict[str, Any]:
    """Load a built config.php with PHP itself (skip without php)."""
    php = shutil.which("php")
    if php is None:
        if os.environ.get("REQUIRE_PHP") == "1":
            pytest.fail("php is missing; REQUIRE_PHP=1 forbids skipping")
        pytest.skip("php is not installed")
    code = f"define('ABSPATH', '/'); echo json_encode(require '{path}');"
    output = subprocess.run(
        [php, "-r", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    loaded: dict[str, Any] = json.loads(output)
    for php_file in path.parent.rglob("*.php"):
        lint = subprocess.run(
            [php, "-l", str(php_file)], capture_output=True, text=True, timeout=30
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
    return loaded


def test_cli_writes_a_prefixed_client_with_pinned_keys(embedded: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(main, ["vendors", "create", "Acme Themes", "--json"])
    payload = json.loads(created.stdout)
    app = create_app()
    headers = {"Authorization": f"Bearer {payload['api_key']}"}
    body = {"slug": "jannah", "name": "Jannah", "dev_patterns": ["staging.*"]}
    response = app.test_client().post("/v1/admin/products", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    out = embedded / "theme" / "acme-license"
    missing = runner.invoke(
        main, ["wp-client", "jannah", "--prefix", "Acme", "--out", str(out)]
    )
    assert missing.exit_code == 1 and "--server-url" in missing.output
    args = ["wp-client", "jannah", "--prefix", "Acme", "--out", str(out)]
    result = runner.invoke(main, [*args, "--server-url", "https://lic.acme.test/"])
    assert result.exit_code == 0, result.output
    assert "Acme_License::boot();" in result.output
    files = {
        p.relative_to(out).as_posix(): p.read_text("utf-8")
        for p in out.rglob("*")
        if p.is_file()
    }
    jwk = payload["public_keys"][0]
    _check_built(files, jwk["kid"], jwk["x"])
    config = _php_config(out / "config.php")
    assert config["server_url"] == "https://lic.acme.test"
    assert config["keys"] == {jwk["kid"]: jwk["x"]}
    assert config["dev_patterns"] == ["staging.*"]
    unknown = runner.invoke(
        main,
        [
            "wp-client",
            "nope",
            "--prefix",
            "Acme",
            "--out",
            str(out),
            "--server-url",
            "https://x.test",
        ],
    )
    assert unknown.exit_code == 1 and "NOT_FOUND" in unknown.output
    bad = runner.invoke(
        main,
        [
            "wp-client",
            "jannah",
            "--prefix",
            "acme",
            "--out",
            str(out),
            "--server-url",
            "https://x.test",
        ],
    )
    assert bad.exit_code == 1 and "VALIDATION_ERROR" in bad.output


def test_admin_route_answers_the_same_build_as_a_zip(
    client: FlaskClient, vendor: VendorFixture, product: dict[str, Any]
) -> None:
    url = f"/v1/admin/products/{product['id']}/wp-client"
    response = client.get(url + "?prefix=Acme", headers=vendor.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/zip"
    assert 'filename="acme-license.zip"' in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert all(name.startswith("acme-license/") for name in names)
    files = {
        name.removeprefix("acme-license/"): archive.read(name).decode("utf-8")
        for name in names
    }
    jwk = vendor.new.public_keys[0]
    _check_built(files, jwk["kid"], jwk["x"])
    assert "'server_url' => 'http://localhost'" in files["config.php"]
    chosen = client.get(
        url + "?prefix=Acme&server_url=https://lic.acme.test", headers=vendor.headers
    )
    config = zipfile.ZipFile(io.BytesIO(chosen.data)).read("acme-license/config.php")
    assert b"'server_url' => 'https://lic.acme.test'" in config
    derived = client.get(url, headers=vendor.headers)
    assert 'filename="jannah-license.zip"' in derived.headers["Content-Disposition"]
    for bad in ("?prefix=acme", "?prefix=A", "?prefix=Acme;x", "?prefix=Lcwp"):
        refused = client.get(url + bad, headers=vendor.headers)
        assert refused.status_code == 422, (bad, refused.get_json())
        assert refused.get_json()["code"] == "VALIDATION_ERROR"
