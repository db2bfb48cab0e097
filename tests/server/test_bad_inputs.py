"""Every bad input gets its documented status and code, and changes nothing.

One table across the public and admin endpoints: malformed bodies, wrong types,
out-of-range numbers, huge strings, bad enums, naive datetimes, bad UUIDs in
paths, bad credentials. Each case asserts the status, the code, the protocol's
error shape, and that no row of any table changed (a full dump before and after).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from license_server.api.raises import documented_codes
from tests.conftest import BACKENDS
from tests.server.hardening_support import World, record, shared_world, snapshot

KEY = "{key}"  # replaced by the fixture license's key
UNKNOWN_KEY = "JAN-00000-00000-00000-00000-00000"
SITE = {"license_key": KEY, "domain": "a.com", "product": "jannah"}
JSON = "application/json"
MALFORMED, INVALID_KEY, INVALID_DOMAIN = (
    "MALFORMED_JSON",
    "INVALID_KEY_FORMAT",
    ("INVALID_DOMAIN"),
)
VALIDATION, NOT_FOUND, UNAUTHORIZED = "VALIDATION_ERROR", "NOT_FOUND", "UNAUTHORIZED"


@dataclass
class Case:
    """One bad request and its documented answer."""

    id: str
    method: str
    path: str
    status: int
    code: str
    json: Any = None
    data: str | bytes | None = None
    content_type: str | None = None
    auth: str | None = None  # "write", "read" or a raw Authorization header
    headers: dict[str, str] = field(default_factory=dict)


def public(id: str, endpoint: str, status: int, code: str, **kw: Any) -> Case:
    return Case(id, "POST", f"/v1/{endpoint}", status, code, **kw)


def raw(id: str, data: str | bytes, status: int = 400, code: str = MALFORMED) -> Case:
    return public(id, "validate", status, code, data=data, content_type=JSON)


def site(**changes: Any) -> dict[str, Any]:
    body = {**SITE, **changes}
    return {name: value for name, value in body.items() if value is not ...}


def admin(id: str, method: str, path: str, body: Any, status: int, code: str) -> Case:
    return Case(id, method, f"/v1/admin/{path}", status, code, json=body, auth="write")


def product(**changes: Any) -> dict[str, Any]:
    return {"slug": "new-theme", "name": "New", **changes}


def lic(**changes: Any) -> dict[str, Any]:
    return {"product": "jannah", **changes}


NAIVE = datetime(2030, 1, 1).isoformat()  # noqa: DTZ001 - naive on purpose
LATER = datetime(2030, 1, 1, tzinfo=UTC).isoformat()
NO_ID = str(uuid.UUID(int=1))


def _cursor(values: Any) -> str:
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CASES: list[Any] = [
    # --- bodies that are not one JSON object -----------------------------
    raw("not-json", "{not json"),
    raw("array", "[1, 2]"),
    raw("string", '"license"'),
    raw("number", "42"),
    raw("null", "null"),
    raw("empty", ""),
    raw("whitespace", "  \n "),
    raw("nan", '{"license_key": NaN}'),
    raw("infinity", '{"license_key": -Infinity}'),
    raw("duplicate-key", '{"domain": "a.com", "domain": "b.com"}'),
    raw("lone-surrogate", '{"domain": "\\udc00"}'),
    raw("surrogate-key", '{"\\ud800": 1}'),
    raw("deep-objects", '{"a":' * 40 + "1" + "}" * 40),
    raw("deep-arrays", '{"a":' + "[" * 40 + "]" * 40 + "}"),
    raw("bad-utf8", b'{"domain": "\xff\xfe"}'),
    raw("truncated", '{"license_key": "JAN-'),
    raw("trailing-garbage", '{"domain": "a.com"} x'),
    raw("too-large", '{"a": "' + "x" * 70_000 + '"}', 413, "PAYLOAD_TOO_LARGE"),
    public(
        "form-missing-fields",
        "validate",
        422,
        "VALIDATION_ERROR",
        data="license_key=x",
        content_type="application/x-www-form-urlencoded",
    ),
    public(
        "form-unknown-field",
        "validate",
        422,
        "VALIDATION_ERROR",
        data="license_key=x&domain=a.com&product=jannah&admin=1",
        content_type="application/x-www-form-urlencoded",
    ),
    public(
        "form-field-twice",
        "validate",
        400,
        "MALFORMED_BODY",
        data="license_key=x&license_key=y&domain=a.com&product=jannah",
        content_type="application/x-www-form-urlencoded",
    ),
    Case(
        "admin-form",
        "POST",
        "/v1/admin/products",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        data="slug=x&name=y",
        content_type="application/x-www-form-urlencoded",
        auth="write",
    ),
    public(
        "text-plain",
        "validate",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        data='{"domain": "a.com"}',
        content_type="text/plain",
    ),
    public(
        "no-content-type",
        "activate",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        data='{"domain": "a.com"}',
    ),
    # --- public: fields --------------------------------------------------
    public("unknown-field", "validate", 422, VALIDATION, json=site(admin=True)),
    public("missing-key", "validate", 422, VALIDATION, json=site(license_key=...)),
    public("missing-domain", "activate", 422, VALIDATION, json=site(domain=...)),
    public("missing-product", "activate", 422, VALIDATION, json=site(product=...)),
    public("key-number", "validate", 422, VALIDATION, json=site(license_key=12345)),
    public("key-null", "validate", 422, VALIDATION, json=site(license_key=None)),
    public("key-empty", "validate", 422, VALIDATION, json=site(license_key="")),
    public("key-list", "activate", 422, VALIDATION, json=site(license_key=[KEY])),
    public("key-huge", "validate", 422, VALIDATION, json=site(license_key="A" * 5000)),
    public("domain-object", "validate", 422, VALIDATION, json=site(domain={"a": 1})),
    public("domain-huge", "activate", 422, VALIDATION, json=site(domain="a" * 3000)),
    public("product-huge", "validate", 422, VALIDATION, json=site(product="p" * 65)),
    public("product-number", "validate", 422, VALIDATION, json=site(product=7)),
    public("nonce-empty", "validate", 422, VALIDATION, json=site(nonce="")),
    public("nonce-huge", "validate", 422, VALIDATION, json=site(nonce="n" * 129)),
    public("version-huge", "validate", 422, VALIDATION, json=site(version="1" * 65)),
    public(
        "environment-huge", "activate", 422, VALIDATION, json=site(environment="e" * 33)
    ),
    public(
        "environment-bool", "activate", 422, VALIDATION, json=site(environment=True)
    ),
    public("deactivate-product", "deactivate", 422, VALIDATION, json=site()),
    # --- public: well-formed fields with bad values ------------------------
    public(
        "key-typo",
        "validate",
        400,
        INVALID_KEY,
        json=site(license_key="JAN-00000-00000-00000-00000-00001"),
    ),
    public("key-short", "activate", 400, INVALID_KEY, json=site(license_key="JAN-1")),
    public(
        "key-unicode",
        "activate",
        400,
        INVALID_KEY,
        json=site(license_key="JAN-0000０-00000-00000-00000-00000"),
    ),
    public(
        "key-prefix",
        "deactivate",
        400,
        INVALID_KEY,
        json={"license_key": "J-00000-00000-00000-00000-00000", "domain": "a.com"},
    ),
    public(
        "domain-userinfo",
        "validate",
        400,
        INVALID_DOMAIN,
        json=site(domain="user@a.com"),
    ),
    public(
        "domain-wildcard", "activate", 400, INVALID_DOMAIN, json=site(domain="*.a.com")
    ),
    public(
        "domain-empty-label",
        "activate",
        400,
        INVALID_DOMAIN,
        json=site(domain="a..com"),
    ),
    public(
        "domain-spaces", "validate", 400, INVALID_DOMAIN, json=site(domain="a b.com")
    ),
    public(
        "product-unknown",
        "activate",
        404,
        "PRODUCT_NOT_FOUND",
        json=site(product="nope"),
    ),
    public(
        "activate-unknown-key",
        "activate",
        404,
        NOT_FOUND,
        json=site(license_key=UNKNOWN_KEY),
    ),
    public(
        "activate-no-seat",
        "activate",
        409,
        "ACTIVATION_LIMIT_REACHED",
        json=site(domain="b.com"),
    ),
    public(
        "deactivate-unknown-key",
        "deactivate",
        404,
        NOT_FOUND,
        json={"license_key": UNKNOWN_KEY, "domain": "a.com"},
    ),
    # a key without this domain answers exactly as an unknown key (item 20)
    public(
        "deactivate-other-domain",
        "deactivate",
        404,
        NOT_FOUND,
        json={"license_key": KEY, "domain": "b.com"},
    ),
    public(
        "deactivate-other-vendors-key",
        "deactivate",
        404,
        NOT_FOUND,
        json={"license_key": "{other_key}", "domain": "b.com"},
    ),
    # --- hardening, second pass: numbers, hosts, cursors ---------------------
    raw("int-over-4300-digits", '{"license_key": ' + "9" * 5000 + "}"),
    raw("int-long", '{"nonce": ' + "9" * 200 + "}"),
    raw("float-long", '{"nonce": 0.' + "9" * 5000 + "}"),
    public("domain-empty", "validate", 400, INVALID_DOMAIN, json=site(domain="")),
    public(
        "domain-nul", "activate", 400, INVALID_DOMAIN, json=site(domain="a\x00.com")
    ),
    public("nonce-nul", "validate", 422, VALIDATION, json=site(nonce="a\x00b")),
    # --- routing ------------------------------------------------------------
    Case("validate-get", "GET", "/v1/validate", 405, "METHOD_NOT_ALLOWED"),
    Case("activate-put", "PUT", "/v1/activate", 405, "METHOD_NOT_ALLOWED", json=SITE),
    Case("jwks-unknown-vendor", "GET", "/v1/vendors/nobody/jwks.json", 404, NOT_FOUND),
    Case("nowhere", "GET", "/v1/nowhere", 404, NOT_FOUND),
    # --- admin: credentials -------------------------------------------------
    Case(
        "admin-no-auth", "POST", "/v1/admin/products", 401, UNAUTHORIZED, json=product()
    ),
    Case(
        "admin-basic",
        "POST",
        "/v1/admin/products",
        401,
        UNAUTHORIZED,
        json=product(),
        auth="Basic dXNlcjpwYXNz",
    ),
    Case(
        "admin-bad-key",
        "POST",
        "/v1/admin/products",
        401,
        UNAUTHORIZED,
        json=product(),
        auth="Bearer lsk_" + "A" * 43,
    ),
    Case(
        "admin-license-key-as-token",
        "GET",
        "/v1/admin/licenses",
        401,
        UNAUTHORIZED,
        auth="Bearer " + KEY,
    ),
    Case(
        "admin-read-only-writes",
        "POST",
        "/v1/admin/products",
        403,
        "FORBIDDEN",
        json=product(),
        auth="read",
    ),
    # --- admin: products ------------------------------------------------------
    admin("slug-upper", "POST", "products", product(slug="Theme"), 422, VALIDATION),
    admin("slug-long", "POST", "products", product(slug="a" * 65), 422, VALIDATION),
    admin("slug-dash-end", "POST", "products", product(slug="theme-"), 422, VALIDATION),
    admin("slug-unicode", "POST", "products", product(slug="thème"), 422, VALIDATION),
    admin("slug-missing", "POST", "products", {"name": "X"}, 422, VALIDATION),
    admin(
        "slug-taken", "POST", "products", product(slug="jannah"), 409, "PRODUCT_EXISTS"
    ),
    admin("name-empty", "POST", "products", product(name=""), 422, VALIDATION),
    admin("name-huge", "POST", "products", product(name="N" * 60_000), 422, VALIDATION),
    admin("name-number", "POST", "products", product(name=5), 422, VALIDATION),
    admin(
        "prefix-long",
        "POST",
        "products",
        product(key_prefix="ABCDEFGHI"),
        422,
        VALIDATION,
    ),
    admin(
        "prefix-symbols", "POST", "products", product(key_prefix="A-B"), 422, VALIDATION
    ),
    admin("seats-zero", "POST", "products", product(max_domains=0), 422, VALIDATION),
    admin(
        "seats-negative", "POST", "products", product(max_domains=-1), 422, VALIDATION
    ),
    admin(
        "seats-fraction",
        "POST",
        "products",
        product(slug="fraction", max_domains=1.5),
        422,
        VALIDATION,
    ),
    admin(
        "seats-string", "POST", "products", product(max_domains="5"), 422, VALIDATION
    ),
    admin(
        "seats-word", "POST", "products", product(max_domains="five"), 422, VALIDATION
    ),
    admin(
        "seats-huge", "POST", "products", product(max_domains=10**30), 422, VALIDATION
    ),
    admin(
        "dev-seats-negative",
        "POST",
        "products",
        product(max_dev_domains=-1),
        422,
        VALIDATION,
    ),
    admin("ttl-short", "POST", "products", product(token_ttl=59), 422, VALIDATION),
    admin(
        "grace-negative", "POST", "products", product(grace_period=-1), 422, VALIDATION
    ),
    admin(
        "policy-unknown",
        "POST",
        "products",
        product(expiry_policy="sometimes"),
        422,
        VALIDATION,
    ),
    admin(
        "patterns-string",
        "POST",
        "products",
        product(dev_patterns="staging.*"),
        422,
        VALIDATION,
    ),
    admin(
        "patterns-many",
        "POST",
        "products",
        product(dev_patterns=[f"s{n}.*" for n in range(51)]),
        422,
        VALIDATION,
    ),
    admin(
        "patterns-empty",
        "POST",
        "products",
        product(dev_patterns=[""]),
        422,
        VALIDATION,
    ),
    admin("products-array", "POST", "products", [product()], 400, MALFORMED),
    admin(
        "product-unknown-field",
        "POST",
        "products",
        product(owner="me"),
        422,
        VALIDATION,
    ),
    # --- admin: licenses ------------------------------------------------------
    admin("license-no-product", "POST", "licenses", {}, 422, VALIDATION),
    admin(
        "license-product-unknown",
        "POST",
        "licenses",
        lic(product="nope"),
        404,
        "PRODUCT_NOT_FOUND",
    ),
    admin(
        "license-seats-zero", "POST", "licenses", lic(max_domains=0), 422, VALIDATION
    ),
    admin(
        "license-seats-bool", "POST", "licenses", lic(max_domains=[1]), 422, VALIDATION
    ),
    admin("expires-naive", "POST", "licenses", lic(expires_at=NAIVE), 422, VALIDATION),
    admin(
        "expires-garbage",
        "POST",
        "licenses",
        lic(expires_at="next year"),
        422,
        VALIDATION,
    ),
    admin(
        "expires-number",
        "POST",
        "licenses",
        lic(expires_at=1893456000),
        422,
        VALIDATION,
    ),
    admin(
        "updates-naive", "POST", "licenses", lic(updates_until=NAIVE), 422, VALIDATION
    ),
    admin(
        "email-invalid",
        "POST",
        "licenses",
        lic(customer_email="not-an-email"),
        422,
        VALIDATION,
    ),
    admin(
        "email-huge",
        "POST",
        "licenses",
        lic(customer_email="a" * 320 + "@example.com"),
        422,
        VALIDATION,
    ),
    admin(
        "customer-huge",
        "POST",
        "licenses",
        lic(customer_name="c" * 201),
        422,
        VALIDATION,
    ),
    admin("notes-huge", "POST", "licenses", lic(notes="n" * 10_001), 422, VALIDATION),
    admin(
        "metadata-nested",
        "POST",
        "licenses",
        lic(metadata={"a": {"b": 1}}),
        422,
        VALIDATION,
    ),
    admin(
        "metadata-many",
        "POST",
        "licenses",
        lic(metadata={f"k{n}": n for n in range(51)}),
        422,
        VALIDATION,
    ),
    admin("metadata-list", "POST", "licenses", lic(metadata=[1]), 422, VALIDATION),
    admin("batch-zero", "POST", "licenses/batch", lic(count=0), 422, VALIDATION),
    admin("batch-huge", "POST", "licenses/batch", lic(count=1001), 422, VALIDATION),
    admin(
        "license-expiry-ok-extra",
        "POST",
        "licenses",
        lic(expires_at=LATER, id=NO_ID),
        422,
        VALIDATION,
    ),
    # --- admin: paths and queries -------------------------------------------------
    admin("product-bad-uuid", "GET", "products/not-a-uuid", None, 404, NOT_FOUND),
    admin("product-missing", "GET", f"products/{NO_ID}", None, 404, NOT_FOUND),
    admin("license-bad-uuid", "GET", "licenses/12345", None, 404, NOT_FOUND),
    admin("license-missing", "GET", f"licenses/{NO_ID}", None, 404, NOT_FOUND),
    admin(
        "patch-missing-license",
        "PATCH",
        f"licenses/{NO_ID}",
        {"notes": "x"},
        404,
        NOT_FOUND,
    ),
    admin(
        "deactivate-missing",
        "POST",
        f"activations/{NO_ID}/deactivate",
        None,
        404,
        NOT_FOUND,
    ),
    admin("limit-zero", "GET", "licenses?limit=0", None, 422, VALIDATION),
    admin("limit-huge", "GET", "licenses?limit=101", None, 422, VALIDATION),
    admin("limit-word", "GET", "licenses?limit=ten", None, 422, VALIDATION),
    *[
        admin(
            f"cursor-{name}",
            "GET",
            f"{path}?cursor={_cursor(value)}",
            None,
            422,
            "INVALID_CURSOR",
        )
        for name, path, value in (
            ("naive-time", "licenses", ["2030-01-01T00:00:00", NO_ID]),
            ("object-time", "licenses", [{"a": 1}, NO_ID]),
            ("number-id", "activations", ["2030-01-01T00:00:00+00:00", 7]),
            ("bad-uuid", "activations", ["2030-01-01T00:00:00+00:00", "x"]),
            ("huge-seq", "events", [10**30]),
            ("negative-seq", "events", [-1]),
            ("float-seq", "events", [1.5]),
            ("bool-seq", "events", [True]),
            ("text-seq", "events", ["1"]),
            ("deep", "events", [[[[[[1]]]]]]),
        )
    ],
    admin(
        "cursor-overlong", "GET", "events?cursor=" + "A" * 600, None, 422, VALIDATION
    ),
    Case(
        "admin-int-over-4300-digits",
        "POST",
        "/v1/admin/licenses",
        400,
        MALFORMED,
        data='{"product": "jannah", "max_domains": ' + "1" * 4400 + "}",
        content_type=JSON,
        auth="write",
    ),
]


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[World]:
    """One app per backend for the whole table: every case leaves it unchanged."""
    with shared_world(request, tmp_path_factory, sqlite_template) as built:
        yield built


def _fill(value: Any, key: str, other: str = "") -> Any:
    if isinstance(value, str):
        return value.replace(KEY, key).replace("{other_key}", other)
    if isinstance(value, dict):
        return {name: _fill(item, key, other) for name, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, key, other) for item in value]
    return value


def send(client: FlaskClient, case: Case, secrets: dict[str, str]) -> Any:
    """Send ``case`` with the fixture's key and credentials filled in."""
    headers = dict(case.headers)
    if case.auth:
        headers["Authorization"] = secrets.get(case.auth) or _fill(
            case.auth, secrets["key"]
        )
    kwargs: dict[str, Any] = {"headers": headers}
    if case.json is not None:
        kwargs["json"] = _fill(case.json, secrets["key"], secrets["other_key"])
    if case.data is not None:
        kwargs["data"] = case.data
    if case.content_type is not None:
        kwargs["content_type"] = case.content_type
    return client.open(case.path, method=case.method, **kwargs)


