"""Redis adapter of the photos projection group: upload status and the content-addressed index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from projections.backends import redis_scripts as lua
from projections.backends.redis_batch import ScriptBatch, text
from projections.photos.keys import PhotoKeys
from projections.writes import PutContent, ReleasePhoto, SetPhoto, Write, seq_key

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
    sha256: str | None = None  # the content it references, once processed


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
        self._add_content = redis.register_script(lua.ADD_CONTENT)
        self._release = redis.register_script(lua.RELEASE_PHOTOS)

    async def apply(self, writes: Sequence[Write]) -> None:
        """Photo states first (a deletion must be seen by a reference added in the same batch),
        then content references, then releases."""
        photos, contents, releases = ScriptBatch(), ScriptBatch(), ScriptBatch()
        owners: list[tuple[int, int]] = []
        k = self.keys
        for w in writes:
            if isinstance(w, SetPhoto):
                fields = [("owner_id", str(w.owner_id)), ("status", w.status), *w.fields]
                flat = [x for pair in fields for x in pair]
                photos.add([k.photo(w.photo_id)], ["_v", seq_key(w.seq), len(fields), *flat])
                owners.append((w.owner_id, w.photo_id))
            elif isinstance(w, PutContent):
                flat = [x for pair in w.fields for x in pair]
                contents.add([k.content(w.sha256), k.content_refs(w.sha256), k.photo(w.photo_id)],
                             [w.photo_id, len(w.fields), *flat])  # fmt: skip
            elif isinstance(w, ReleasePhoto):
                releases.add([k.photo(w.photo_id)],
                             [seq_key(w.seq), w.photo_id, k.content_prefix()])  # fmt: skip
        for script, batch in ((self._set_fields, photos), (self._add_content, contents),
                              (self._release, releases)):  # fmt: skip
            for keys, args in batch.groups(self._cluster):
                await script(keys, args)
        if owners:
            async with self._r.pipeline(transaction=False) as pipe:
                for owner, photo in owners:
                    pipe.sadd(k.owned(owner), photo)
                await pipe.execute()

    async def unreferenced(self, sha256: str) -> bool:
        """True when no photo references the content (its variants may be deleted)."""
        return not await self._r.exists(self.keys.content_refs(sha256))

    async def photo(self, photo_id: int) -> PhotoView | None:
        h = _decoded(await self._r.hgetall(self.keys.photo(photo_id)))
        if "owner_id" not in h:
            return None  # unknown, or only the tombstone of a deletion seen before the photo
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
            sha256=h.get("sha256"),
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
