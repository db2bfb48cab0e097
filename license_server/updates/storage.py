"""Where packages live: one small interface, a local and an S3 backend.

Artifacts are content-addressed (``sha256/ab/<hex>.zip``) and written once: putting
a key that exists is a no-op (same key, same bytes), so nothing is ever overwritten
and two releases with the same file share one object.

- :class:`LocalStorage`: a folder (the instance folder's ``releases/`` on the
  embedded default). Files are written to a temporary name and linked into place,
  so a reader never sees half a file.
- :class:`S3Storage`: an S3-compatible bucket through boto3, for several server
  processes; downloads are redirected to presigned URLs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol


def content_key(sha256_hex: str) -> str:
    """Return the storage key of a package with this SHA-256."""
    return f"sha256/{sha256_hex[:2]}/{sha256_hex}.zip"


class Storage(Protocol):
    """What the release service needs from a place that keeps packages."""

    def put(self, key: str, source: Path) -> None:
        """Store ``source`` under ``key``, unless the key exists already."""

    def exists(self, key: str) -> bool:
        """Return whether ``key`` is stored."""

    def open(self, key: str) -> IO[bytes]:
        """Open a stored object for reading."""

    def size(self, key: str) -> int:
        """Return a stored object's size in bytes."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (used only for packages no release refers to)."""

    def local_path(self, key: str) -> Path | None:
        """Return the object's file when it is on this machine, else None."""

    def presigned_url(self, key: str, *, expires: int, filename: str) -> str | None:
        """Return a time-limited URL the client may fetch directly, or None."""


class LocalStorage:
    """Packages in a folder of this machine."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError(f"bad storage key {key!r}")
        return self.root / key

    def put(self, key: str, source: Path) -> None:
        """Copy ``source`` into place atomically; never replace an existing file."""
        target = self._path(key)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as inp:
                shutil.copyfileobj(inp, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o640)
            try:
                os.link(temporary, target)  # fails if present: never overwrites
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)

    def exists(self, key: str) -> bool:
        """Return whether the file exists."""
        return self._path(key).is_file()

    def open(self, key: str) -> IO[bytes]:
        """Open the file."""
        return self._path(key).open("rb")

    def size(self, key: str) -> int:
        """Return the file's size."""
        return self._path(key).stat().st_size

    def delete(self, key: str) -> None:
        """Remove the file if present."""
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        """Return the file's path."""
        return self._path(key)

    def presigned_url(self, key: str, *, expires: int, filename: str) -> str | None:
        """Local files have no presigned URLs: the server streams them."""
        return None


class S3Storage:
    """Packages in an S3-compatible bucket (AWS, MinIO, Ceph, moto in tests)."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put(self, key: str, source: Path) -> None:
        """Upload ``source`` unless the object exists (never overwritten)."""
        if self.exists(key):
            return
        self.client.upload_file(
            str(source),
            self.bucket,
            self._key(key),
            ExtraArgs={"ContentType": "application/zip"},
        )

    def exists(self, key: str) -> bool:
        """Return whether the object exists."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                return False
            raise
        return True

    def open(self, key: str) -> IO[bytes]:
        """Return the object's streaming body."""
        answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        body: IO[bytes] = answer["Body"]
        return body

    def size(self, key: str) -> int:
        """Return the object's size."""
        answer = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return int(answer["ContentLength"])

    def delete(self, key: str) -> None:
        """Delete the object."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def local_path(self, key: str) -> Path | None:
        """Objects in a bucket are never local."""
        return None

    def presigned_url(self, key: str, *, expires: int, filename: str) -> str | None:
        """Return a presigned GET URL valid for ``expires`` seconds."""
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._key(key),
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
                "ResponseContentType": "application/zip",
            },
            ExpiresIn=expires,
        )
        return url


def from_config(config: Mapping[str, Any]) -> Storage:
    """Build the storage ``RELEASE_STORAGE`` names: ``local`` or ``s3://bucket/prefix``."""
    choice = str(config.get("RELEASE_STORAGE") or "local")
    if choice == "local":
        return LocalStorage(Path(config["INSTANCE_PATH"]) / "releases")
    if choice.startswith("s3://"):
        import boto3

        bucket, _, prefix = choice[len("s3://") :].partition("/")
        client = boto3.client("s3", endpoint_url=config.get("S3_ENDPOINT_URL") or None)
        return S3Storage(bucket, prefix, client)
    if choice.startswith("file://") or choice.startswith("/"):
        return LocalStorage(Path(choice.removeprefix("file://")))
    raise ValueError(
        f"RELEASE_STORAGE must be local, a path or s3://bucket/prefix, not {choice!r}"
    )
