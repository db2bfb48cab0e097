"""The operator's CLI: vendors, API keys, products, licenses, signing keys.

Each command calls the admin API's services, so what the CLI creates works over
HTTP at once (and the other way round); every failure is one line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from license_server import create_app
from license_server.cli import main
from tests.conftest import use_embedded


@pytest.fixture
def embedded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedded_template: Path
) -> Path:
    """The embedded default in a temporary instance folder, migrated."""
    return use_embedded(monkeypatch, embedded_template, tmp_path)


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def data(*args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


def test_version_and_short_help() -> None:
    assert "license-server, version" in run("--version").output
    helped = run("-h").output
    for group in ("vendors", "api-keys", "products", "licenses", "signing-keys"):
        assert group in helped
    assert "--json" in run("licenses", "find", "-h").output


def test_vendors_list_says_when_there_is_none(embedded: Path) -> None:
    assert "No vendors yet" in run("vendors", "list").output
    assert data("vendors", "list") == {"data": []}
    created = data("vendors", "create", "Ünïcode Thèmes")
    assert created["vendor"]["slug"] == "unicode-themes"
    assert created["vendor"]["issuer"] == "unicode-themes"
    listed = data("vendors", "list")["data"]
    assert [(v["slug"], v["name"]) for v in listed] == [
        ("unicode-themes", "Ünïcode Thèmes")
    ]


def test_a_lost_api_key_is_replaced_and_the_old_one_revoked(embedded: Path) -> None:
    first = data("vendors", "create", "Acme Themes")["api_key"]
    new = data("api-keys", "create", "--name", "replacement")
    assert new["key"].startswith("lsk_") and new["scope"] == "write"
    client = create_app().test_client()
    for key in (first, new["key"]):
        answer = client.get(
            "/v1/admin/products", headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 200
    listed = data("api-keys", "list")["data"]
    assert {k["name"] for k in listed} == {"initial", "replacement"}
    initial = next(k for k in listed if k["name"] == "initial")
    revoked = data("api-keys", "revoke", initial["prefix"])
    assert revoked["revoked_at"] is not None
    answer = client.get(
        "/v1/admin/products", headers={"Authorization": f"Bearer {first}"}
    )
    assert answer.status_code == 401
    events = client.get(
        "/v1/admin/events", headers={"Authorization": f"Bearer {new['key']}"}
    )
    actions = [event["action"] for event in events.get_json()["data"]]
    assert "api_key.revoked" in actions and "api_key.created" in actions


def test_products_and_licenses_round_trip_with_the_admin_api(embedded: Path) -> None:
    key = data("vendors", "create", "Acme Themes")["api_key"]
    product = data("products", "create", "jannah", "Jannah", "--key-prefix", "jan")
    assert product["key_prefix"] == "JAN" and product["max_domains"] == 1
    assert [p["slug"] for p in data("products", "list")["data"]] == ["jannah"]
    issued = data(
        "licenses",
        "create",
        "--product",
        "jannah",
        "--email",
        "b@example.com",
        "--expires",
        "2030-01-31",
    )
    assert issued["key"].startswith("JAN-")
    assert issued["expires_at"] == "2030-01-31T23:59:59+00:00"
    client = create_app().test_client()
    answer = client.post(
        "/v1/activate",
        json={
            "license_key": issued["key"],
            "domain": "shop.example.com",
            "product": "jannah",
        },
    )
    assert answer.status_code == 201
    by_key = data("licenses", "find", "--key", issued["key"])["data"]
    by_email = data("licenses", "find", "--email", "b@example.com")["data"]
    by_domain = data("licenses", "find", "--domain", "https://SHOP.example.com/")[
        "data"
    ]
    assert [x["id"] for x in by_key + by_email + by_domain] == [issued["id"]] * 3
    assert data("licenses", "find", "--domain", "other.example.org")["data"] == []
    shown = data("licenses", "show", issued["key"])
    assert shown["key"] == issued["key"]
    assert [a["domain"] for a in shown["activations"]] == ["shop.example.com"]
    over_http = client.get(
        f"/v1/admin/licenses/{issued['id']}", headers={"Authorization": f"Bearer {key}"}
    ).get_json()
    assert {k: shown[k] for k in over_http} == over_http  # the API's own document
    assert data("licenses", "revoke", issued["id"])["status"] == "revoked"
    answer = client.post(
        "/v1/validate",
        json={
            "license_key": issued["key"],
            "domain": "shop.example.com",
            "product": "jannah",
        },
    )
    assert answer.get_json()["code"] == "REVOKED"


def test_signing_keys_rotate_publishes_and_signs_with_the_new_key(
    embedded: Path,
) -> None:
    old = data("vendors", "create", "Acme Themes")["public_keys"][0]["kid"]
    new = data("signing-keys", "rotate")
    assert new["status"] == "active" and new["kid"] != old
    statuses = {k["kid"]: k["status"] for k in data("signing-keys", "list")["data"]}
    assert statuses == {new["kid"]: "active", old: "verifying"}
    jwks = create_app().test_client().get("/v1/vendors/acme-themes/jwks.json")
    assert {k["kid"] for k in jwks.get_json()["keys"]} == {old, new["kid"]}


def test_vendor_is_required_when_there_are_several(embedded: Path) -> None:
    run("vendors", "create", "Acme Themes")
    run("vendors", "create", "Beta Themes")
    result = run("products", "list", code=1)
    assert result.output.count("\n") == 1
    assert "pass --vendor, one of acme-themes, beta-themes" in result.output
    assert data("products", "list", "--vendor", "beta-themes") == {"data": []}


@pytest.mark.parametrize(
    "args, says",
    [
        (["events", "verify", "--vendor", "nope"], "No vendor with slug 'nope'"),
        (["licenses", "show", "JAN-1234"], "INVALID_KEY_FORMAT"),
        (["licenses", "create", "--product", "nope"], "PRODUCT_NOT_FOUND"),
        (["products", "create", "Bad Slug", "X"], "slug: Use 1-64"),
        (["licenses", "create", "--product", "x", "--count", "0"], "count:"),
        (["api-keys", "revoke", "lsk_nothing"], "No API key of this vendor"),
    ],
)
def test_errors_are_one_line(embedded: Path, args: list[str], says: str) -> None:
    run("vendors", "create", "Acme Themes")
    result = run(*args, code=1)
    assert says in result.output
    assert result.output.count("\n") == 1, result.output
    as_json = json.loads(run(*args, "--json", code=1).stdout)
    assert says in as_json["error"]["message"] and as_json["error"]["code"]


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve"], ["vendors", "list"]])
def test_a_missing_database_is_one_line(
    embedded: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    missing = embedded / "no-such-folder" / "db.sqlite3"
    monkeypatch.setenv("LICENSE_SERVER_DATABASE_URL", f"sqlite:///{missing}")
    monkeypatch.setenv("LICENSE_SERVER_MASTER_KEY_FILE", str(embedded / "master.key"))
    result = run(*command, code=1)
    assert result.output.count("\n") == 1, result.output
    assert f"Cannot reach the database sqlite:///{missing}" in result.output
    assert "unable to open database file" in result.output


def test_db_upgrade_on_a_missing_postgresql_database_is_one_line(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.engine import make_url

    from tests.conftest import postgres_url_or_skip

    url = make_url(postgres_url_or_skip()).set(database=f"ls_missing_{os.getpid()}")
    monkeypatch.setenv("LICENSE_SERVER_DATABASE_URL", url.render_as_string(False))
    monkeypatch.setenv("LICENSE_SERVER_MASTER_KEY_FILE", str(embedded / "master.key"))
    result = run("db", "upgrade", code=1)
    assert result.output.count("\n") == 1, result.output
    assert "Cannot reach the database postgresql" in result.output
    assert f'database "ls_missing_{os.getpid()}" does not exist' in result.output
