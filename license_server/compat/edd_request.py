"""An EDD Software Licensing request as EDD reads it, and its ``checksum``.

EDD takes its parameters from ``$_GET`` or ``$_POST`` after WordPress decoded them
once, then decodes some again: ``license`` and ``url`` with ``urldecode`` (``+`` is a
space), ``item_name`` with ``rawurldecode`` (``+`` stays). Values are judged with PHP's
``empty()``: ``item_id`` of ``''`` or ``'0'`` means none, ``item_name='0'`` means none.
An empty ``url`` is taken from the ``User-Agent: WordPress/x.y; https://site``
header. Unknown fields are ignored, as EDD ignores them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus

from license_server.compat import php

ACTIONS = ("activate_license", "deactivate_license", "check_license", "get_version")


@dataclass(frozen=True)
class EddRequest:
    """One EDD request: the action, its parameters as EDD decodes them."""

    action: str
    license: str
    item_id: int | None
    item_name: str | None
    url: str
    environment: str
    data: dict[str, Any] = field(default_factory=dict)
    # the values EDD's checksum sees: ``url`` before the User-Agent fallback, and
    # ``item_id`` as ``absint`` of a non-empty value (0 for text), else false
    raw_url: str = ""
    item_id_arg: int | bool = False

    def checksum(self) -> str:
        """Return EDD's ``checksum``: md5 of the arguments' JSON, longest first."""
        order: tuple[str, ...]
        if self.action == "activate_license":
            order = ("item_name", "key", "url", "item_id", "environment")
        elif self.action == "deactivate_license":
            order = ("item_id", "item_name", "key", "url", "environment")
        else:
            order = ("item_id", "item_name", "key", "url")
        values = {
            "item_id": self.item_id_arg,
            "item_name": self.item_name if self.item_name else False,
            "key": self.license if self.license else False,
            "url": self.raw_url,
            "environment": self.environment,
        }
        # PHP 8's usort is stable: equal lengths keep their order
        args = sorted((values[name] for name in order), key=lambda v: -php.strlen(v))
        return hashlib.md5(
            php.json_encode(args).encode(), usedforsecurity=False
        ).hexdigest()


def _text(value: Any) -> str:
    if value is None or value is False:
        return ""
    if isinstance(value, dict | list):
        return ""
    return str(value)


def url_from_user_agent(user_agent: str) -> str:
    """Return the site in ``WordPress/6.1; https://site``, or ''."""
    parts = [part.strip() for part in user_agent.split(";")]
    return parts[1] if len(parts) > 1 else ""


def parse(data: dict[str, Any], user_agent: str) -> EddRequest:
    """Read an EDD request from its (PHP-nested) parameters and User-Agent."""
    action = _text(data.get("edd_action"))
    license = data.get("license")
    item_name = data.get("item_name")
    raw_url = unquote_plus(_text(data.get("url")))
    url = raw_url or url_from_user_agent(user_agent)
    item_id = data.get("item_id")
    environment = _text(data.get("environment"))
    return EddRequest(
        action=action,
        license="" if php.is_empty(license) else unquote_plus(_text(license)),
        item_id=php.absint(item_id) or None,
        item_name=None if php.is_empty(item_name) else unquote(_text(item_name)),
        url=url,
        environment=environment or "production",
        data=data,
        raw_url=raw_url,
        item_id_arg=False if php.is_empty(item_id) else php.absint(item_id),
    )
