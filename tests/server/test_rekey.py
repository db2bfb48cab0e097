"""``license-server master-key rotate``: every secret re-sealed, in one transaction."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from license_server import mail
from license_server.cli import main
from license_server.extensions import db
from license_server.keyring import Keyring, decode_master_key, new_master_key
from license_server.models import ApiKey, Event, License, SigningKey
from license_server.models.portal import MailMessage
from license_server.runtime import of as runtime_of
from license_server.services import rekey
from tests.conftest import (
    TEST_MASTER_KEY,
    create_license,
    create_product,
    make_app,
    new_vendor,
    public_call,
)


def rotate(monkeypatch: pytest.MonkeyPatch, url: str, new: str, old_file: Path) -> Any:
    """Run the rotation configured with the ``new`` key, given the old one's file."""
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_DATABASE_URL", url)
    monkeypatch.setenv("LICENSE_SERVER_MASTER_KEY", new)
    argv = ["master-key", "rotate", "--old-key-file", str(old_file), "--json"]
    return CliRunner().invoke(main, argv)


def sealed(app: Flask) -> list[bytes]:
    """Every sealed secret and keyed hash in the database, in a fixed order."""
    with app.app_context():
        rows = [
            *db.session.scalars(
                select(SigningKey.private_key_sealed).order_by(SigningKey.kid)
            ),
            *db.session.execute(
                select(License.key_sealed, License.key_hash).order_by(License.id)
            ),
            *db.session.scalars(select(ApiKey.key_hash).order_by(ApiKey.id)),
            *db.session.scalars(select(MailMessage.secret_sealed)),
            # the keyed chain: every MAC changes with the key
            *(
                mac.encode()
                for mac in db.session.scalars(select(Event.mac).order_by(Event.id))
            ),
        ]
        db.session.remove()
        db.engine.dispose()  # no connection outlives the check
    return [row if isinstance(row, bytes) else b"".join(row) for row in rows]


@pytest.fixture
def old_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "old.key"
    path.write_text(TEST_MASTER_KEY + "\n")
    return path


def test_rotation_reseals_everything_under_the_new_key(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    old_key_file: Path,
) -> None:
    app = make_app(database_url, tmp_path / "a")
    vendor = new_vendor(app)
    client = app.test_client()
    create_product(client, vendor, max_domains=3)
    licenses = [create_license(client, vendor) for _ in range(3)]
    body = {
        "license_key": licenses[0]["key"],
        "domain": "shop.com",
        "product": "jannah",
    }
    status, activated = public_call(client, "activate", **body)
    assert status == 201
    jwks = client.get(f"/v1/vendors/{vendor.slug}/jwks.json").get_json()
    with app.app_context():  # a queued mail's sealed key
        mail.enqueue(
            db.session,
            vendor_id=vendor.new.vendor.id,
            to="ann@example.com",
            template="license_delivered",
            context={"license_key": licenses[1]["key"], "product_name": "Jannah"},
        )
        db.session.commit()
    before = sealed(app)

    new = new_master_key()
    done = rotate(monkeypatch, database_url, new, old_key_file)
    assert done.exit_code == 0, done.output
    report = json.loads(
        done.output[done.output.index("{") : done.output.rindex("}") + 1]
    )
    counts = report["counts"]
    assert counts.pop("event_macs") >= 5  # vendor, product, 3 licenses, activation
    assert counts == {
        "signing_keys": 1,
        "license_keys": 3,
        "idempotent_answers": 0,
        # kinds this world holds none of are reported as 0, not left out
        "release_keys": 0,
        "totp_secrets": 0,
        "webhook_secrets": 0,
        "webhook_keys": 0,
        "store_connection_secrets": 0,
        "envato_tokens": 0,
        "purchase_codes": 0,
        "mail_secrets": 1,
        "api_keys_reissued": 1,
    }
    # no old ciphertext or old keyed hash is left
    assert not set(before) & set(sealed(app))

    rotated = make_app(database_url, tmp_path / "b", MASTER_KEY=new)
    try:
        api = rotated.test_client()
        headers = {"Authorization": f"Bearer {report['api_keys'][0]['key']}"}
        for lic in licenses:  # the license keys decrypt under the new key
            shown = api.get(f"/v1/admin/licenses/{lic['id']}", headers=headers)
            assert shown.get_json()["key"] == lic["key"]
        with rotated.app_context():  # the queued mail opens under the new key
            queued = db.session.scalars(select(MailMessage)).one()
            opened = runtime_of(rotated).keyring.open_mail_secret(
                queued.secret_sealed or b"",
                vendor_id=queued.vendor_id,
                mail_id=queued.id,
            )
            assert licenses[1]["key"] in opened.decode()
        old_admin = api.get("/v1/admin/licenses", headers=vendor.headers)
        assert old_admin.status_code == 401  # the old admin text no longer opens
        # the lookup hashes match under the new key, and the same signing key signs
        status, answer = public_call(api, "validate", **body)
        assert (status, answer["code"]) == (200, "VALID")
        assert api.get(f"/v1/vendors/{vendor.slug}/jwks.json").get_json() == jwks
        key = jwt.PyJWK(jwks["keys"][0]).key
        for token in (activated["token"], answer["token"]):
            jwt.decode(token, key, algorithms=["EdDSA"], options={"verify_aud": False})
    finally:
        with rotated.app_context():
            db.engine.dispose()
    for_new = rotate(monkeypatch, database_url, new, old_key_file)
    assert for_new.exit_code != 0 and "nothing was changed" in for_new.output
    monkeypatch.setenv("LICENSE_SERVER_MASTER_KEY", new)
    verified = CliRunner().invoke(main, ["events", "verify"])
    assert verified.exit_code == 0, verified.output


