"""Dashboard pages through the test client: roles, CSRF, sessions, sign-in, actions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from license_server.extensions import db
from license_server.models import Activation, Event, License
from license_server.models.users import StaffUser, WebSession
from tests.conftest import VendorFixture, create_license, public_call
from tests.web.conftest import PASSWORD, Staff, add_staff, sign_in, signed_in


def _activate(client: FlaskClient, key: str, domain: str) -> None:
    status, body = public_call(
        client, "activate", license_key=key, domain=domain, product="jannah"
    )
    assert status in {200, 201}, body


def _live_domains(app: Flask, license_id: str) -> set[str]:
    with app.app_context():
        rows = db.session.scalars(
            select(Activation.domain).where(
                Activation.license_id == uuid.UUID(license_id),
                Activation.deactivated_at.is_(None),
            )
        )
        return set(rows)


def _site_id(app: Flask, domain: str) -> str:
    with app.app_context():
        found = db.session.scalar(
            select(Activation.id).where(Activation.domain == domain)
        )
    return str(found)


def test_support_finds_by_email_and_moves_a_site(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: Any
) -> None:
    license = create_license(client, vendor, customer_email="ann@example.com")
    _activate(client, license["key"], "old-site.com")
    support = signed_in(app, vendor, "support")
    page = support.client.get("/dashboard/licenses?q=ann@example.com")
    assert license["id"] in page.get_data(as_text=True)
    response = support.post(
        f"/dashboard/activations/{_site_id(app, 'old-site.com')}/move",
        {"domain": "New-Site.com"},
    )
    assert response.status_code == 302
    assert _live_domains(app, license["id"]) == {"new-site.com"}
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.role == "support"))
        actors = set(
            db.session.scalars(
                select(Event.actor).where(Event.action.like("activation.%"))
            )
        )
    assert f"user:{user.id}" in actors if user else False
    status, answer = public_call(
        client,
        "validate",
        license_key=license["key"],
        domain="new-site.com",
        product="jannah",
    )
    assert answer["code"] == "VALID"
    overview = support.client.get("/dashboard/overview/daily.csv").get_data(
        as_text=True
    )
    today = datetime.now(UTC).date().isoformat()
    assert f"{today},2,1," in overview  # two activations, one deactivation today


def test_search_by_key_domain_and_name(
    app: Flask,
    client: FlaskClient,
    vendor: VendorFixture,
    product: Any,
    owner: Staff,
) -> None:
    wanted = create_license(client, vendor, customer_name="Bea Lopez")
    other = create_license(client, vendor, customer_name="Carl")
    _activate(client, wanted["key"], "bea.example.org")
    for query in (wanted["key"], "bea.example.org", "lopez"):
        page = owner.client.get("/dashboard/licenses", query_string={"q": query})
        text = page.get_data(as_text=True)
        assert wanted["id"] in text and other["id"] not in text, query


def test_viewer_sees_no_key_and_cannot_act(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: Any
) -> None:
    _activate(client, license["key"], "viewer-test.com")
    viewer = signed_in(app, vendor, "viewer")
    page = viewer.client.get(f"/dashboard/licenses/{license['id']}")
    text = page.get_data(as_text=True)
    assert license["key"] not in text
    assert "Show the key" not in text and "Deactivate" not in text
    site = _site_id(app, "viewer-test.com")
    for path in (
        f"/dashboard/licenses/{license['id']}/key",
        f"/dashboard/activations/{site}/deactivate",
        f"/dashboard/licenses/{license['id']}/status/suspend",
    ):
        response = viewer.post(path, {"confirm": "yes"})
        assert response.status_code == 403, path
        assert license["key"] not in response.get_data(as_text=True)
    assert _live_domains(app, license["id"]) == {"viewer-test.com"}


def test_support_cannot_reach_keys_or_users(app: Flask, vendor: VendorFixture) -> None:
    support = signed_in(app, vendor, "support")
    for path in ("/dashboard/api-keys", "/dashboard/signing-keys", "/dashboard/users"):
        assert support.client.get(path).status_code == 403, path
    response = support.post("/dashboard/api-keys", {"name": "x", "scope": "write"})
    assert response.status_code == 403
    assert "API keys" not in support.client.get("/dashboard/").get_data(as_text=True)


def test_post_without_csrf_is_refused(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: Any, owner: Staff
) -> None:
    path = f"/dashboard/licenses/{license['id']}/status/suspend"
    for form in ({}, {"csrf_token": "forged"}):
        response = owner.client.post(path, data=form)
        assert response.status_code == 400
        assert "reload the page" in response.get_data(as_text=True)
    with app.app_context():
        found = db.session.get(License, uuid.UUID(license["id"]))
        assert found is not None and found.status == "active"
    assert owner.post(path).status_code == 302


def test_idle_session_expires(app: Flask, vendor: VendorFixture, owner: Staff) -> None:
    assert owner.client.get("/dashboard/").status_code == 200
    with app.app_context():
        db.session.execute(
            update(WebSession).values(
                last_seen_at=datetime.now(UTC) - timedelta(hours=1)
            )
        )
        db.session.commit()
    response = owner.client.get("/dashboard/")
    assert response.status_code == 302
    assert "/dashboard/login" in response.headers["Location"]
    with app.app_context():
        assert db.session.scalars(select(WebSession)).all() == []


def test_sign_out_everywhere_ends_other_browsers(
    app: Flask, vendor: VendorFixture, owner: Staff
) -> None:
    laptop = app.test_client()
    assert sign_in(laptop, owner.email).status_code == 302
    assert laptop.get("/dashboard/").status_code == 200
    assert owner.post("/dashboard/logout-everywhere").status_code == 302
    assert laptop.get("/dashboard/").status_code == 302
    assert owner.client.get("/dashboard/").status_code == 302


def test_sign_in_throttle_tells_nothing_about_accounts(
    app: Flask, vendor: VendorFixture
) -> None:
    add_staff(app, vendor, "real@example.com", "owner")
    answers = {}
    for email in ("real@example.com", "nobody@example.com"):
        client = app.test_client()
        for _ in range(5):
            wrong = sign_in(client, email, "wrong password!!")
            assert wrong.status_code == 401
        answers[email] = (wrong.get_data(as_text=True), sign_in(client, email))
    (real_401, real_6th), (ghost_401, ghost_6th) = answers.values()
    assert _message(real_401) == _message(ghost_401)
    assert real_6th.status_code == ghost_6th.status_code == 429  # even the right one
    assert _message(real_6th.get_data(as_text=True)) == _message(
        ghost_6th.get_data(as_text=True)
    )


def _message(page: str) -> str:
    found = re.search(r'role="alert"><p>([^<]+)</p>', page)
    assert found, page
    return found.group(1)


def test_invitation_link_works_once(
    app: Flask, vendor: VendorFixture, owner: Staff
) -> None:
    page = owner.post(
        "/dashboard/users/invite", {"email": "new@example.com", "role": "support"}
    )
    link = re.search(
        r'id="link">http://[^/]+(/dashboard/invite/[^<]+)<', page.get_data(as_text=True)
    )
    assert link
    guest = app.test_client()
    form = {"name": "Nia", "password": PASSWORD, "password_again": PASSWORD}
    from tests.web.conftest import csrf_of

    token = csrf_of(guest, link.group(1))
    assert (
        guest.post(link.group(1), data={**form, "csrf_token": token}).status_code == 302
    )
    assert sign_in(app.test_client(), "new@example.com").status_code == 302
    assert guest.get(link.group(1)).status_code == 404


def test_reset_link_sets_password_and_ends_sessions(
    app: Flask, vendor: VendorFixture, owner: Staff
) -> None:
    support = signed_in(app, vendor, "support")
    with app.app_context():
        user_id = db.session.scalar(
            select(StaffUser.id).where(StaffUser.role == "support")
        )
    page = owner.post(f"/dashboard/users/{user_id}/reset-link").get_data(as_text=True)
    path = re.search(r'id="link">http://[^/]+(/dashboard/reset/[^<]+)<', page)
    assert path
    guest = app.test_client()
    from tests.web.conftest import csrf_of

    new = "a brand new passphrase"
    token = csrf_of(guest, path.group(1))
    form = {"csrf_token": token, "password": new, "password_again": new}
    assert guest.post(path.group(1), data=form).status_code == 302
    assert support.client.get("/dashboard/").status_code == 302
    assert sign_in(app.test_client(), support.email).status_code == 401
    assert sign_in(app.test_client(), support.email, new).status_code == 302


def test_totp_second_factor(app: Flask, vendor: VendorFixture, owner: Staff) -> None:
    page = owner.client.get("/dashboard/account/totp").get_data(as_text=True)
    secret = re.search(r'class="secret">([A-Z2-7]+)<', page)
    assert secret
    totp = pyotp.TOTP(secret.group(1))
    response = owner.post("/dashboard/account/totp", {"code": totp.now()})
    assert response.status_code == 302
    browser = app.test_client()
    assert sign_in(browser, owner.email).headers["Location"].endswith("/dashboard/")
    assert browser.get("/dashboard/").headers["Location"].endswith("/login/code")
    from tests.web.conftest import csrf_of

    token = csrf_of(browser, "/dashboard/login/code")
    replay = browser.post(
        "/dashboard/login/code", data={"csrf_token": token, "code": totp.now()}
    )
    assert replay.status_code == 401  # the enrolment used this step's code
    with app.app_context():
        db.session.execute(update(StaffUser).values(totp_last_step=0))
        db.session.commit()
    good = browser.post(
        "/dashboard/login/code", data={"csrf_token": token, "code": totp.now()}
    )
    assert good.status_code == 302
    assert browser.get("/dashboard/").status_code == 200


def test_batch_issue_downloads_csv_of_keys(
    app: Flask, client: FlaskClient, vendor: VendorFixture, product: Any
) -> None:
    support = signed_in(app, vendor, "support")
    response = support.post(
        "/dashboard/licenses/new",
        {"product": "jannah", "count": "3", "customer_email": "shop@example.com"},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = response.get_data(as_text=True).strip().splitlines()
    assert len(rows) == 4 and rows[0].startswith("id,key,")
    key = rows[1].split(",")[1]
    status, body = public_call(
        client, "activate", license_key=key, domain="batch.com", product="jannah"
    )
    assert status == 201, body


def test_pages_carry_a_strict_csp(app: Flask, vendor: VendorFixture) -> None:
    client = app.test_client()
    response = client.get("/dashboard/login")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["Cache-Control"] == "no-store"
    # the API's answers keep only the app-wide framing rule, not the pages' policy
    api_policy = client.get("/v1/jwks/x").headers.get("Content-Security-Policy")
    assert api_policy == "frame-ancestors 'none'"


def test_support_edits_customer_fields(
    app: Flask, client: FlaskClient, vendor: VendorFixture, license: Any
) -> None:
    support = signed_in(app, vendor, "support")
    path = f"/dashboard/licenses/{license['id']}/edit"
    form = {"customer_name": "Dee", "customer_email": "dee@example.com", "notes": ""}
    assert support.post(path, form).status_code == 302
    bad = support.post(path, {**form, "customer_email": "not an e-mail"})
    assert bad.status_code == 422 and "customer_email" in bad.get_data(as_text=True)
    with app.app_context():
        found = db.session.get(License, uuid.UUID(license["id"]))
        event = db.session.scalars(
            select(Event).where(Event.action == "license.updated")
        ).one()
    assert found is not None and found.customer_email == "dee@example.com"
    assert event.actor.startswith("user:")
    assert event.data["after"] == {
        "customer_name": "Dee",
        "customer_email": "dee@example.com",
    }


def test_unknown_pages_answer_a_page_and_the_api_keeps_json(
    app: Flask, client: FlaskClient
) -> None:
    page = client.get("/dashboard/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "There is no page at this address" in page.get_data(as_text=True)
    api = client.get("/v1/no-such-endpoint")
    assert api.status_code == 404 and api.get_json()["code"] == "NOT_FOUND"
