"""Keep license keys and API keys out of log lines, the access logs included.

The access log of every server we run under (Werkzeug's, gunicorn's, granian's)
writes the request line, query string and all; a vendor's script that looks a
license up with ``GET /v1/admin/licenses?key=…`` (the POST search is the way that
keeps it off URLs) would put a full key there. A filter on those loggers rewrites
each record before any handler sees it: the value of a ``key`` or ``license_key``
query parameter, any ``lsk_`` API key and any text shaped like one of our license
keys become ``[redacted]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

REDACTED = "[redacted]"
ACCESS_LOGGERS = (
    "werkzeug",
    "gunicorn.access",
    "gunicorn.error",
    "granian.access",
    "granian",
)
_QUERY_SECRET = re.compile(
    r"(?i)((?:^|[?&;]|%3F|%26)(?:license_|license%5F)?key(?:=|%3D))[^&;#\s\"']*"
)
_API_KEY = re.compile(r"lsk_[A-Za-z0-9_\-]{8,}")
# 25 symbols of the key alphabet, in groups or not, with an optional prefix
_LICENSE_KEY = re.compile(
    r"(?i)\b(?:[A-Z0-9]{2,8}-)?[0-9A-Z]{5}(?:[- ]?[0-9A-Z]{5}){4}\b"
)


def redact(text: str) -> str:
    """Return ``text`` with every key-shaped secret replaced by ``[redacted]``."""
    text = _QUERY_SECRET.sub(lambda match: match.group(1) + REDACTED, text)
    text = _API_KEY.sub(REDACTED, text)
    return _LICENSE_KEY.sub(REDACTED, text)


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """A logger filter that redacts the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; never drop it."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, MutableMapping):  # gunicorn's access atoms
            for name, value in list(args.items()):
                args[name] = _clean(value)
        elif isinstance(args, tuple):
            record.args = tuple(_clean(value) for value in args)
        return True


_FILTER = RedactSecrets()


def install() -> None:
    """Attach the filter to the access loggers (once per process)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
