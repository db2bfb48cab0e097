"""The ideal validate endpoint and bare Flask: the baselines of ``bench/run.py``.

Outside the package on purpose: this is what a validation costs when nothing but
its work is done — parse the JSON body, one prepared indexed SELECT on the same
tables with psycopg 3, an EdDSA JWT signed with ``cryptography`` (header
precomputed), a JSON answer — served by the same WSGI server with the same
settings as the real one. ``/healthz`` is bare Flask. No rate limit, no metrics,
no request id, no canonical domain: ``validate ÷ ideal`` in the table is the price
of everything the product promises on top.

Settings come from the same ``LICENSE_SERVER_*`` environment as the server (the
database URL and the master key, to derive the lookup key and open the signer).
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, Response, request

from license_server.keyring import Keyring, decode_master_key

_STATE = (
    "SELECT l.id, l.status, l.expires_at, a.id FROM licenses l "
    "LEFT JOIN activations a ON a.license_id = l.id AND a.domain = %(domain)s "
    "AND a.deactivated_at IS NULL WHERE l.key_hash = %(key_hash)s"
)
_SIGNER = (
    "SELECT kid, private_key_sealed FROM signing_keys WHERE status = 'active' "
    "ORDER BY created_at DESC LIMIT 1"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _database_url() -> str:
    url = os.environ["LICENSE_SERVER_DATABASE_URL"]
    return url.replace("postgresql+psycopg://", "postgresql://")


keyring = Keyring(decode_master_key(os.environ["LICENSE_SERVER_MASTER_KEY"]))
_connection: psycopg.Connection[Any] | None = None
_signer: tuple[str, Ed25519PrivateKey] | None = None
app = Flask(__name__)


def _db() -> psycopg.Connection[Any]:
    global _connection, _signer
    if _connection is None:  # one connection per worker, opened after the fork
        _connection = psycopg.connect(_database_url(), autocommit=True)
        row = _connection.execute(_SIGNER).fetchone()
        assert row is not None
        kid, sealed = row
        raw = keyring.open_signing_key(bytes(sealed), kid)
        header = {"alg": "EdDSA", "kid": kid, "typ": "license+jwt"}
        header_b64 = _b64(json.dumps(header, separators=(",", ":")).encode())
        _signer = (header_b64, Ed25519PrivateKey.from_private_bytes(raw))
    return _connection


@app.get("/healthz")
def healthz() -> Response:
    """Bare Flask: touches nothing."""
    return Response('{"status":"ok"}', mimetype="application/json")


@app.get("/readyz")
def readyz() -> Response:
    """Ready once the database answers."""
    _db()
    return Response('{"status":"ready"}', mimetype="application/json")


@app.post("/v1/validate")
def validate() -> Response:
    """The same work as a validation, and nothing else."""
    body = json.loads(request.get_data())
    key = body["license_key"].replace("-", "").upper()[-25:]
    digest = keyring.license_lookup(key)
    connection = _db()
    row = connection.execute(
        _STATE, {"domain": body["domain"], "key_hash": digest}, prepare=True
    ).fetchone()
    valid = row is not None and row[1] == "active" and row[3] is not None
    now = int(time.time())
    claims = {
        "iss": "bench",
        "aud": body["product"],
        "dom": body["domain"],
        "valid": valid,
        "code": "VALID" if valid else "NOT_FOUND",
        "iat": now,
        "exp": now + 604800,
        "nonce": body.get("nonce"),
    }
    assert _signer is not None
    header, private = _signer
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}"
    token = f"{signing_input}.{_b64(private.sign(signing_input.encode()))}"
    answer = {"valid": valid, "code": claims["code"], "token": token}
    return Response(json.dumps(answer), mimetype="application/json")
