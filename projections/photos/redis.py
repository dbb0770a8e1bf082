"""Redis adapter of the photos projection group: upload status and the content-addressed index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redis.asyncio import Redis

from projections.backends.keys import template
from projections.backends.redis_batch import CallBatch, FunctionCall, call_functions, text
from projections.photos.keys import PhotoKeys
from projections.photos.ports import ContentView, PhotoView
from projections.writes import PutContent, ReleasePhoto, SetPhoto, Write, seq_key
from schemas.media import AVATAR_SIZES

VARIANT_NAMES = ("thumbnail", "feed", "full")
SQUARE_NAMES = tuple(map(str, AVATAR_SIZES))  # an avatar upload's variants


class RedisPhotos:
    """One version of the photos group in one Redis. Its writes are functions of
    photofeed_versioned (projections/backends/versioned.lua) and photofeed_photos (photos.lua
    beside it)."""

    def __init__(self, redis: Redis, version: int, cluster: bool = False) -> None:
        self._r = redis
        self._cluster = cluster
        self.keys = PhotoKeys(version)
        # release_photos names the content it releases from the sha256 a photo records
        self._content = template(lambda sha: self.keys.content(str(sha)))
        self._content_refs = template(lambda sha: self.keys.content_refs(str(sha)))

    async def apply(self, writes: Sequence[Write]) -> None:
        """Photo states first (a deletion must be seen by a reference added in the same batch),
        then content references, then releases: one round trip."""
        photos, contents, releases = CallBatch(), CallBatch(), CallBatch()
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
                releases.add([k.photo(w.photo_id)], [seq_key(w.seq), w.photo_id])
        calls: list[FunctionCall] = [
            ("set_fields_if_newer", keys, args) for keys, args in photos.groups(self._cluster)
        ]
        calls += [("add_content", keys, args) for keys, args in contents.groups(self._cluster)]
        calls += [
            ("release_photos", keys, [self._content, self._content_refs, *args])
            for keys, args in releases.groups(self._cluster)
        ]
        await call_functions(self._r, calls)
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
            variants={n: h[n] for n in (*VARIANT_NAMES, *SQUARE_NAMES) if n in h},
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
