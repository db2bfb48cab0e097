"""The error lists of /openapi.json are what the routes answer, both ways.

Every ``(status, code)`` an operation documents is produced here by a request
(or named in :data:`RAISED_ELSEWHERE` with the test that produces it), and every
error answer these requests get is documented on its operation. The layer errors
(bodies, headers, authentication, idempotency, rate limits) are tried on every
operation; the services' errors come from :data:`TRIGGERS`.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from license_server.api.raises import documented_codes
from license_server.channels.signatures import sign_generic
from tests.conftest import make_app
from tests.server.hardening_support import World, shared_world

Pair = tuple[str, str, int, str]  # method, OpenAPI path, status, code
METHODS = {"get", "post", "patch", "put", "delete"}
# documented codes no request here can produce, and the tests that produce them
RAISED_ELSEWHERE = {
    "SERVICE_UNAVAILABLE": "test_faults.py, test_db_restart.py",
    "IDEMPOTENCY_IN_FLIGHT": "test_admin_features.py (a claim still running)",
    "CONFLICT": "test_seat_races.py (an activation changed concurrently)",
    "ENVATO_RATE_LIMITED": "test_channels_envato.py (a local Envato answering 429)",
    "ENVATO_UNAVAILABLE": "test_channels_envato.py (a local Envato down)",
}


@pytest.fixture(scope="module", params=["sqlite"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[World]:
    """One app for the module (the checks are about the API, not the database)."""
    with shared_world(request, tmp_path_factory, sqlite_template) as built:
        yield built


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def concrete(path: str) -> str:
    """Fill an OpenAPI path's parameters with ids nothing has."""
    path = path.replace("{vendor}", "acme-themes")
    return re.sub(r"\{\w+\}", str(uuid.uuid4()), path)


def documented(spec: dict[str, Any]) -> set[Pair]:
    return {
        (method, path, status, code)
        for method, path, operation in operations(spec)
        for status, code in documented_codes(operation)
    }


class Recorder:
    """Send requests and keep every error answer as a ``Pair``."""

    def __init__(self, client: FlaskClient, secrets: dict[str, str]) -> None:
        self.client, self.secrets, self.seen = client, secrets, set[Pair]()

    def send(
        self, method: str, path: str, concrete_path: str | None = None, **kw: Any
    ) -> Any:
        auth = kw.pop("auth", "write" if path.startswith("/v1/admin") else None)
        headers = dict(kw.pop("headers", {}))
        if auth:
            headers["Authorization"] = self.secrets[auth]
        answer = self.client.open(
            concrete_path or concrete(path),
            method=method.upper(),
            headers=headers,
            **kw,
        )
        if answer.status_code >= 400:
            body = answer.get_json(silent=True) or {}
            self.seen.add((method, path, answer.status_code, body.get("code", "")))
        return answer


def layer_errors(recorder: Recorder, spec: dict[str, Any]) -> None:
    """Try what every operation's layers refuse, on every operation."""
    send = recorder.send
    for method, path, operation in operations(spec):
        send(method, path, headers={"X-Big": "x" * 20_000})
        send(method, path, concrete(path) + "?q=%00")
        send(method, path, json={"days": 1} if path.endswith("/renew") else {})
        if "requestBody" in operation:
            send(method, path, data="{}", content_type="text/plain")
            send(method, path, data="{not json", content_type="application/json")
            send(method, path, data="x" * 70_000, content_type="application/json")
            send(method, path, json={"no_such_field_here": 1})
            form = "application/x-www-form-urlencoded"
            send(method, path, data="domain=a.com&domain=b.com", content_type=form)
        if path.startswith("/v1/admin"):
            send(method, path, auth=None)
            if method != "get":
                send(method, path, auth="read", json={})
        if path.startswith("/v1/admin") and method == "post":
            send(method, path, headers={"Idempotency-Key": "\x7f"}, json={})
            once = {"Idempotency-Key": f"reuse-{uuid.uuid4()}"}
            send("post", "/v1/admin/api-keys", headers=once, json={"name": "x"})
            send(method, path, headers=once, json={"other": "body"})


