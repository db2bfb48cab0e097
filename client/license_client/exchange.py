"""One request to the license server, and what its answer may be (PROTOCOL §2, §5).

:func:`post` sends JSON and returns the answer's JSON object, raising
:class:`~license_client.exceptions.TransportFailed` (whatever the transport did) or
:class:`~license_client.exceptions.AnswerInvalid` (HTML, garbage, not an object).
:func:`signed_token` returns the answer's token or raises for an answer without
one: an unsigned error (:class:`~license_client.exceptions.ServerRefused`), or an
unsigned *result*, which only a forger sends and which therefore proves nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from license_client.config import ClientConfig
from license_client.exceptions import (
    AnswerInvalid,
    LicenseClientError,
    ServerRefused,
    TokenMalformed,
    TransportFailed,
)
from license_client.status import Code
from license_client.transport import Request, Response

__all__ = ["USER_AGENT", "json_object", "post", "refusal", "signed_token"]

USER_AGENT = "license-client/0.1"
_SERVER_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,47}")
# Result codes activate and validate always sign: unsigned, they prove nothing.
_SIGNED_CODES = frozenset(
    {
        Code.VALID,
        Code.NOT_FOUND,
        Code.PRODUCT_MISMATCH,
        Code.REVOKED,
        Code.SUSPENDED,
        Code.EXPIRED,
        Code.DOMAIN_NOT_ACTIVATED,
        Code.ACTIVATION_LIMIT_REACHED,
    }
)


def post(
    config: ClientConfig, endpoint: str, body: Mapping[str, Any]
) -> tuple[Response, dict[str, Any]]:
    """POST ``body`` to ``/v1/<endpoint>``; return the answer and its JSON object."""
    request = Request(
        "POST",
        f"{config.server_url}/v1/{endpoint}",
        json.dumps(body).encode("utf-8"),
        {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        },
    )
    try:
        response = config.transport.send(request, timeout=config.timeout)
    except TransportFailed:
        raise
    except Exception as exc:  # a custom transport's bug is still "no answer"
        raise TransportFailed(f"the transport failed: {exc!r}") from exc
    return response, json_object(response)


def json_object(response: Response) -> dict[str, Any]:
    """Return the answer's JSON object; raise AnswerInvalid for anything else."""
    try:
        data = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        raise AnswerInvalid(f"answer {response.status} is not JSON") from None
    if not isinstance(data, dict):
        raise AnswerInvalid(f"answer {response.status} is not a JSON object")
    return data


def signed_token(response: Response, data: Mapping[str, Any]) -> str:
    """Return the answer's token, or raise the error an answer without one means."""
    token = data.get("token")
    if isinstance(token, str):
        return token
    raise refusal(response, data)


def refusal(response: Response, data: Mapping[str, Any]) -> LicenseClientError:
    """Return the error for an answer that carries no usable token."""
    code = data.get("code")
    if code in _SIGNED_CODES:
        return TokenMalformed(f"result {code} came without a signed token")
    if (
        response.status >= 400
        and isinstance(code, str)
        and _SERVER_CODE.fullmatch(code)
    ):
        return ServerRefused(code, response.status)
    return AnswerInvalid(f"answer {response.status} carries no token")
