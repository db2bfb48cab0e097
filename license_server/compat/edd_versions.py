"""EDD ``get_version``: waits for releases (the updates work); answers "no item"."""

from __future__ import annotations

from typing import Any

from license_server.compat.edd import Context
from license_server.compat.edd_request import EddRequest


def get_version(ctx: Context, request: EddRequest) -> dict[str, Any]:
    """Answer ``get_version`` as EDD does when it knows no such item."""
    return {
        "new_version": "",
        "stable_version": "",
        "sections": "",
        "license_check": "",
        "msg": "No item provided",
        "homepage": "",
        "package": "",
        "icons": [],
        "banners": [],
    }