def service_errors(app: Flask, recorder: Recorder) -> None:
    """Produce each service error a route declares, with the data it needs."""
    send, key = recorder.send, recorder.secrets["key"]
    site = {"license_key": key, "domain": "a.com", "product": "jannah"}
    unknown = "JAN-" + generated_key()
    bare = {"license_key": key, "domain": "a.com"}
    # the EDD endpoint on /: a request with arguments but no edd_action is no EDD
    send("get", "/", "/?license=abc")
    # EDD's changelog view (?changelog=1) of a product that does not exist
    for method in ("get", "post"):
        for path in ("/", "/edd/{vendor}/"):
            send(method, path, concrete(path) + "?changelog=1&download=nothing")
    # routes of a product that does not exist, and a malformed key on PUC's route
    send(
        "put",
        "/v1/admin/products/{product_id}/edd",
        json={"item_ids": [1], "item_names": ["x"]},
    )
    send("post", "/v1/admin/products/{product_id}/releases", json={"version": "1.0"})
    puc = "/v1/updates/{product}/puc.json"
    send("get", puc, "/v1/updates/jannah/puc.json?license_key=bad&domain=a.com")
    send("get", puc, f"/v1/updates/jannah/puc.json?license_key={key}&domain=a%20b")
    check = {**site, "version": "1.0.0"}
    for changed in ({"license_key": "JAN-1234"}, {"domain": "not a domain"}):
        send("post", "/v1/updates/check", json={**check, **changed})
    send("post", "/v1/updates/check", json={**check, "product": "nope"})
    for endpoint in ("activate", "validate", "deactivate"):
        path, body = f"/v1/{endpoint}", site if endpoint != "deactivate" else bare
        send("post", path, json={**body, "license_key": "JAN-1234"})
        send("post", path, json={**body, "domain": "not a domain"})
        send("post", path, json={**body, "product": "nope"})
    send("post", "/v1/activate", json={**site, "license_key": unknown})
    send("post", "/v1/activate", json={**site, "domain": "b.com"})  # one seat
    send("post", "/v1/deactivate", json={**bare, "license_key": unknown})
    send("post", "/v1/deactivate", json={**bare, "domain": "never.example"})
    send("post", "/v1/admin/products", json={"slug": "other", "name": "Other"})
    send("post", "/v1/activate", json={**site, "product": "other"})
    for state in ("suspend", "revoke", "expire"):
        lic = _license(send, state)
        product = "strict" if state == "expire" else "jannah"
        body = {"license_key": lic["key"], "domain": "z.com", "product": product}
        send("post", "/v1/activate", json=body)
    # admin services
    send("post", "/v1/admin/products", json={"slug": "jannah", "name": "Again"})
    made = send("post", "/v1/admin/products", json={"slug": "old", "name": "Old"})
    archive = f"/v1/admin/products/{made.get_json()['id']}/archive"
    send("post", "/v1/admin/products/{product_id}/archive", archive)
    for path in ("/v1/admin/licenses", "/v1/admin/licenses/batch"):
        count = {"count": 1} if path.endswith("/batch") else {}
        for product in ("nope", "old"):
            send("post", path, json={"product": product, **count})
    lic_path, acts = "/v1/admin/licenses", "/v1/admin/activations"
    for query in (
        "key=JAN-1234",
        "domain=not%20a%20domain",
        "product=nope",
        "cursor=x",
    ):
        send("get", lic_path, f"{lic_path}?{query}")
    search = f"{lic_path}/search"  # the same filters in a body
    for body in (
        {"key": "JAN-1234"},
        {"domain": "not a domain"},
        {"product": "nope"},
        {"cursor": "x"},
    ):
        send("post", search, json=body)
    send("get", acts, f"{acts}?domain=not%20a%20domain")
    send("get", acts, f"{acts}?cursor=x")
    send("get", "/v1/admin/events", "/v1/admin/events?cursor=x")
    listed = send("get", lic_path, lic_path).get_json()["data"][0]["id"]
    send(
        "get",
        f"{lic_path}/{{license_id}}/activations",
        f"{lic_path}/{listed}/activations?cursor=x",
    )
    status = f"{lic_path}/{{license_id}}/reinstate"
    send("post", status, f"{lic_path}/{listed}/reinstate")  # an active license
    revoked = _license(send, "revoke")["id"]
    for change in ("suspend", "revoke"):
        send(
            "post",
            f"{lic_path}/{{license_id}}/{change}",
            f"{lic_path}/{revoked}/{change}",
        )
    keys = "/v1/admin/signing-keys"
    active = next(
        k for k in send("get", keys).get_json()["data"] if k["status"] == "active"
    )
    send("post", f"{keys}/{{key_id}}/retire", f"{keys}/{active['id']}/retire")
    prepared = send("post", keys).get_json()["id"]
    send("post", f"{keys}/{{key_id}}/retire", f"{keys}/{prepared}/retire")
    send("post", f"{keys}/{{key_id}}/activate", f"{keys}/{prepared}/activate")
    send("get", "/v1/vendors/{vendor}/jwks.json", "/v1/vendors/nope/jwks.json")
    # the fourth deactivation of one license in a day
    moving = send("post", lic_path, json={"product": "jannah"}).get_json()["key"]
    for number in range(4):
        domain = f"move-{number}.example"
        send(
            "post",
            "/v1/activate",
            json={**site, "license_key": moving, "domain": domain},
        )
        send("post", "/v1/deactivate", json={"license_key": moving, "domain": domain})
    channel_errors(send)


