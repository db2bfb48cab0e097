"""Fixtures for the web pages: staff users made by the service, signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from license_server import runtime
from license_server.services import staff
from tests.client.conftest import LiveServer, serve
from tests.conftest import VendorFixture, new_vendor

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Staff:
    """A staff user and a test client signed in as them."""

    email: str
    role: str
    client: FlaskClient
    vendor: VendorFixture

    def csrf(self, path: str = "/dashboard/account") -> str:
        """Return a CSRF token of this client's session."""
        return csrf_of(self.client, path)

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        """POST a form with this session's CSRF token."""
        form = {"csrf_token": self.csrf(), **(data or {})}
        return self.client.post(path, data=form, **kw)


def csrf_of(client: FlaskClient, path: str) -> str:
    """Read the CSRF token from a page's form."""
    page = client.get(path).get_data(as_text=True)
    found = CSRF.search(page)
    assert found, page[:500]
    return found.group(1)


def add_staff(app: Flask, vendor: VendorFixture, email: str, role: str) -> None:
    """Create a staff user through the service."""
    with app.app_context():
        staff.create_user(
            keyring=runtime.of(app).keyring,
            vendor_id=vendor.new.vendor.id,
            email=email,
            role=role,
            password=PASSWORD,
            actor="test",
            now=datetime.now(UTC),
            hasher=runtime.of(app).password_hasher,
        )


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    """Sign a test client in through the login form."""
    token = csrf_of(client, "/dashboard/login")
    return client.post(
        "/dashboard/login",
        data={"csrf_token": token, "email": email, "password": password},
    )


def signed_in(app: Flask, vendor: VendorFixture, role: str, email: str = "") -> Staff:
    """A new staff user of ``role`` and a client signed in as them."""
    email = email or f"{role}@{vendor.slug}.example"
    add_staff(app, vendor, email, role)
    client = app.test_client()
    response = sign_in(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return Staff(email, role, client, vendor)


@pytest.fixture
def owner(app: Flask, vendor: VendorFixture) -> Staff:
    """An owner of ``vendor``, signed in."""
    return signed_in(app, vendor, "owner")


@pytest.fixture
def other_vendor(app: Flask) -> VendorFixture:
    """A second vendor."""
    return new_vendor(app, "Other Shop")


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test app on a real local port (127.0.0.1)."""
    running = serve(app)
    yield running
    running.stop()
