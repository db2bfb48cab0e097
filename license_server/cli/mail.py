"""``mail templates|template show|set|reset|outbox|retry``: the mail a vendor sends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import func, select

from license_server.cli import _app_context, emit, fail, json_option, main
from license_server.cli.vendors import find_vendor, vendor_option


@main.group("mail")
def mail_group() -> None:
    """Mail to site owners: templates and the outbox (docs/PORTAL.md)."""


@mail_group.command("templates")
@vendor_option
@json_option
def templates_list(vendor_slug: str | None, as_json: bool) -> None:
    """List the templates, and whether the vendor has its own version of each."""
    from license_server.mail import TEMPLATES, templates

    with _app_context():
        vendor = find_vendor(vendor_slug)
        rows = []
        for name, needs in TEMPLATES.items():
            template, own = templates.for_vendor(vendor.id, name)
            rows.append(
                {"name": name, "own": own, "subject": template.subject, "needs": needs}
            )

    def lines() -> Iterator[str]:
        for row in rows:
            kind = "own    " if row["own"] else "default"
            yield f"{row['name']:<18} {kind}  {row['subject']}"

    emit(as_json, {"data": rows}, lines)


@mail_group.command("show")
@vendor_option
@click.argument("name")
@json_option
def template_show(vendor_slug: str | None, name: str, as_json: bool) -> None:
    """Print template NAME as the vendor's mails use it (edit it, then `mail set`)."""
    from license_server.mail import TEMPLATES, templates

    if name not in TEMPLATES:
        fail(f"no mail template {name!r}; one of {', '.join(TEMPLATES)}", "NOT_FOUND")
    with _app_context():
        template, own = templates.for_vendor(find_vendor(vendor_slug).id, name)
    if as_json:
        payload = {
            "name": name,
            "own": own,
            "subject": template.subject,
            "body": template.body,
        }
        emit(True, payload, lambda: iter(()))
        return
    click.echo(f"Subject: {template.subject}\n\n{template.body}", nl=False)


@mail_group.command("set")
@vendor_option
@click.argument("name")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def template_set(
    vendor_slug: str | None, name: str, source: Path, as_json: bool
) -> None:
    """Use the template in file SOURCE for NAME ('Subject: ...', blank line, body)."""
    from license_server.mail import templates

    with _app_context():
        vendor = find_vendor(vendor_slug)
        stored = templates.set_template(
            vendor_id=vendor.id,
            name=name,
            text=source.read_text(encoding="utf-8"),
            now=datetime.now(UTC),
        )
    emit(
        as_json,
        {"name": name, "own": True, "subject": stored.subject},
        lambda: iter([f"{name}: the vendor's own template is stored."]),
    )


@mail_group.command("reset")
@vendor_option
@click.argument("name")
@json_option
def template_reset(vendor_slug: str | None, name: str, as_json: bool) -> None:
    """Go back to the shipped default of template NAME."""
    from license_server.mail import templates

    with _app_context():
        templates.reset_template(vendor_id=find_vendor(vendor_slug).id, name=name)
    emit(
        as_json,
        {"name": name, "own": False},
        lambda: iter([f"{name}: the default template applies."]),
    )


@mail_group.command("outbox")
@vendor_option
@json_option
def outbox(vendor_slug: str | None, as_json: bool) -> None:
    """Count the vendor's mails by state; list the pending and failed ones."""
    from license_server.extensions import db
    from license_server.models.portal import MailMessage, MailState

    with _app_context():
        vendor = find_vendor(vendor_slug)
        counts = dict(
            db.session.execute(
                select(MailMessage.state, func.count())
                .where(MailMessage.vendor_id == vendor.id)
                .group_by(MailMessage.state)
            ).all()
        )
        waiting = db.session.scalars(
            select(MailMessage)
            .where(
                MailMessage.vendor_id == vendor.id,
                MailMessage.state != MailState.SENT,
            )
            .order_by(MailMessage.created_at)
            .limit(100)
        )
        rows = [
            {
                "id": str(m.id),
                "template": m.template,
                "state": m.state,
                "tries": m.tries,
                "next_attempt_at": m.next_attempt_at.isoformat(),
                "last_error": m.last_error,
            }
            for m in waiting
        ]
    payload = {"counts": counts, "data": rows}

    def lines() -> Iterator[str]:
        yield "  ".join(f"{state}: {n}" for state, n in sorted(counts.items())) or (
            "No mail yet."
        )
        for row in rows:
            yield (
                f"{row['id']}  {row['template']:<18} {row['state']:<8} "
                f"tries {row['tries']}  next {row['next_attempt_at']}  "
                f"{row['last_error'] or ''}"
            )

    emit(as_json, payload, lines)


@mail_group.command("retry")
@vendor_option
@click.argument("mail_id", type=click.UUID)
@json_option
def retry(vendor_slug: str | None, mail_id: uuid.UUID, as_json: bool) -> None:
    """Send a pending mail now (its wait is skipped)."""
    from license_server.extensions import db
    from license_server.models.portal import MailMessage, MailState

    with _app_context():
        vendor = find_vendor(vendor_slug)
        found = db.session.scalar(
            select(MailMessage).where(
                MailMessage.vendor_id == vendor.id, MailMessage.id == mail_id
            )
        )
        if found is None or found.state != MailState.PENDING:
            fail("no pending mail with this id for this vendor", "NOT_FOUND")
        found.next_attempt_at = datetime.now(UTC)
        db.session.commit()
        payload = {
            "id": str(found.id),
            "state": found.state,
            "next_attempt_at": found.next_attempt_at.isoformat(),
        }
    emit(as_json, payload, lambda: iter(["The worker sends it at its next round."]))
