"""Receive a package: stream it to a temporary file, hash it, check it is a theme ZIP.

The body is read in chunks (never held in memory) while SHA-256 (the storage key)
and SHA-384 (what WordPress's signature covers) are computed; a body over the
limit is refused as soon as it passes the limit.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from license_server import errors

CHUNK = 1024 * 1024


class PackageTooLarge(errors.APIError):
    status_code, code, message = (
        413,
        "PAYLOAD_TOO_LARGE",
        "The package is larger than this server accepts.",
    )


class PackageInvalid(errors.APIError):
    status_code, code, message = (
        422,
        "PACKAGE_INVALID",
        "The package is not a ZIP with one top folder named like the product's slug.",
    )


@dataclass(frozen=True)
class ReceivedPackage:
    """A package on disk with its digests."""

    path: Path
    size: int
    sha256: str
    sha384: bytes


def receive(
    stream: IO[bytes], *, limit: int, folder: Path | None = None
) -> ReceivedPackage:
    """Copy ``stream`` to a temporary file, hashing; refuse over ``limit``."""
    sha256, sha384 = hashlib.sha256(), hashlib.sha384()
    size = 0
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below or on error
        prefix="package-", suffix=".zip", dir=folder, delete=False
    )
    path = Path(handle.name)
    try:
        with handle:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PackageTooLarge(detail={"limit": limit})
                sha256.update(chunk)
                sha384.update(chunk)
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ReceivedPackage(path, size, sha256.hexdigest(), sha384.digest())


def check_zip(path: Path, slug: str) -> None:
    """Refuse a file that is not a ZIP whose every entry is under ``<slug>/``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if archive.testzip() is not None:
                raise PackageInvalid("A file in the ZIP is damaged.")
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageInvalid("The package is not a ZIP file.") from exc
    if not names:
        raise PackageInvalid("The ZIP is empty.")
    for name in names:
        parts = name.replace("\\", "/").split("/")
        if name.startswith("/") or ".." in parts:
            raise PackageInvalid(f"The ZIP holds an unsafe path: {name!r}.")
        if parts[0] != slug or len(parts) < 2:
            raise PackageInvalid(
                f"Every file must be in the folder {slug}/ (found {name!r}); "
                "zip the theme's folder, not its contents.",
                detail={"expected_folder": slug},
            )
