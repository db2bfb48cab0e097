"""``license-server users``: the first dashboard account, and reset links."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import click

from license_server.cli import _app_context, emit, json_option, keyring_of, main
from license_server.models.users import StaffRole

ROLES = [str(role) for role in StaffRole]
SIGN_IN = "/dashboard/login"


@main.group()
def users() -> None:
    """Dashboard user commands."""


@users.command("create")
@click.argument("vendor")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="owner", show_default=True)
@click.option("--name", default="", help="The person's name.")
@click.password_option(
    "--password", envvar="LICENSE_SERVER_NEW_PASSWORD", help="At least 12 characters."
)
@json_option
def users_create(
    vendor: str, email: str, role: str, name: str, password: str, as_json: bool
) -> None:
    """Create a dashboard account for VENDOR (its slug) with a password."""
    from license_server import runtime
    from license_server.services import staff
    from license_server.services.vendors import vendor_by_slug

    with _app_context() as app:
        # an APIError (unknown vendor, e-mail taken, short password): one line
        found = vendor_by_slug(vendor)
        user = staff.create_user(
            keyring=keyring_of(app),
            vendor_id=found.id,
            email=email,
            role=role,
            password=password,
            name=name,
            actor="cli",
            now=datetime.now(UTC),
            hasher=runtime.of(app).password_hasher,
        )
        shown = {
            "id": str(user.id),
            "email": user.email,
            "name": user.name,
            "role": str(user.role),
            "vendor": found.slug,
        }

    def lines() -> Iterator[str]:
        yield f"User {shown['email']} ({shown['role']}) created for vendor {vendor}."
        yield f"Sign in at {SIGN_IN}"

    emit(as_json, {"user": shown, "sign_in": SIGN_IN}, lines)
