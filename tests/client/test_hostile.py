"""A hostile server: nothing it can send yields VALID, and nothing raises into the host.

Every forged answer is tried twice: on a fresh site activating (it must not become
VALID) and on a site holding a genuine signed REVOKED answer (it must stay
INVALID, not be talked into VALID). The honest control at the top proves the
harness does reach VALID when the answer is genuine, so the refusals mean something.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from license_client import Code, LicenseClient, Response, State, jwk_thumbprint
from tests.client.conftest import (
    TEST_KEY,
    TEST_KID,
    FakeServer,
    fake_client,
    sign_token,
)

KEY = "JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P"
Forgery = Callable[[FakeServer, dict[str, Any]], Response]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(signature)}"


def hs256(claims: dict[str, Any], secret: bytes) -> str:
    header = {"alg": "HS256", "typ": "license+jwt", "kid": TEST_KID}
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def tampered(token: str) -> str:
    head, body, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[0] ^= 0x01
    return f"{head}.{body}.{b64(bytes(raw))}"


def swapped_payload(server: FakeServer, body: dict[str, Any]) -> str:
    genuine = sign_token(server.claims(body, valid=False, code="REVOKED"))
    head, _, signature = genuine.split(".")
    forged = b64(json.dumps(server.claims(body)).encode())
    return f"{head}.{forged}.{signature}"


OTHER_KEY = Ed25519PrivateKey.generate()
OTHER_KID = jwk_thumbprint(OTHER_KEY.public_key())
PUBLIC_RAW = TEST_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
PUBLIC_PEM = TEST_KEY.public_key().public_bytes(
    Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
)


def signed(**changes: Any) -> Forgery:
    return lambda s, b: s.answer(b, sign_token(s.claims(b, **changes)))


def token_is(make: Callable[[FakeServer, dict[str, Any]], str]) -> Forgery:
    return lambda s, b: s.answer(b, make(s, b))


def raw(status: int, body: bytes, content_type: str = "application/json") -> Forgery:
    return lambda s, b: Response(status, body, {"Content-Type": content_type})


def replayed(server: FakeServer, body: dict[str, Any]) -> Response:
    old = dict(body, nonce="an-earlier-nonce")
    return server.answer(body, sign_token(server.claims(old)))


FORGERIES: dict[str, Forgery] = {
    "unsigned answer": raw(200, b'{"valid": true, "code": "VALID", "token": null}'),
    "no token field": raw(200, b'{"valid": true, "code": "VALID"}'),
    "forged signature": token_is(lambda s, b: tampered(sign_token(s.claims(b)))),
    "signature of another payload": token_is(swapped_payload),
    "another key under the pinned kid": token_is(
        lambda s, b: sign_token(s.claims(b), key=OTHER_KEY, kid=TEST_KID)
    ),
    "another vendor's key": token_is(
        lambda s, b: sign_token(s.claims(b), key=OTHER_KEY, kid=OTHER_KID)
    ),
    "replayed old answer (other nonce)": replayed,
    "answer without the nonce": token_is(
        lambda s, b: sign_token({k: v for k, v in s.claims(b).items() if k != "nonce"})
    ),
    "answer for another domain": signed(dom="other-site.com"),
    "answer for another product": signed(aud="other-theme"),
    "answer from another issuer": signed(iss="evil-vendor"),
    "typ JWT": token_is(lambda s, b: sign_token(s.claims(b), typ="JWT")),
    "alg none": token_is(
        lambda s, b: compact(
            {"alg": "none", "typ": "license+jwt", "kid": TEST_KID}, s.claims(b), b""
        )
    ),
    "alg None, signature kept": token_is(
        lambda s, b: compact(
            {"alg": "None", "typ": "license+jwt", "kid": TEST_KID}, s.claims(b), b"x"
        )
    ),
    "HS256 keyed with the raw public key": token_is(
        lambda s, b: hs256(s.claims(b), PUBLIC_RAW)
    ),
    "HS256 keyed with the PEM public key": token_is(
        lambda s, b: hs256(s.claims(b), PUBLIC_PEM)
    ),
    "expired token": token_is(
        lambda s, b: sign_token(
            s.claims(b, iat=s.clock.ts - 90_000, exp=s.clock.ts - 86_400, grace=3600)
        )
    ),
    "token from the future": signed(iat=10**10, exp=10**10 + 3600),
    "valid true with code REVOKED": signed(valid=True, code="REVOKED"),
    "valid as a string": signed(valid="true"),
    "iat as a string": signed(iat="0"),
    "garbage bytes": raw(200, bytes(range(256)) * 4),
    "JSON null": raw(200, b"null"),
    "JSON list": raw(200, b'[{"token": "x"}]'),
    "token is a number": raw(200, b'{"token": 12345}'),
    "token is junk text": raw(200, b'{"token": "not.a.jwt"}'),
    "truncated JSON": raw(200, b'{"valid": true, "token": "ey'),
    "empty body": raw(200, b""),
    "HTML page": raw(200, b"<html><body>License OK!</body></html>", "text/html"),
    "HTML error page": raw(502, b"<html><body>Bad Gateway</body></html>", "text/html"),
    "huge token": raw(200, json.dumps({"token": "e" * 200_000}).encode()),
    "error shape, forged code": raw(409, b'{"code": "VALID", "message": "ok"}'),
}


def broken_transport(server: FakeServer, body: dict[str, Any]) -> Response:
    raise ValueError("a buggy custom transport")


ALL = {**FORGERIES, "transport raising a non-protocol error": broken_transport}


def test_honest_control_reaches_valid(fake_server: FakeServer) -> None:
    site = fake_client(fake_server)
    outcome = site.activate(KEY)
    assert (outcome.ok, outcome.code) == (True, "VALID")
    assert site.status().valid and site.notice() is None


def revoked_site(fake_server: FakeServer) -> LicenseClient:
    fake_server.code = "REVOKED"
    site = fake_client(fake_server)
    site.activate(KEY)
    fake_server.code = "VALID"
    assert (site.status().state, site.status().code) == (State.INVALID, "REVOKED")
    return site


@pytest.mark.parametrize("name", list(ALL))
def test_forgery_never_activates(fake_server: FakeServer, name: str) -> None:
    site = fake_client(fake_server)
    fake_server.handler = lambda body: ALL[name](fake_server, body)
    outcome = site.activate(KEY)
    assert not outcome.ok
    assert outcome.code in {
        Code.UNTRUSTED_ANSWER,
        Code.BAD_ANSWER,
        Code.NETWORK_ERROR,
        Code.CLOCK_ROLLBACK,
        Code.TOKEN_EXPIRED,
    }
    assert site.status().state is State.UNKNOWN
    assert site.notice() is not None


@pytest.mark.parametrize("name", list(ALL))
def test_forgery_never_lifts_a_revocation(fake_server: FakeServer, name: str) -> None:
    site = revoked_site(fake_server)
    fake_server.handler = lambda body: ALL[name](fake_server, body)
    outcome = site.refresh()
    assert not outcome.ok
    assert (site.status().state, site.status().code) == (State.INVALID, "REVOKED")
    assert site.notice() is not None


@pytest.mark.parametrize("name", ["HTML page", "garbage bytes", "unsigned answer"])
def test_deactivate_survives_hostile_answers(
    fake_server: FakeServer, name: str
) -> None:
    site = fake_client(fake_server)
    assert site.activate(KEY).ok
    fake_server.handler = lambda body: ALL[name](fake_server, body)
    assert not site.deactivate().ok
    assert site.status().valid  # the seat was not freed: keep the license here
    fake_server.handler = lambda body: broken_transport(fake_server, body)
    assert site.deactivate().code == Code.NETWORK_ERROR


def test_forged_revocation_cannot_kill_a_valid_site(fake_server: FakeServer) -> None:
    site = fake_client(fake_server)
    assert site.activate(KEY).ok
    fake_server.handler = lambda body: fake_server.answer(
        body,
        sign_token(
            fake_server.claims(body, valid=False, code="REVOKED"), key=OTHER_KEY
        ),
    )
    assert site.refresh().code == "UNTRUSTED_ANSWER"
    assert site.status().valid  # a failure is unknown, never invalid


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.dictionaries(
            st.sampled_from(["token", "valid", "code", "nonce", "domain"]),
            st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40)),
        ).map(lambda d: json.dumps(d).encode()),
    ),
    st.sampled_from([200, 201, 400, 403, 409, 500]),
)
def test_random_answers_never_valid(
    fake_server: FakeServer, body: bytes, status: int
) -> None:
    site = fake_client(fake_server)
    fake_server.handler = lambda _: Response(status, body, {})
    outcome = site.activate(KEY)
    assert not outcome.ok and not site.status().valid
