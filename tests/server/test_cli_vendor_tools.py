"""The vendor's build and release commands: one-line errors, --json, retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from license_server.cli import main
from tests.conftest import use_embedded
from tests.server.updates_support import theme_zip


@pytest.fixture
def vendor_shop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedded_template: Path
) -> Iterator[Path]:
    """The embedded default with a vendor and the product ``jannah``."""
    use_embedded(monkeypatch, embedded_template, tmp_path / "instance")
    runner = CliRunner()
    assert runner.invoke(main, ["vendors", "create", "Acme Themes"]).exit_code == 0
    made = runner.invoke(main, ["products", "create", "jannah", "Jannah"])
    assert made.exit_code == 0, made.output
    yield tmp_path
    from license_server import create_app
    from license_server.extensions import db

    with create_app().app_context():
        db.engine.dispose()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_refused_package_leaves_no_draft_so_the_same_command_works_again(
    vendor_shop: Path,
) -> None:
    wrong = vendor_shop / "notes.txt"
    wrong.write_text("not a zip")
    code, out, err = run(
        "releases", "publish", "jannah", str(wrong), "--version", "1.0"
    )
    assert code == 1 and out == ""
    assert err == "error: PACKAGE_INVALID: The package is not a ZIP file.\n"
    good = vendor_shop / "jannah.zip"
    good.write_bytes(theme_zip("jannah", "1.0"))
    code, out, err = run("releases", "publish", "jannah", str(good), "--version", "1.0")
    assert code == 0, err
    assert json.loads(out)["published"] is True  # not RELEASE_EXISTS


def test_publish_and_wp_client_fail_in_json_under_json(vendor_shop: Path) -> None:
    wrong = vendor_shop / "notes.txt"
    wrong.write_text("not a zip")
    code, out, _ = run(
        "releases", "publish", "nope", str(wrong), "--version", "1", "--json"
    )
    assert code == 1
    assert json.loads(out)["error"]["code"] == "PRODUCT_NOT_FOUND"
    code, out, _ = run(
        "wp-client", "jannah", "--prefix", "Acme", "--out", "x", "--json"
    )
    assert code == 1
    assert json.loads(out)["error"]["code"] == "SERVER_URL_MISSING"


def test_wp_client_says_what_it_wrote_in_json_and_errors_in_one_line(
    vendor_shop: Path,
) -> None:
    out_dir = vendor_shop / "theme" / "acme-license"
    base = [
        "wp-client",
        "jannah",
        "--out",
        str(out_dir),
        "--server-url",
        "https://l.test",
    ]
    code, out, err = run(*base, "--prefix", "Acme", "--json")
    assert code == 0, err
    built = json.loads(out)
    assert built["prefix"] == "Acme" and built["boot"] == "Acme_License::boot();"
    assert built["pinned_keys"] == 1 and built["release_keys"] == 1
    assert built["files"] == sum(1 for p in out_dir.rglob("*") if p.is_file())
    code, out, err = run(*base, "--prefix", "acme")
    assert code == 1 and out == ""
    assert err.startswith("error: VALIDATION_ERROR: A prefix is 2-20 letters")
    assert "such as Acme" in err and err.count("\n") == 1
    code, _, err = run(
        "wp-client",
        "nope",
        "--prefix",
        "Acme",
        "--out",
        "x",
        "--server-url",
        "https://l.test",
    )
    assert code == 1
    assert err.startswith("error: PRODUCT_NOT_FOUND: no product with slug 'nope'")
