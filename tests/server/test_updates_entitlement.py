"""The entitlement table: every rule, its order, and the not-entitled answers.

Each row builds releases and a licence through the admin API, asks
``/v1/updates/check`` once, and compares the answer's decision fields.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from license_server import keys
from license_server.updates.rules import in_rollout
from tests.conftest import VendorFixture, create_license
from tests.server.updates_support import (
    ADMIN,
    activate,
    check,
    publish,
    set_published_at,
)

NOW = datetime.now(UTC)


@dataclass
class Case:
    """One row: releases (version -> options), licence set-up, request, expectation."""

    releases: dict[str, dict[str, Any]]
    expect: tuple[str, bool, str | None]  # new_version, has package, reason code
    licence: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] | None = None
    status: str | None = None  # revoke / suspend
    product: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    activate: bool = True
    yank: tuple[str, ...] = ()
    latest: str | None = None
    channel: str = "stable"


def _days(n: int) -> str:
    return (NOW + timedelta(days=n)).isoformat()


CASES = {
    # rule 1: the licence is VALID on this domain (the validate decision, in order)
    "valid": Case({"1.1.0": {}}, ("1.1.0", True, None)),
    "not activated here": Case(
        {"1.1.0": {}}, ("1.1.0", False, "DOMAIN_NOT_ACTIVATED"), activate=False
    ),
    "unknown key": Case(
        {"1.1.0": {}}, ("1.1.0", False, "NOT_FOUND"), request={"unknown_key": True}
    ),
    "revoked": Case({"1.1.0": {}}, ("1.1.0", False, "REVOKED"), status="revoke"),
    "suspended": Case({"1.1.0": {}}, ("1.1.0", False, "SUSPENDED"), status="suspend"),
    "expired, product restricts": Case(
        {"1.1.0": {}},
        ("1.1.0", False, "EXPIRED"),
        licence={"expires_at": _days(-1)},
        product={"expiry_policy": "restrict"},
    ),
    "revoked beats updates expired": Case(
        {"1.1.0": {}},
        ("1.1.0", False, "REVOKED"),
        status="revoke",
        licence={"updates_until": _days(-30)},
    ),
    # rule 2: published on or before updates_until
    "lapsed keeps what it was entitled to": Case(
        {"1.0.5": {"published": -60}, "1.1.0": {"published": -1}},
        ("1.0.5", True, "UPDATES_EXPIRED"),
        licence={"expires_at": _days(-30), "updates_until": _days(-30)},
        latest="1.1.0",
    ),
    "lapsed, nothing entitled": Case(
        {"1.1.0": {"published": -1}},
        ("1.1.0", False, "UPDATES_EXPIRED"),
        licence={"updates_until": _days(-30)},
    ),
    "updates expired beats PHP too old": Case(
        {"1.1.0": {"published": -1, "requires_php": "8.3"}},
        ("1.1.0", False, "UPDATES_EXPIRED"),
        licence={"updates_until": _days(-30)},
        request={"php_version": "7.4.33"},
    ),
    # channels
    "beta asked and allowed": Case(
        {"1.1.0": {}, "1.2.0-beta1": {"channel": "beta"}},
        ("1.2.0-beta1", True, None),
        request={"channel": "beta"},
        channel="beta",
    ),
    "stable asked: no beta": Case(
        {"1.1.0": {}, "1.2.0-beta1": {"channel": "beta"}}, ("1.1.0", True, None)
    ),
    "beta not allowed for the licence": Case(
        {"1.1.0": {}, "1.2.0-beta1": {"channel": "beta"}},
        ("1.1.0", True, None),
        rules={"channels": ["stable"]},
        request={"channel": "beta"},
    ),
    "beta not allowed for the product": Case(
        {"1.1.0": {}, "1.2.0-beta1": {"channel": "beta"}},
        ("1.1.0", True, None),
        settings={"channels": ["stable"]},
        request={"channel": "beta"},
    ),
    # rule 3: per-licence maximum version
    "version cap": Case(
        {"1.0.5": {}, "1.1.0": {}},
        ("1.0.5", True, "VERSION_NOT_COVERED"),
        rules={"max_version": "1.0.9"},
        latest="1.1.0",
    ),
    # rule 4: requirements met by the reported versions
    "PHP too old falls back": Case(
        {"1.0.5": {"requires_php": "7.4"}, "1.1.0": {"requires_php": "8.1"}},
        ("1.0.5", True, "PHP_TOO_OLD"),
        request={"php_version": "7.4.33"},
        latest="1.1.0",
    ),
    "WP too old, nothing fits": Case(
        {"1.1.0": {"requires": "6.5"}},
        ("1.1.0", False, "WP_TOO_OLD"),
        request={"wp_version": "6.1.9"},
    ),
    "unreported versions pass": Case(
        {"1.1.0": {"requires": "6.5", "requires_php": "8.3"}}, ("1.1.0", True, None)
    ),
    # rule 5: staged rollout hides, never refuses
    "rollout 0% hides the newest": Case(
        {"1.0.5": {}, "1.1.0": {"rollout_percent": 0}}, ("1.0.5", True, None)
    ),
    "product rollout 0% hides everything": Case(
        {"1.1.0": {}}, ("1.0.0", False, None), settings={"rollout_percent": 0}
    ),
    # yanks
    "yanked newest is never offered": Case(
        {"1.0.5": {}, "1.1.0": {}}, ("1.0.5", True, None), yank=("1.1.0",)
    ),
    "site on a yanked version gets the newest good one": Case(
        {"0.9.0": {}, "1.0.0": {}},
        ("0.9.0", True, None),
        yank=("1.0.0",),
    ),
    "nothing newer": Case({"0.9.0": {}}, ("1.0.0", False, None)),
}


def _apply(
    app: Flask, client: FlaskClient, vendor: VendorFixture, case: Case
) -> dict[str, Any]:
    headers = vendor.headers
    product = client.post(
        f"{ADMIN}/products",
        json={"slug": "jannah", "name": "Jannah", **case.product},
        headers=headers,
    ).get_json()
    if case.settings:
        response = client.put(
            f"{ADMIN}/products/{product['id']}/updates",
            json=case.settings,
            headers=headers,
        )
        assert response.status_code == 200, response.get_json()
    license = create_license(client, vendor)
    if case.activate:
        activate(client, license["key"])
    if case.licence:
        response = client.patch(
            f"{ADMIN}/licenses/{license['id']}", json=case.licence, headers=headers
        )
        assert response.status_code == 200, response.get_json()
    if case.rules is not None:
        response = client.put(
            f"{ADMIN}/licenses/{license['id']}/updates",
            json=case.rules,
            headers=headers,
        )
        assert response.status_code == 200, response.get_json()
    if case.status:
        url = f"{ADMIN}/licenses/{license['id']}/{case.status}"
        assert client.post(url, headers=headers).status_code == 200
    for version, options in case.releases.items():
        options = dict(options)
        days = options.pop("published", None)
        release = publish(client, vendor, product["id"], version, **options)
        if days is not None:
            set_published_at(app, release["id"], NOW + timedelta(days=days))
        if version in case.yank:
            url = f"{ADMIN}/releases/{release['id']}/yank"
            assert client.post(url, json={}, headers=headers).status_code == 200
    return license


@pytest.mark.parametrize("name", list(CASES))
def test_entitlement_table(
    app: Flask, client: FlaskClient, vendor: VendorFixture, name: str
) -> None:
    case = CASES[name]
    license = _apply(app, client, vendor, case)
    request = dict(case.request)
    key = license["key"]
    if request.pop("unknown_key", False):
        key = str(keys.generate_key("JAN"))  # well formed, no licence has it
    answer = check(client, key, **request)
    new_version, has_package, reason = case.expect
    got = (
        answer["new_version"],
        answer["package"] is not None,
        (answer["reason"] or {}).get("code"),
    )
    assert got == (new_version, has_package, reason), answer
    assert answer["entitled"] is has_package
    assert answer["latest_version"] == (case.latest or new_version)
    assert answer["channel"] == case.channel
    if reason is not None:
        assert answer["reason"]["message"].endswith(".")
    if answer["package"] is None and reason is None:
        assert answer["update_available"] is (new_version != "1.0.0")


def test_rollout_is_stable_and_proportional() -> None:
    release = uuid.uuid4()
    subjects = [uuid.uuid4().bytes for _ in range(4000)]
    inside = [in_rollout(s, release, 30) for s in subjects]
    assert 0.26 < sum(inside) / len(inside) < 0.34
    assert inside == [in_rollout(s, release, 30) for s in subjects]  # no flipping
    widened = [in_rollout(s, release, 60) for s in subjects]
    assert all(w for i, w in zip(inside, widened, strict=True) if i)  # only grows
