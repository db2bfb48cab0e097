"""Package URLs: opaque, short-lived, bound to licence + domain + release.

A token is ``base64url(payload) "." base64url(mac)``: the payload holds the licence
id, the release id, the expiry (Unix seconds) and the canonical domain; the MAC is
HMAC-SHA256 (truncated to 128 bits) under a key derived from the master secret. No
licence key is in it. Expiry is rounded up to a five-minute window, so a URL stays
the same for repeat checks within a window (stable ETags) and lives between
``DOWNLOAD_TTL`` and ``DOWNLOAD_TTL`` + 5 minutes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import datetime

from license_server import errors
from license_server.keyring import Keyring
from license_server.runtime import Runtime
from license_server.updates import entitlement

WINDOW = 300
_HEAD = struct.Struct(">16s16sI")
_CONTEXT = b"license-server/download/v1\0"


class DownloadInvalid(errors.APIError):
    status_code, code, message = (
        403,
        "DOWNLOAD_INVALID",
        "This download link is not valid. Check for updates again in WordPress.",
    )


class DownloadExpired(errors.APIError):
    status_code, code, message = (
        410,
        "DOWNLOAD_EXPIRED",
        "This download link has expired. Check for updates again in WordPress.",
    )


class DownloadNotEntitled(errors.APIError):
    status_code, code, message = (
        403,
        "DOWNLOAD_NOT_ENTITLED",
        "The license no longer allows updates on this site.",
    )


class ReleaseWithdrawn(errors.APIError):
    status_code, code, message = (
        410,
        "RELEASE_WITHDRAWN",
        "This version has been withdrawn. Check for updates again in WordPress.",
    )


@dataclass(frozen=True)
class Grant:
    """What a package URL grants."""

    license_id: uuid.UUID
    release_id: uuid.UUID
    expires: int
    domain: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def expiry(now: datetime, ttl: int) -> int:
    """Return the expiry of a URL made at ``now``: ``ttl`` rounded up to a window."""
    moment = int(now.timestamp()) + ttl
    return -(-moment // WINDOW) * WINDOW


def make_token(keyring: Keyring, grant: Grant) -> str:
    """Return the opaque token for ``grant``."""
    payload = _HEAD.pack(
        grant.license_id.bytes, grant.release_id.bytes, grant.expires
    ) + grant.domain.encode("ascii")
    mac = keyring.download_mac(_CONTEXT + payload)[:16]
    return f"{_b64(payload)}.{_b64(mac)}"


def read_token(keyring: Keyring, token: str, now: datetime) -> Grant:
    """Check a token's MAC and expiry; raise a clear 4xx when it fails."""
    encoded, _, mac_text = token.partition(".")
    try:
        payload, mac = _unb64(encoded), _unb64(mac_text)
    except (binascii.Error, ValueError) as exc:
        raise DownloadInvalid() from exc
    expected = keyring.download_mac(_CONTEXT + payload)[:16]
    if len(payload) <= _HEAD.size or not hmac.compare_digest(mac, expected):
        raise DownloadInvalid()
    license_bytes, release_bytes, expires = _HEAD.unpack(payload[: _HEAD.size])
    if now.timestamp() >= expires:
        raise DownloadExpired()
    return Grant(
        uuid.UUID(bytes=license_bytes),
        uuid.UUID(bytes=release_bytes),
        expires,
        payload[_HEAD.size :].decode("ascii"),
    )


def authorise(runtime: Runtime, token: str, now: datetime) -> entitlement.PackageGrant:
    """Check a package URL and re-check the licence on its domain; return the grant.

    Refused (4xx) when the token is tampered or expired, the release was yanked or
    unpublished since, or the licence is no longer VALID on that domain (revoked,
    suspended, expired under a restricting product, or the site deactivated).
    """
    grant = read_token(runtime.keyring, token, now)
    found = entitlement.package_grant(
        runtime=runtime,
        release_id=grant.release_id,
        license_id=grant.license_id,
        domain=grant.domain,
        now=now,
    )
    if found is None or found.withdrawn:
        raise ReleaseWithdrawn()
    if found.code is not entitlement.ResultCode.VALID:
        message = entitlement.DETAILS[found.code] + " Updates cannot be downloaded."
        raise DownloadNotEntitled(message, detail={"code": str(found.code)})
    return found
