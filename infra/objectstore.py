"""Object storage over the S3 API (SeaweedFS locally, MinIO/S3 at scale) through the minio client.

Originals are private (`o/<user>/<photo>`); variants are content-addressed and public-read
(`v/<sha[:2]>/<sha>/<variant>.jpg`, immutable, cached for a year). Blocking minio calls run in a
thread so the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from minio import Minio
from minio.datatypes import Part
from minio.error import S3Error

from infra.presign import presign_url

PUBLIC_PREFIX = "v/"  # anonymous GET allowed below this prefix only
IMMUTABLE = "public, max-age=31536000, immutable"
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's minimum size of every part but the last


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    content_type: str


@dataclass(frozen=True, slots=True)
class PendingUpload:
    key: str
    upload_id: str
    started: datetime


class S3Store:
    def __init__(
        self, client: Minio, bucket: str, *, endpoint_url: str, public_url: str, region: str,
        access_key: str, secret_key: str,
    ) -> None:  # fmt: skip
        self._c = client
        self.bucket = bucket
        self._endpoint = endpoint_url.rstrip("/")
        self._public = public_url.rstrip("/")
        self._region = region
        self._access = access_key
        self._secret = secret_key

    # --- set-up -----------------------------------------------------------------------------
    def ensure_bucket(self) -> None:
        """Create the bucket if missing and make variants (only) publicly readable."""
        if not self._c.bucket_exists(self.bucket):
            self._c.make_bucket(self.bucket)
        statement = {
            "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{self.bucket}/{PUBLIC_PREFIX}*"],
        }  # fmt: skip
        self._c.set_bucket_policy(
            self.bucket, json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        )

    # --- presigned uploads --------------------------------------------------------------------
    def presign_put(self, key: str, content_type: str, size: int, expires_s: int) -> str:
        """A PUT URL that accepts exactly `size` bytes of `content_type` until it expires."""
        return self._presign("PUT", key, expires_s, {"content-type": content_type,
                                                     "content-length": str(size)})  # fmt: skip

    def presign_part(
        self, key: str, upload_id: str, part_number: int, size: int, expires_s: int
    ) -> str:
        """A PUT URL for one part of a multipart upload, locked to the part's exact size."""
        query = {"partNumber": str(part_number), "uploadId": upload_id}
        return self._presign("PUT", key, expires_s, {"content-length": str(size)}, query)

    def _presign(
        self, method: str, key: str, expires_s: int, headers: dict[str, str],
        query: dict[str, str] | None = None,
    ) -> str:  # fmt: skip
        return presign_url(
            method, f"{self._endpoint}/{self.bucket}/{key}", region=self._region,
            access_key=self._access, secret_key=self._secret, now=datetime.now(tz=UTC),
            expires_s=expires_s, headers=headers, query=query,
        )  # fmt: skip

    async def start_multipart(self, key: str, content_type: str) -> str:
        return await asyncio.to_thread(
            self._c._create_multipart_upload, self.bucket, key, {"Content-Type": content_type}
        )

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> None:
        """Assemble the parts (number, etag); raises S3Error when a part is missing or wrong."""
        listed = [Part(n, etag.strip('"')) for n, etag in sorted(parts)]
        await asyncio.to_thread(
            self._c._complete_multipart_upload, self.bucket, key, upload_id, listed
        )

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        await asyncio.to_thread(self._c._abort_multipart_upload, self.bucket, key, upload_id)

    async def pending_multipart(self, prefix: str) -> list[PendingUpload]:
        result = await asyncio.to_thread(
            self._c._list_multipart_uploads, self.bucket, prefix=prefix
        )
        return [
            PendingUpload(u.object_name, u.upload_id, u.initiated_time or datetime.now(tz=UTC))
            for u in result.uploads
            if u.object_name and u.upload_id
        ]

    # --- objects -----------------------------------------------------------------------------
    async def stat(self, key: str) -> ObjectInfo | None:
        try:
            obj = await asyncio.to_thread(self._c.stat_object, self.bucket, key)
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject", "NotFound"}:
                return None
            raise
        return ObjectInfo(obj.size or 0, obj.content_type or "application/octet-stream")

    async def read(self, key: str, limit: int) -> bytes:
        """The object's bytes; at most `limit` + 1 are read, so the caller can see it is larger."""

        def get() -> bytes:
            resp = self._c.get_object(self.bucket, key, length=limit + 1)
            try:
                return bytes(resp.read())
            finally:
                resp.close()
                resp.release_conn()

        return await asyncio.to_thread(get)

    async def put(
        self, key: str, data: bytes | BinaryIO, length: int, content_type: str,
        cache_control: str | None = None,
    ) -> None:  # fmt: skip
        """Store an object; a file-like `data` is streamed, never read whole into memory."""
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        metadata: dict[str, str | list[str] | tuple[str]] | None = (
            {"Cache-Control": cache_control} if cache_control else None
        )
        await asyncio.to_thread(
            self._c.put_object, self.bucket, key, stream, length, content_type, metadata
        )

    async def list_older(self, prefix: str, before: datetime) -> list[str]:
        """Keys under `prefix` last modified before `before`."""

        def scan() -> list[str]:
            return [
                o.object_name
                for o in self._c.list_objects(self.bucket, prefix=prefix, recursive=True)
                if o.object_name and o.last_modified and o.last_modified < before
            ]

        return await asyncio.to_thread(scan)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._c.remove_object, self.bucket, key)

    def public_url(self, key: str) -> str:
        """The immutable URL of a public (variant) object."""
        return f"{self._public}/{self.bucket}/{key}"


def expires_at(seconds: int) -> datetime:
    return datetime.now(tz=UTC) + timedelta(seconds=seconds)
