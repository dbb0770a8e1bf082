"""Object storage over the S3 API (SeaweedFS locally, MinIO/S3 at scale) through the minio client.

Originals are private (`o/<user>/<photo>`); variants are content-addressed and public-read
(`v/<sha[:2]>/<sha>/<variant>.jpg`, immutable, cached for a year). Blocking minio calls run in a
thread so the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from xml.sax.saxutils import escape

import httpx
from minio import Minio
from minio.datatypes import Part
from minio.error import S3Error

from infra.presign import presign_url
from infra.settings import load_settings

PUBLIC_PREFIX = "v/"  # anonymous GET allowed below this prefix only
IMMUTABLE = "public, max-age=31536000, immutable"
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's minimum size of every part but the last
CORS_MAX_AGE_S = 3600  # browsers cache a preflight's answer this long


class ObjectChanged(LookupError):
    """The object is not the version the caller asked for (written again since)."""


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    content_type: str
    etag: str = ""  # changes whenever the object is written again


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
    def ensure_bucket(self, web_origins: Sequence[str] | None = None) -> None:
        """Create the bucket if missing, make variants (only) publicly readable, and let the web
        client's origins upload to it (`allow_web_origins`). `web_origins` None: the settings'
        `web_origin_list` (PHOTOFEED_WEB_ORIGINS, default the gateway's URL), read from this
        process's PHOTOFEED_* environment."""
        if not self._c.bucket_exists(self.bucket):
            self._c.make_bucket(self.bucket)
        statement = {
            "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{self.bucket}/{PUBLIC_PREFIX}*"],
        }  # fmt: skip
        self._c.set_bucket_policy(
            self.bucket, json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        )
        if web_origins is None:
            web_origins = load_settings().web_origin_list
        self.allow_web_origins(web_origins)

    def allow_web_origins(self, origins: Sequence[str]) -> None:
        """Replace the bucket's CORS rules (S3 PutBucketCors) with one rule: pages on `origins`
        may PUT presigned uploads and parts (Content-Type is the only header they set; ETag is
        exposed, as multipart completion needs each part's) and GET or HEAD objects. Any other
        origin's preflight is refused. No origins: the rules stay as they are."""
        if not origins:
            return
        body = cors_configuration(origins).encode()
        digest = base64.b64encode(hashlib.md5(body).digest()).decode()  # S3 requires Content-MD5
        self._c._execute(
            "PUT", self.bucket, body=body, headers={"Content-MD5": digest},
            query_params={"cors": ""},
        )  # fmt: skip

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
        return ObjectInfo(
            obj.size or 0, obj.content_type or "application/octet-stream", obj.etag or ""
        )

    async def read(self, key: str, limit: int, if_match: str = "") -> bytes:
        """The object's bytes; at most `limit` + 1 are read, so the caller can see it is larger.
        With `if_match` (an ETag) the read is conditional: ObjectChanged when the object is no
        longer that version (S3 answers 412)."""

        def get() -> bytes:
            headers: dict[str, str | list[str] | tuple[str]] | None = (
                {"If-Match": _quoted(if_match)} if if_match else None
            )
            try:
                resp = self._c.get_object(
                    self.bucket, key, length=limit + 1, request_headers=headers
                )
            except S3Error as exc:
                if exc.code == "PreconditionFailed":
                    raise ObjectChanged(key) from None
                raise
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


def cors_configuration(origins: Sequence[str]) -> str:
    """The S3 CORSConfiguration XML of `allow_web_origins`: one rule for every origin."""
    rule = "".join(f"<AllowedOrigin>{escape(o)}</AllowedOrigin>" for o in origins)
    rule += "".join(f"<AllowedMethod>{m}</AllowedMethod>" for m in ("PUT", "GET", "HEAD"))
    rule += "<AllowedHeader>content-type</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
    rule += f"<MaxAgeSeconds>{CORS_MAX_AGE_S}</MaxAgeSeconds>"
    return f"<CORSConfiguration><CORSRule>{rule}</CORSRule></CORSConfiguration>"


# --- the local SeaweedFS's own APIs: forgetting deleted bytes -----------------------------------
# S3 has no verb for "forget these bytes now": deleting an object only marks its needles deleted
# (SeaweedFS's filer does even that later, from a queue, ~1 s), and the bytes stay in the volume's
# .dat file until the volume is vacuumed (SeaweedFS does it on its own only once 30 % of a volume
# is garbage, checked every 15 minutes). On AWS S3 or another provider it is the provider's
# business: a deleted object is unreadable at once, and when its storage is overwritten is their
# policy, not observable through S3 (buckets must stay unversioned, or noncurrent versions keep
# the bytes); MinIO unlinks an unversioned object's files on delete.

VACUUM_GARBAGE_THRESHOLD = "0.0000000001"  # < one 16-byte needle header in the largest volume
# (30 GB): every volume holding any deleted byte is compacted
VACUUM_TIMEOUT_S = 600.0  # one vacuum compacts every volume with garbage, one after another:
# measured 5 s for a full (240 MB) volume here, so room for ~100 such volumes (25 GB)
ADMIN_TIMEOUT_S = 10.0  # one lookup / status / needle deletion on loopback takes milliseconds
COMPACT_POLL_S = 0.1  # between volume-status reads while waiting for a compaction


class VolumesNotCompacted(TimeoutError):
    """A volume that held deleted bytes was not compacted in time: an outage, retried."""


class SeaweedUnavailable(ConnectionError):
    """SeaweedFS did not answer, or answered 5xx: an outage, retried."""


@dataclass(frozen=True, slots=True)
class VolumeState:
    collection: str  # SeaweedFS names the collection of an S3 bucket after the bucket
    garbage_bytes: int  # deleted but still in the .dat file
    compactions: int  # SeaweedFS's CompactRevision: advances with every vacuum of the volume


