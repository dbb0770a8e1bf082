"""Upload sessions: what `POST /photos` promised, kept until `complete` (command side, not a
projection; it expires with the presigned URLs' grace period).

A session holds the caption, alt text and location in plain text, so account erasure must find
and delete every session of the user: each owner has an index of their sessions
(`UploadKeys.owned`, a set of photo ids that lives as long as their newest session), which
the erasure workflow reads instead of scanning the keyspace (`forget_owner`). A session written
while its owner is being erased deletes itself (see `RedisUploadStore.create`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

from gateway.keys import UploadKeys
from infra.keystore import ErasedUser, RedisKeyStore


@dataclass(frozen=True, slots=True)
class UploadSession:
    photo_id: int
    owner_id: int
    object_key: str
    content_type: str
    size_bytes: int
    caption: str
    tags: tuple[str, ...]
    location: tuple[float, float] | None
    alt_text: str | None
    upload_id: str | None = None  # set for multipart uploads
    part_bytes: int | None = None
    expires_ms: int = 0  # when the presigned URLs stop working
    purpose: str = "post"  # PhotoUploaded.purpose: "post" or "avatar" (gateway/media_intake.py)


class UploadStore(Protocol):
    """Sessions by photo id; `mark_completed` is true exactly once per photo."""

    async def create(self, session: UploadSession, ttl_s: int) -> None: ...

    async def get(self, photo_id: int) -> tuple[UploadSession, bool] | None: ...

    async def mark_completed(self, photo_id: int) -> bool: ...

    async def unmark_completed(self, photo_id: int) -> None: ...


class RedisUploadStore:
    """`UploadKeys.session` hash: the session as JSON and a `completed` flag; `UploadKeys.owned`
    set: the photo ids of the owner's sessions (open or completed), for erasure."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._keys = RedisKeyStore(redis)

    async def create(self, session: UploadSession, ttl_s: int) -> None:
        """Store the session for `ttl_s`; raises ErasedUser, leaving nothing, when the owner is
        erased. Checks first (an erased owner's text never reaches Valkey's files), then writes
        the owner's index, the session, and checks again: an erasure that marked the owner
        erased after that read reads the index after it too, so it finds this session; one that
        marked them before is seen here."""
        if await self._keys.erased([session.owner_id]):
            raise ErasedUser(session.owner_id)
        owned, key = UploadKeys.owned(session.owner_id), UploadKeys.session(session.photo_id)
        async with self._r.pipeline(transaction=False) as pipe:  # index and session: 2 slots
            pipe.sadd(owned, session.photo_id)
            pipe.expire(owned, ttl_s, nx=True)  # a new index gets the session's lifetime...
            pipe.expire(owned, ttl_s, gt=True)  # ...and every later session extends it
            await pipe.execute()
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(key, "session", json.dumps(asdict(session)))
            pipe.expire(key, ttl_s)
            await pipe.execute()
        if await self._keys.erased([session.owner_id]):
            await self._forget([session.photo_id], owned)
            raise ErasedUser(session.owner_id)

    async def get(self, photo_id: int) -> tuple[UploadSession, bool] | None:
        raw, completed = await self._r.hmget(UploadKeys.session(photo_id), "session", "completed")
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        data["tags"] = tuple(data["tags"])
        data["location"] = tuple(data["location"]) if data["location"] else None
        return UploadSession(**data), completed is not None

    async def mark_completed(self, photo_id: int) -> bool:
        return bool(await self._r.hsetnx(UploadKeys.session(photo_id), "completed", "1"))

    async def unmark_completed(self, photo_id: int) -> None:
        await self._r.hdel(UploadKeys.session(photo_id), "completed")

    async def forget_owner(self, owner_id: int) -> int:
        """Delete every session of `owner_id` and their index; return how many sessions were
        still there. Idempotent. Sessions written before the index existed are not found: they
        expire within their TTL."""
        owned = UploadKeys.owned(owner_id)
        photo_ids = [int(p) for p in await self._r.smembers(owned)]
        return await self._forget(photo_ids, owned)

    async def _forget(self, photo_ids: list[int], owned: str) -> int:
        deleted = 0
        for photo_id in photo_ids:  # one key per call: each session is its own slot
            deleted += int(await self._r.delete(UploadKeys.session(photo_id)))
        if photo_ids:
            await self._r.srem(owned, *photo_ids)
        return deleted
