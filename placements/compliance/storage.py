"""Where uploaded compliance documents live: a directory (default) or an S3-compatible bucket.

Files are checked by their content (the first bytes), never by their name or the browser's
Content-Type: only PDF, PNG and JPEG are kept, up to UPLOAD_MAX_BYTES. Each is stored under
a random name (no part of the uploader's file name reaches the file system or the bucket),
outside the static folder, and is only ever served by `compliance.views` as a download.

- Directory (default): UPLOAD_DIR, default `instance/uploads`; files are written with mode
  0600 into a two-letter fan-out folder.
- S3: set UPLOAD_S3_BUCKET (and UPLOAD_S3_ENDPOINT_URL for MinIO, Ceph, Cloudflare R2 and the
  like, UPLOAD_S3_REGION, UPLOAD_S3_PREFIX). Credentials come from boto3's usual chain
  (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, or an instance role), never from
  this repository.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from flask import current_app

#: Content types we keep, by their magic bytes.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
KINDS = "a PDF, PNG or JPEG"


def sniff(head: bytes) -> tuple[str, str] | None:
    """Return (content type, extension) of a file from its first bytes, or None."""
    for magic, content_type, ext in SIGNATURES:
        if head.startswith(magic):
            return content_type, ext
    return None


def new_key() -> str:
    """A random storage name (160 bits; nothing of the upload's name)."""
    return secrets.token_hex(20)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Storage(Protocol):
    """Somewhere to keep uploaded bytes under a key."""

    def save(self, key: str, data: bytes, content_type: str) -> None: ...

    def load(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


@dataclass
class DirectoryStorage:
    """Files in a local directory (outside the static folder)."""

    root: Path

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("bad storage key")
        return self.root / key[:2] / key

    def save(self, key: str, data: bytes, content_type: str) -> None:  # noqa: ARG002
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)

    def load(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


@dataclass
class S3Storage:
    """Objects in an S3-compatible bucket (boto3)."""

    bucket: str
    prefix: str
    client: Any

    def save(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data,
                               ContentType=content_type,
                               ContentDisposition="attachment")

    def load(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)


def storage() -> Storage:
    """The storage the configuration names (S3 when UPLOAD_S3_BUCKET is set)."""
    config = current_app.config
    if config["UPLOAD_S3_BUCKET"]:
        cached = current_app.extensions.get("placements_s3")
        if cached is None:
            import boto3

            client = boto3.client("s3", endpoint_url=config["UPLOAD_S3_ENDPOINT_URL"],
                                  region_name=config["UPLOAD_S3_REGION"])
            cached = current_app.extensions["placements_s3"] = S3Storage(
                config["UPLOAD_S3_BUCKET"], config["UPLOAD_S3_PREFIX"] or "", client)
        return cached
    return DirectoryStorage(Path(config["UPLOAD_DIR"]))