class SeaweedAdmin:
    """The local SeaweedFS (`weed mini`) beyond S3: where an object's bytes lie (filer), deleting
    them from their volume at once (volume servers), compacting volumes (master).

    Used by account erasure so that a deleted original's bytes leave the disk within the erasure
    instead of whenever SeaweedFS's own vacuum gets to them."""

    def __init__(
        self, master_url: str, filer_url: str, bucket: str, *,
        tls: ssl.SSLContext | None = None,
        filer_token: Callable[[], str] | None = None,
        volume_token: Callable[[str], str] | None = None,
    ) -> None:  # fmt: skip
        """`tls` verifies the master and presents the client certificate its HTTPS API
        demands; `filer_token()` signs a filer read, `volume_token(fid)` a needle's deletion
        (infra.stack.SeaweedAccess provides all three for the local stack)."""
        self._master = master_url.rstrip("/")
        self._filer = filer_url.rstrip("/")
        self.bucket = bucket
        self._tls = tls
        self._filer_token = filer_token
        self._volume_token = volume_token

    def _http(self, timeout_s: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout_s, verify=self._tls or True)

    async def chunk_ids(self, key: str) -> list[str]:
        """The file ids (`<volume>,<needle><cookie>`) holding the object's bytes; [] when the
        object does not exist (any more)."""
        url = f"{self._filer}/buckets/{self.bucket}/{key}"
        async with self._http(ADMIN_TIMEOUT_S) as http:
            r = await _call(
                http,
                "GET",
                url,
                params={"metadata": "true"},
                headers=_bearer(self._filer_token() if self._filer_token else ""),
            )
        if r.status_code == 404:
            return []
        r.raise_for_status()
        return [str(c["file_id"]) for c in r.json().get("chunks") or []]

    async def delete_chunks(self, file_ids: Sequence[str]) -> int:
        """Mark the needles deleted on their volume servers now (the filer's own deletion queue
        would do it about a second later); return how many were still there. Idempotent."""
        deleted = 0
        async with self._http(ADMIN_TIMEOUT_S) as http:
            for fid in file_ids:
                for server in await self._locations(http, fid.split(",", 1)[0]):
                    token = self._volume_token(fid) if self._volume_token else ""
                    r = await _call(
                        http, "DELETE", f"http://{server}/{fid}", headers=_bearer(token)
                    )
                    if r.status_code != 404:
                        r.raise_for_status()
                        deleted += 1
        return deleted

    async def _locations(self, http: httpx.AsyncClient, volume_id: str) -> list[str]:
        r = await _call(http, "GET", f"{self._master}/dir/lookup", params={"volumeId": volume_id})
        if r.status_code == 404:
            return []  # the volume is gone, and its bytes with it
        r.raise_for_status()
        return [str(loc["url"]) for loc in r.json().get("locations") or []]

    async def volumes(self) -> dict[tuple[str, int], VolumeState]:
        """Every volume on every volume server, live from the servers: (server, id) -> state."""
        async with self._http(ADMIN_TIMEOUT_S) as http:
            topology = (await _json(http, f"{self._master}/dir/status"))["Topology"]
            out: dict[tuple[str, int], VolumeState] = {}
            for server in _volume_servers(topology):
                for v in (await _json(http, f"http://{server}/status")).get("Volumes") or []:
                    out[(server, int(v["Id"]))] = VolumeState(
                        str(v.get("Collection", "")), int(v.get("DeletedByteCount", 0)),
                        int(v.get("CompactRevision", 0)),
                    )  # fmt: skip
        return out

    async def vacuum(self) -> None:
        """Ask the master to compact every volume holding deleted bytes (it answers once done)."""
        async with self._http(VACUUM_TIMEOUT_S) as http:
            url, threshold = f"{self._master}/vol/vacuum", VACUUM_GARBAGE_THRESHOLD
            r = await _call(http, "GET", url, params={"garbageThreshold": threshold})
            r.raise_for_status()

    async def compact(self, deadline_s: float = VACUUM_TIMEOUT_S) -> int:
        """Vacuum until every volume of the bucket that holds deleted bytes now has been
        compacted since (its CompactRevision advanced); return how many were. Raises
        VolumesNotCompacted past `deadline_s`."""
        before = {k: v for k, v in (await self.volumes()).items()
                  if v.collection == self.bucket and v.garbage_bytes > 0}  # fmt: skip
        deadline = time.monotonic() + deadline_s
        while before:
            await self.vacuum()
            now = await self.volumes()
            if all(k not in now or now[k].compactions > v.compactions for k, v in before.items()):
                return len(before)
            if time.monotonic() > deadline:
                raise VolumesNotCompacted(f"{sorted(before)} not compacted in {deadline_s} s")
            await asyncio.sleep(COMPACT_POLL_S)
        return 0


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _volume_servers(topology: dict[str, Any]) -> list[str]:
    """The volume servers' addresses in the master's topology (data centres > racks > nodes)."""
    return [
        str(node["Url"])
        for dc in topology.get("DataCenters") or []
        for rack in dc.get("Racks") or []
        for node in rack.get("DataNodes") or []
    ]


async def _json(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    r = await _call(http, "GET", url)
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


async def _call(http: httpx.AsyncClient, method: str, url: str, **kw: Any) -> httpx.Response:
    """One request; no answer or a 5xx raises SeaweedUnavailable (a 4xx is the caller's)."""
    try:
        r = await http.request(method, url, **kw)
    except httpx.TransportError as exc:
        raise SeaweedUnavailable(f"{method} {url}: {exc!r}") from exc
    if r.status_code >= 500:
        raise SeaweedUnavailable(f"{method} {url}: {r.status_code} {r.text[:200]}")
    return r
