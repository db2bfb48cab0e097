"""Mail templates: the shipped defaults, a vendor's own versions, rendering.

A template is a ``Subject:`` line, a blank line and a plain-text body, in Jinja
syntax. Vendors' templates run in Jinja's sandbox (no attribute tricks reach
Python), and a new one is refused unless it renders with sample values. Every
template sees ``vendor`` (``name``, ``slug``) besides its own values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import delete, select

from license_server import errors
from license_server.extensions import db
from license_server.mail import TEMPLATES
from license_server.models.portal import MailTemplate
from license_server.services.unit import transactional

MAX_SUBJECT = 200
MAX_BODY = 20_000
SAMPLE: dict[str, Any] = {
    "link": "https://licenses.example.com/portal/acme/link/SAMPLE",
    "expires_minutes": 15,
    "license_key": "JAN-MEHPS-R7VX2-CSPBY-XC0T2-DX7DJ",
    "product_name": "Jannah",
    "customer_name": "Ann Lee",
    "key_hint": "DX7DJ",
    "expires_at": "31 Dec 2027",
    "renewal_url": "https://example.com/renew",
    "restricts": True,
    "old_domain": "old-site.com",
    "new_domain": "new-site.com",
    "portal_url": "https://licenses.example.com/portal/acme/",
    "vendor": {"name": "Acme Themes", "slug": "acme"},
}


@dataclass(frozen=True)
class Template:
    """A template's subject and body sources."""

    subject: str
    body: str


class TemplateInvalid(errors.APIError):
    status_code, code, message = (
        422,
        "TEMPLATE_INVALID",
        "The template does not render.",
    )


def parse(text: str) -> Template:
    """Split ``Subject: ...``, a blank line, and the body."""
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    if not head.startswith("Subject:") or "\n" in head:
        raise TemplateInvalid(
            "A template starts with one 'Subject: ...' line and a blank line."
        )
    return Template(head.removeprefix("Subject:").strip(), body.rstrip() + "\n")


@cache
def default(name: str) -> Template:
    """Return the shipped default template ``name``."""
    if name not in TEMPLATES:
        raise KeyError(name)
    source = resources.files("license_server.mail") / "defaults" / f"{name}.txt"
    return parse(source.read_text(encoding="utf-8"))


def _environment(strict: bool) -> SandboxedEnvironment:
    undefined = StrictUndefined if strict else Undefined
    return SandboxedEnvironment(
        autoescape=False,  # noqa: S701 - plain-text mail, never HTML
        undefined=undefined,
        keep_trailing_newline=True,
    )


_LENIENT = _environment(strict=False)
_STRICT = _environment(strict=True)


def render(
    template: Template, values: dict[str, Any], *, strict: bool = False
) -> tuple[str, str]:
    """Render subject and body; the subject loses any line breaks."""
    env = _STRICT if strict else _LENIENT
    subject = env.from_string(template.subject).render(values)
    body = env.from_string(template.body).render(values)
    subject = " ".join(subject.split())[:MAX_SUBJECT]
    return subject, body


def for_vendor(vendor_id: uuid.UUID, name: str) -> tuple[Template, bool]:
    """Return the vendor's template ``name`` (or the default) and whether it is own."""
    row = db.session.scalar(
        select(MailTemplate).where(
            MailTemplate.vendor_id == vendor_id, MailTemplate.name == name
        )
    )
    if row is None:
        return default(name), False
    return Template(row.subject, row.body), True


@transactional
def set_template(
    *, vendor_id: uuid.UUID, name: str, text: str, now: datetime
) -> Template:
    """Store a vendor's own template after it renders with sample values."""
    if name not in TEMPLATES:
        raise errors.ValidationFailed(
            f"No mail template {name!r}; one of {list(TEMPLATES)}."
        )
    template = parse(text)
    if len(template.subject) > MAX_SUBJECT or len(template.body) > MAX_BODY:
        raise TemplateInvalid("The subject or the body is too long.")
    try:
        render(template, SAMPLE, strict=True)
    except TemplateError as exc:
        raise TemplateInvalid(f"The template does not render: {exc}") from exc
    row = db.session.scalar(
        select(MailTemplate).where(
            MailTemplate.vendor_id == vendor_id, MailTemplate.name == name
        )
    )
    if row is None:
        row = MailTemplate(id=uuid.uuid4(), vendor_id=vendor_id, name=name)
        db.session.add(row)
    row.subject, row.body, row.updated_at = template.subject, template.body, now
    return template


@transactional
def reset_template(*, vendor_id: uuid.UUID, name: str) -> None:
    """Drop a vendor's own template: the default applies again."""
    db.session.execute(
        delete(MailTemplate).where(
            MailTemplate.vendor_id == vendor_id, MailTemplate.name == name
        )
    )
