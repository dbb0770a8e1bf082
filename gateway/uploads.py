"""Upload sessions: what `POST /photos` promised, kept until `complete` (command side, not a
projection; it expires with the presigned URLs' grace period)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from redis.asyncio import Redis


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


class UploadStore(Protocol):
    """Sessions by photo id; `mark_completed` is true exactly once per photo."""

    async def create(self, session: UploadSession, ttl_s: int) -> None: ...

    async def get(self, photo_id: int) -> tuple[UploadSession, bool] | None: ...

    async def mark_completed(self, photo_id: int) -> bool: ...

    async def unmark_completed(self, photo_id: int) -> None: ...


class RedisUploadStore:
    """`upload:{<photo_id>}` hash: the session as JSON and a `completed` flag."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    @staticmethod
    def _key(photo_id: int) -> str:
        return f"upload:{{{photo_id}}}"

    async def create(self, session: UploadSession, ttl_s: int) -> None:
        key = self._key(session.photo_id)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(key, "session", json.dumps(asdict(session)))
            pipe.expire(key, ttl_s)
            await pipe.execute()

    async def get(self, photo_id: int) -> tuple[UploadSession, bool] | None:
        raw, completed = await self._r.hmget(self._key(photo_id), "session", "completed")
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        data["tags"] = tuple(data["tags"])
        data["location"] = tuple(data["location"]) if data["location"] else None
        return UploadSession(**data), completed is not None

    async def mark_completed(self, photo_id: int) -> bool:
        return bool(await self._r.hsetnx(self._key(photo_id), "completed", "1"))

    async def unmark_completed(self, photo_id: int) -> None:
        await self._r.hdel(self._key(photo_id), "completed")