def channel_errors(send: Callable[..., Any]) -> None:
    """The sales channels' admin and inbound errors (docs/CHANNELS.md)."""
    base = "/v1/admin/channels"
    send("get", f"{base}/events", f"{base}/events?cursor=x")
    send("post", f"{base}/connections", json={"kind": "stripe", "name": "S"})
    mappings = f"{base}/connections/{{connection_id}}/mappings"
    mapping = {"external_id": "77", "product": "jannah"}
    send("post", mappings, json=mapping)
    made = send(
        "post", f"{base}/connections", json={"kind": "generic", "name": "G"}
    ).get_json()
    own = f"{base}/connections/{made['id']}/mappings"
    send("post", mappings, own, json={**mapping, "product": "nope"})
    send("post", mappings, own, json=mapping)
    send("post", mappings, own, json=mapping)
    send("put", f"{base}/envato/products/{{product_id}}", json={"item_id": 1})
    inbound, url = "/v1/channels/{connection_id}/events", made["inbound_url"]
    body = b'{"type": "order.paid", "data": {}}'
    send("post", inbound, url, data=body, content_type="application/json")
    old = int(time.time()) - 3600
    for stamp, content in ((old, body), (int(time.time()), body)):
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign_generic(made["secret"], "msg_1", content, stamp),
        }
        send("post", inbound, url, data=content, headers=headers)
    send("post", inbound, url, data=b"x" * (1024 * 1024 + 10))


def _license(send: Callable[..., Any], state: str) -> dict[str, Any]:
    """Issue a license and bring it to ``state`` (suspend, revoke or expire)."""
    product, fields = "jannah", {}
    if state == "expire":
        product, fields = "strict", {"expires_at": "2020-01-01T00:00:00Z"}
        strict = {"slug": product, "name": "Strict", "expiry_policy": "restrict"}
        send("post", "/v1/admin/products", json=strict)
    issued: dict[str, Any] = send(
        "post", "/v1/admin/licenses", json={"product": product, **fields}
    ).get_json()
    if state in ("suspend", "revoke"):
        path = f"/v1/admin/licenses/{issued['id']}/{state}"
        send("post", "/v1/admin/licenses/{license_id}/" + state, path)
    return issued


def generated_key() -> str:
    from license_server.keys import generate_key

    return str(generate_key())


def rate_limits(tmp_path: Path, template: Path, spec: dict[str, Any]) -> set[Pair]:
    """Every public operation answers RATE_LIMITED past its limit."""
    shutil.copy(template, tmp_path / "limited.sqlite3")
    database_url = f"sqlite:///{tmp_path / 'limited.sqlite3'}"
    limits = {
        f"RATELIMIT_{name}": "1/minute"
        for name in (
            "ACTIVATE",
            "VALIDATE",
            "DEACTIVATE",
            "JWKS",
            "UPDATE_CHECK",
            "DOWNLOAD",
            "CHANGELOG",
            "CHANNEL_EVENTS",
        )
    }
    app = make_app(database_url, tmp_path / "limited", **limits)
    recorder = Recorder(app.test_client(), {})
    for method, path, _ in operations(spec):
        public = path.startswith("/v1/") and not path.startswith("/v1/admin")
        if public or path.startswith("/edd-sl/"):
            for _ in range(2):
                recorder.send(method, path, json={})
    return recorder.seen


def test_documented_errors_are_answered_and_answers_are_documented(
    world: World, tmp_path: Path, sqlite_template: Path
) -> None:
    spec = world.client.get("/openapi.json").get_json()
    recorder = Recorder(world.client, world.secrets)
    layer_errors(recorder, spec)
    service_errors(world.app, recorder)
    seen = {pair for pair in recorder.seen if pair[3]}
    seen |= rate_limits(tmp_path, sqlite_template, spec)
    listed = documented(spec)
    assert sorted(seen - listed) == [], "answered but not documented"
    missing = {pair for pair in listed - seen if pair[3] not in RAISED_ELSEWHERE}
    assert sorted(missing) == [], (
        f"documented but never answered here: {sorted(missing)}"
    )


def test_public_operations_come_first_and_every_error_is_listed(
    client: FlaskClient,
) -> None:
    spec = client.get("/openapi.json").get_json()
    assert [tag["name"] for tag in spec["tags"]][0] == "public"
    assert next(iter(spec["paths"])).startswith("/v1/activate")
    for method, path, operation in operations(spec):
        for status, answer in operation["responses"].items():
            assert status != "default", (method, path)
            if int(status) >= 400:
                pairs = documented_codes({"responses": {status: answer}})
                assert pairs, (method, path, status)
                examples = answer["content"]["application/json"]["examples"]
                assert {code for _, code in pairs} == set(examples)
