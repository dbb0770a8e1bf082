"""Removes what uploads that were never completed left in object storage.

An original is abandoned when it is older than the upload-session lifetime and no `PhotoUploaded`
names it (the photos projection has no record of its photo id): `complete` would have appended
one within that lifetime. Unfinished S3 multipart uploads of that age are aborted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from infra.objectstore import S3Store

ORIGINALS_PREFIX = "o/"  # == schemas.media.original_key's prefix
log = structlog.get_logger("photofeed.cleanup")


@dataclass(frozen=True, slots=True)
class CleanupReport:
    aborted_multipart: int
    deleted_originals: int


async def clean_abandoned_uploads(
    store: S3Store,
    photo_known: Callable[[int], Awaitable[bool]],
    older_than_s: int,
    now: datetime | None = None,
) -> CleanupReport:
    cutoff = (now or datetime.now(tz=UTC)) - timedelta(seconds=older_than_s)
    aborted = 0
    for pending in await store.pending_multipart(ORIGINALS_PREFIX):
        if pending.started < cutoff:
            await store.abort_multipart(pending.key, pending.upload_id)
            aborted += 1
    deleted = 0
    for key in await store.list_older(ORIGINALS_PREFIX, cutoff):
        photo_id = _photo_id(key)
        if photo_id is not None and not await photo_known(photo_id):
            await store.delete(key)
            deleted += 1
    if aborted or deleted:
        log.info("abandoned_uploads_removed", multipart=aborted, originals=deleted)
    return CleanupReport(aborted, deleted)


def _photo_id(key: str) -> int | None:
    tail = key.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None