def test_the_table_is_large_and_covers_both_apis() -> None:
    ids = [_case(case).id for case in CASES]
    assert len(ids) == len(set(ids)) >= 60
    assert sum(_case(case).path.startswith("/v1/admin/") for case in CASES) >= 30


def _case(entry: Any) -> Case:
    case: Case = entry.values[0] if hasattr(entry, "values") else entry
    return case


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input(world: World, case: Case) -> None:
    app, client, secrets = world.app, world.client, world.secrets
    before = snapshot(app)
    response = send(client, case, secrets)
    body = response.get_json(silent=True)
    after = snapshot(app)
    documented = (
        response.status_code == case.status
        and isinstance(body, dict)
        and body.get("code") == case.code
        and before == after
    )
    record(
        "bad_input",
        case=case.id,
        status=response.status_code,
        code=(body or {}).get("code"),
        documented=documented,
    )
    assert response.status_code == case.status, body
    assert response.mimetype == "application/json"
    assert isinstance(body, dict) and body["code"] == case.code, body
    assert set(body) >= {"code", "message", "detail", "request_id"}
    assert before == after, "the database changed"
    operation = spec_operation(app, case.method, case.path)
    if operation is not None:  # the answer is in the operation's error list
        assert (case.status, case.code) in documented_codes(operation)


def spec_operation(app: Any, method: str, path: str) -> dict[str, Any] | None:
    """Return the OpenAPI operation a request reaches, or None (no route)."""
    from werkzeug.exceptions import HTTPException

    try:
        rule, _ = app.url_map.bind("localhost").match(
            path.split("?")[0], method, return_rule=True
        )
    except HTTPException:
        return None
    from license_server.api import api_of

    spec = api_of(app).spec.to_dict()
    template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
    found: dict[str, Any] = spec["paths"][template][method.lower()]
    return found
