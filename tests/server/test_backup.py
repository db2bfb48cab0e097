"""The restore drill: backup, restore into a fresh database, and everything still works.

On SQLite and PostgreSQL, through the commands an operator runs: the same tokens
verify, the same keys decrypt, the event chains verify and validation answers the
same. A backup never holds the master key, and a restore refuses what it must.
"""

from __future__ import annotations

import os
import stat
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from license_server.cli import main
from license_server.extensions import db
from license_server.keyring import new_master_key
from tests.conftest import (
    TEST_MASTER_KEY,
    create_license,
    create_product,
    make_app,
    new_vendor,
    public_call,
)


@pytest.fixture
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database on the same backend as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    base = make_url(database_url)
    name = f"ls_restore_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def cli(
    monkeypatch: pytest.MonkeyPatch, url: str, *args: str, key: str = TEST_MASTER_KEY
) -> Any:
    """Run ``license-server ARGS`` configured for ``url``."""
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_DATABASE_URL", url)
    monkeypatch.setenv("LICENSE_SERVER_MASTER_KEY", key)
    return CliRunner().invoke(main, list(args))


def _answer(app: Flask, key: str, domain: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate; return the answer without its clock fields, and the token claims."""
    status, body = public_call(
        app.test_client(), "validate", license_key=key, domain=domain, product="jannah"
    )
    assert status == 200
    claims = jwt.decode(body.pop("token"), options={"verify_signature": False})
    body.pop("ts")
    for name in ("iat", "exp", "jti"):
        claims.pop(name, None)
    return body, claims


def _public_key(app: Flask, slug: str, token: str) -> Any:
    jwks = app.test_client().get(f"/v1/vendors/{slug}/jwks.json").get_json()
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    return jwt.PyJWK(jwk).key


def test_restore_drill(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    fresh_database: str,
) -> None:
    source = make_app(database_url, tmp_path / "a")
    vendor = new_vendor(source)
    client = source.test_client()
    create_product(client, vendor, max_domains=2)
    kept = create_license(client, vendor, customer_email="ana@example.com")
    revoked = create_license(client, vendor)
    client.post(f"/v1/admin/licenses/{revoked['id']}/revoke", headers=vendor.headers)
    activate = {"license_key": kept["key"], "domain": "shop.com", "product": "jannah"}
    status, activated = public_call(client, "activate", **activate)
    assert status == 201
    token = activated["token"]
    before = _answer(source, kept["key"], "shop.com")
    before_revoked = _answer(source, revoked["key"], "shop.com")
    with source.app_context():
        db.engine.dispose()

    archive = tmp_path / "drill.backup"
    made = cli(monkeypatch, database_url, "backup", "--out", str(archive))
    assert made.exit_code == 0, made.output
    assert "NOT in this backup" in made.output
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert TEST_MASTER_KEY.encode() not in archive.read_bytes()

    restored = cli(monkeypatch, fresh_database, "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    verified = cli(monkeypatch, fresh_database, "events", "verify")
    assert verified.exit_code == 0, verified.output

    target = make_app(fresh_database, tmp_path / "b")
    try:
        # the same tokens verify, under the restored server's published key
        public_key = _public_key(target, vendor.slug, token)
        jwt.decode(
            token,
            public_key,
            algorithms=["EdDSA"],
            audience=None,
            options={"verify_aud": False},
        )
        # the same keys decrypt (license keys, and the admin key's hash still matches)
        shown = target.test_client().get(
            f"/v1/admin/licenses/{kept['id']}", headers=vendor.headers
        )
        assert shown.status_code == 200
        assert shown.get_json()["key"] == kept["key"]
        # validation answers the same, signed by the restored (decrypted) signing key
        assert _answer(target, kept["key"], "shop.com") == before
        assert _answer(target, revoked["key"], "shop.com") == before_revoked
        _, fresh = public_call(target.test_client(), "validate", **activate)
        jwt.decode(
            fresh["token"],
            public_key,
            algorithms=["EdDSA"],
            options={"verify_aud": False},
        )
    finally:
        with target.app_context():
            db.engine.dispose()

    again = cli(monkeypatch, fresh_database, "restore", str(archive))
    assert again.exit_code != 0 and "not empty" in again.output


def test_restore_refuses_another_master_key_and_a_corrupt_dump(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_template: Path
) -> None:
    source = f"sqlite:///{sqlite_template}"
    archive = tmp_path / "one.backup"
    assert cli(monkeypatch, source, "backup", "--out", str(archive)).exit_code == 0
    again = cli(monkeypatch, source, "backup", "--out", str(archive))
    assert again.exit_code != 0 and "never overwrites" in again.output

    target = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    wrong = cli(monkeypatch, target, "restore", str(archive), key=new_master_key())
    assert wrong.exit_code != 0 and "another master key" in wrong.output

    corrupt = tmp_path / "corrupt.backup"
    with tarfile.open(archive) as tar:
        dump = tar.getmember("database.sqlite3")
    data = bytearray(archive.read_bytes())
    data[dump.offset_data + dump.size // 2] ^= 0xFF  # one bit of the dump itself
    corrupt.write_bytes(bytes(data))
    broken = cli(monkeypatch, target, "restore", str(corrupt))
    assert broken.exit_code != 0 and "corrupt" in broken.output
    assert not (tmp_path / "new.sqlite3").exists() or (
        (tmp_path / "new.sqlite3").stat().st_size == 0
    )
