"""Deletes a deleted post's bytes from object storage once nothing references them.

Runs after the photos projection applied a batch of the posts topic, so the deleted photo has
already left its content's reference set. The original upload is private to its post and always
goes; the content-addressed variants go only when no other post (a byte-identical upload) still
uses them. Every step is idempotent: a redelivered deletion finds nothing left to delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import structlog

from projections.photos.ports import PhotoStore
from schemas import events as ev
from schemas.media import VARIANTS, original_key, variant_key

log = structlog.get_logger("photofeed.janitor")


class ObjectDeleter(Protocol):
    async def delete(self, key: str) -> None: ...


class MediaJanitor:
    def __init__(self, store: ObjectDeleter, photos: Callable[[], Awaitable[PhotoStore]]) -> None:
        self._store = store
        self._photos = photos

    async def after_posts(self, events: Sequence[ev.Event]) -> None:
        for e in events:
            if isinstance(e, ev.PostDeleted):
                await self.release(e.post_id)

    async def release(self, photo_id: int) -> list[str]:
        """Delete what the photo alone kept alive; return the keys deleted."""
        photos = await self._photos()
        photo = await photos.photo(photo_id)
        if photo is None or photo.status != "deleted":
            return []  # unknown, or the deletion is not projected yet: nothing is released
        keys = [original_key(photo.owner_id, photo_id)]
        if photo.sha256 is not None and await photos.unreferenced(photo.sha256):
            keys += [variant_key(photo.sha256, name) for name in VARIANTS]
        await asyncio.gather(*(self._store.delete(k) for k in keys))
        log.info("media_released", photo_id=photo_id, objects=len(keys))
        return keys
