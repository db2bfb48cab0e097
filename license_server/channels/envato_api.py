"""Envato's author sale API: is this purchase code a sale of one of my items?

``GET {base}/v3/market/author/sale?code=<code>`` with ``Authorization: Bearer <the
vendor's personal token>`` answers 200 with the sale (``item.id``, ``buyer``,
``license`` such as "Regular License" or "Extended License", ``sold_at``,
``supported_until``), 404 when the code is no sale of this author's (an unknown
code, or one Envato invalidated after a refund or a reversal), 401/403 for a token
that is refused or lacks the "View your items' sales history" permission, and 429
with ``Retry-After`` when asked too often. The base URL is a setting
(``LICENSE_SERVER_ENVATO_API_URL``) so tests point it at a local server.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

DEFAULT_URL = "https://api.envato.com"
USER_AGENT = "license-server (Envato purchase code verification)"
MAX_BODY = 256 * 1024
MAX_ITEM_ID = 2**53  # item ids are JSON numbers; larger ones are no Envato item
DOWN_RETRY = 60  # seconds a caller is told to wait when Envato gives no answer


class EnvatoError(Exception):
    """Envato gave no usable answer; ``retry_after`` says when to ask again."""

    def __init__(self, reason: str, retry_after: int = DOWN_RETRY) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class EnvatoDown(EnvatoError):
    """No answer, a server error, or an answer that is not the sale's shape."""


class EnvatoBusy(EnvatoError):
    """429: Envato's rate limit; ``retry_after`` comes from its ``Retry-After``."""


class TokenRefused(EnvatoError):
    """401/403: the personal token is wrong or lacks the sales permission."""


@dataclass(frozen=True)
class EnvatoSale:
    """The parts of a sale a licence is made from."""

    item_id: int
    item_name: str
    buyer: str | None
    license: str
    sold_at: datetime | None
    supported_until: datetime | None

    @property
    def extended(self) -> bool:
        """Return whether this is an Extended License sale."""
        return "extended" in self.license.lower()


def retry_seconds(value: str | None, now: datetime, default: int = DOWN_RETRY) -> int:
    """Read ``Retry-After`` (seconds or an HTTP date), bounded to 1 s .. 1 h."""
    if value is None:
        return default
    value = value.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = int((when - now).total_seconds())
    return max(1, min(seconds, 3600))


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def parse_sale(data: Any) -> EnvatoSale:
    """Read a 200 answer of the author sale API."""
    item = data.get("item") if isinstance(data, dict) else None
    if not isinstance(item, dict):
        raise EnvatoDown("Envato's answer has no item")
    item_id = item.get("id")
    if (
        not isinstance(item_id, int)
        or isinstance(item_id, bool)
        or not 0 < item_id < MAX_ITEM_ID
    ):
        raise EnvatoDown("Envato's answer has no item id")
    license = data.get("license")
    if not isinstance(license, str):
        raise EnvatoDown("Envato's answer has no licence type")
    buyer = data.get("buyer")
    name = item.get("name")
    return EnvatoSale(
        item_id=item_id,
        item_name=name[:200] if isinstance(name, str) else "",
        buyer=buyer[:200] if isinstance(buyer, str) and buyer else None,
        license=license[:64],
        sold_at=_moment(data.get("sold_at")),
        supported_until=_moment(data.get("supported_until")),
    )


@dataclass(frozen=True)
class EnvatoApi:
    """A client of the author sale API at ``base_url``."""

    base_url: str = DEFAULT_URL
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EnvatoApi:
        """Build the client from ``ENVATO_API_URL`` and ``ENVATO_TIMEOUT``."""
        url = str(config.get("ENVATO_API_URL") or DEFAULT_URL).rstrip("/")
        if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
            raise ValueError("ENVATO_API_URL must be an http(s) URL")
        return cls(url, float(config.get("ENVATO_TIMEOUT") or 10))

    def sale(self, token: str, code: str, now: datetime) -> EnvatoSale | None:
        """Look a purchase code up; None when it is no sale of this author's."""
        query = urllib.parse.urlencode({"code": code})
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            f"{self.base_url}/v3/market/author/sale?{query}",
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                raw = answer.read(MAX_BODY)
        except urllib.error.HTTPError as failure:
            failure.close()
            if failure.code == 404:
                return None
            if failure.code == 429:
                wait = retry_seconds(failure.headers.get("Retry-After"), now)
                raise EnvatoBusy("Envato's rate limit", wait) from None
            if failure.code in (401, 403):
                raise TokenRefused(
                    f"Envato refused the token ({failure.code})"
                ) from None
            raise EnvatoDown(f"Envato answered {failure.code}") from None
        except (OSError, ValueError, http.client.HTTPException) as failure:
            raise EnvatoDown(
                f"no answer from Envato: {type(failure).__name__}"
            ) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise EnvatoDown("Envato's answer is not JSON") from None
        return parse_sale(data)
