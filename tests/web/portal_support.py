"""Shared pieces of the portal tests: a shop with customers, links from the outbox."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from license_server import runtime
from license_server.extensions import db
from license_server.models.portal import MailMessage
from tests.conftest import (
    VendorFixture,
    create_license,
    create_product,
    new_vendor,
    public_call,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PUBLIC_URL = "http://portal.test"


@dataclass
class Shop:
    """Two vendors; Ann holds two licences at Acme and one at Other; Bob one."""

    vendor: VendorFixture
    other: VendorFixture
    ann: dict[str, Any]  # Acme's 3-seat licence, sites old-site.com, second-site.com
    ann_spare: dict[str, Any]  # Acme's 1-seat licence, no site
    bob: dict[str, Any]  # Acme, bob@example.com, site bob-site.com
    ann_other: dict[str, Any]  # Other Shop, ann@example.com, site ann-other.com
    product_id: str  # Acme's jannah

    @property
    def slug(self) -> str:
        return self.vendor.slug


def build_shop(app: Flask, client: FlaskClient, vendor: VendorFixture) -> Shop:
    """Create the two vendors' products, licences and sites."""
    product = create_product(client, vendor, max_domains=1)
    ann = create_license(
        client, vendor, customer_email="Ann@Example.com", max_domains=3
    )
    spare = create_license(client, vendor, customer_email="ann@example.com")
    bob = create_license(client, vendor, customer_email="bob@example.com")
    other = new_vendor(app, "Other Shop")
    create_product(client, other, slug="other-theme", name="Other", key_prefix="OTH")
    ann_other = create_license(
        client, other, product="other-theme", customer_email="ann@example.com"
    )
    for license, domain, slug in (
        (ann, "old-site.com", "jannah"),
        (ann, "second-site.com", "jannah"),
        (bob, "bob-site.com", "jannah"),
        (ann_other, "ann-other.com", "other-theme"),
    ):
        status, body = public_call(
            client,
            "activate",
            license_key=license["key"],
            domain=domain,
            product=slug,
        )
        assert status == 201, body
    return Shop(vendor, other, ann, spare, bob, ann_other, product["id"])


def csrf(client: FlaskClient, path: str) -> str:
    """Read the CSRF token of a page's form."""
    page = client.get(path).get_data(as_text=True)
    found = CSRF.search(page)
    assert found, page[:400]
    return found.group(1)


def post(client: FlaskClient, path: str, form_page: str, **data: Any) -> Any:
    """POST a portal form with the CSRF token of ``form_page``."""
    return client.post(path, data={"csrf_token": csrf(client, form_page), **data})


def ask_link(client: FlaskClient, slug: str, email: str) -> Any:
    """Ask for a sign-in link through the form."""
    page = f"/portal/{slug}/sign-in"
    return post(client, page, page, email=email)


def mailed(app: Flask, template: str | None = None) -> list[dict[str, Any]]:
    """Return the queued mails with their opened secrets, oldest first."""
    keyring = runtime.of(app).keyring
    found = []
    with app.app_context():
        for row in db.session.scalars(
            select(MailMessage).order_by(MailMessage.created_at)
        ):
            values = dict(row.context)
            if row.secret_sealed is not None:
                opened = keyring.open_mail_secret(
                    row.secret_sealed, vendor_id=row.vendor_id, mail_id=row.id
                )
                values.update(json.loads(opened))
            if template is None or row.template == template:
                found.append({"to": row.to_addr, "template": row.template, **values})
    return found


def link_path(app: Flask, index: int = -1) -> str:
    """Return the path of a mailed sign-in link (the last one by default)."""
    link: str = mailed(app, "signin_link")[index]["link"]
    assert link.startswith(PUBLIC_URL + "/portal/")
    return link.removeprefix(PUBLIC_URL)


def sign_in(app: Flask, client: FlaskClient, slug: str, email: str) -> None:
    """Sign a test client in through a mailed link."""
    assert ask_link(client, slug, email).status_code == 200
    path = link_path(app)
    response = post(client, path, path)
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