def test_one_secret_that_does_not_open_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    old_key_file: Path,
) -> None:
    app = make_app(database_url, tmp_path / "a")
    vendor = new_vendor(app)
    client = app.test_client()
    create_product(client, vendor)
    licenses = [create_license(client, vendor) for _ in range(3)]
    stranger = Keyring(decode_master_key(new_master_key()))
    with app.app_context():
        # the last license by id is sealed under a key nobody has: found last
        last = uuid.UUID(max(lic["id"] for lic in licenses))
        db.session.execute(
            update(License)
            .where(License.id == last)
            .values(
                key_sealed=stranger.seal_license_key(
                    licenses[0]["key"], vendor_id=vendor.new.vendor.id, license_id=last
                )
            )
        )
        db.session.commit()
    before = sealed(app)
    failed = rotate(monkeypatch, database_url, new_master_key(), old_key_file)
    assert failed.exit_code != 0 and "nothing was changed" in failed.output
    assert sealed(app) == before  # the keys re-sealed before the failure rolled back


def test_the_configured_key_cannot_be_the_old_one(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    old_key_file: Path,
    sqlite_template: Path,
) -> None:
    done = rotate(
        monkeypatch, f"sqlite:///{sqlite_template}", TEST_MASTER_KEY, old_key_file
    )
    assert done.exit_code != 0 and "configure the NEW master key" in done.output


def test_every_sealed_column_is_rewritten_by_a_rotation() -> None:
    # a new sealed column (or keyed lookup hash) needs a re-sealer: rekey.register
    stored = {
        f"{table.name}.{column.name}"
        for table in db.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_sealed") or column.name == "key_hash"
    }
    assert stored <= rekey.covered_columns(), stored - rekey.covered_columns()


def test_a_tampered_event_chain_is_never_rekeyed(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    old_key_file: Path,
) -> None:
    app = make_app(database_url, tmp_path / "a")
    vendor = new_vendor(app)
    create_product(app.test_client(), vendor)
    with app.app_context():
        db.session.execute(
            update(Event).where(Event.seq == 1).values(actor="someone-else")
        )
        db.session.commit()
    before = sealed(app)
    failed = rotate(monkeypatch, database_url, new_master_key(), old_key_file)
    assert failed.exit_code != 0 and "do not verify" in failed.output
    assert sealed(app) == before
