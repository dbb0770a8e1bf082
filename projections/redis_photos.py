"""Redis adapter of the photos projection group: upload status and the content-addressed index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from projections import redis_scripts as lua
from projections.redis_batch import ScriptBatch, text
from projections.redis_keys import PhotoKeys
from projections.writes import PutContent, SetPhoto, Write, version_key

VARIANT_NAMES = ("thumbnail", "feed", "full")


@dataclass(frozen=True, slots=True)
class PhotoView:
    photo_id: int
    owner_id: int
    status: str
    variants: dict[str, str]  # variant name -> object key (empty until processed)
    width: int | None
    height: int | None
    blurhash: str | None
    reason_code: str | None
    reason: str | None
    post_id: int | None
    published_ms: int | None


@dataclass(frozen=True, slots=True)
class ContentView:
    sha256: str
    variants: dict[str, str]
    width: int
    height: int
    blurhash: str
    phash: int
    references: int


class RedisPhotos:
    def __init__(self, redis: Redis, version: int, cluster: bool = False) -> None:
        self._r = redis
        self._cluster = cluster
        self.keys = PhotoKeys(version)
        self._set_fields = redis.register_script(lua.SET_FIELDS_IF_NEWER)

    async def apply(self, writes: Sequence[Write]) -> None:
        photos = ScriptBatch()
        async with self._r.pipeline(transaction=False) as pipe:
            for w in writes:
                if isinstance(w, SetPhoto):
                    fields = [("owner_id", str(w.owner_id)), ("status", w.status), *w.fields]
                    flat = [x for pair in fields for x in pair]
                    photos.add(
                        [self.keys.photo(w.photo_id)],
                        ["_v", version_key(w.version), len(fields), *flat],
                    )
                elif isinstance(w, PutContent):
                    pipe.hset(self.keys.content(w.sha256), mapping=dict(w.fields))
                    pipe.sadd(self.keys.content_refs(w.sha256), w.photo_id)
            await pipe.execute()
        for keys, args in photos.groups(self._cluster):
            await self._set_fields(keys, args)

    async def photo(self, photo_id: int) -> PhotoView | None:
        h = _decoded(await self._r.hgetall(self.keys.photo(photo_id)))
        if not h:
            return None
        return PhotoView(
            photo_id=photo_id,
            owner_id=int(h["owner_id"]),
            status=h["status"],
            variants={n: h[n] for n in VARIANT_NAMES if n in h},
            width=_int(h.get("width")),
            height=_int(h.get("height")),
            blurhash=h.get("blurhash"),
            reason_code=h.get("reason_code"),
            reason=h.get("reason"),
            post_id=_int(h.get("post_id")),
            published_ms=_int(h.get("published_ms")),
        )

    async def content(self, sha256: str) -> ContentView | None:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.content(sha256))
            pipe.scard(self.keys.content_refs(sha256))
            raw, refs = await pipe.execute()
        h = _decoded(raw)
        if not h:
            return None
        return ContentView(
            sha256, {n: h[n] for n in VARIANT_NAMES}, int(h["width"]), int(h["height"]),
            h["blurhash"], int(h["phash"]), int(refs),
        )  # fmt: skip


def _decoded(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {text(k): text(v) for k, v in raw.items()}


def _int(value: str | None) -> int | None:
    return int(value) if value is not None else None
