"""The media agent's logic: turn an uploaded original into published, immutable variants.

For each `PhotoUploaded` it reads the original (bounded), deduplicates by SHA-256 against the
content-addressed index, processes it (validation, decode, variants, blurhash, perceptual hash),
checks the blocklist, stores the variants and returns the events to append: `PhotoProcessed` and
`PostPublished`, or `PhotoRejected` with a reason the client can show.

An upload with `purpose="avatar"` goes through the same reading, validation, rejection codes,
blocklist and failure contract, but is cut into centred squares (`process_avatar`: 64, 150 and
320 px) stored under the owner's avatar prefix (`schemas.media.avatar_key`: never in the
content index, so no photo reuses them and erasure deletes them by prefix), and ends in
`UserAvatarChanged` with their keys instead of a post (`avatar_url` null: URLs are built from
the keys when read, under the public URL base of the day).

Failure contract of `MediaAgent.handle`: bad bytes never raise. Whatever an upload's content
makes the image libraries do ends as `PhotoRejected` (`process_image` promises only
`RejectedImage`; anything else escaping it is still turned into code `undecodable` here, and
logged with its class). Only infrastructure failures raise (S3 stat/read/put, the content index
or blocklist in Valkey unreachable), so the caller retries them as outages.

Work ahead: the worker announces each batch (`expect`), and each upload is prepared ahead (read,
hashed, looked up, processed) as a pipeline. One image is processed at a time (the `_cpu` lock:
one libvips thread per process, scale with processes); when an upload's processing starts, the
next one's original is read, and that one is processed as soon as the CPU is free, while the
upload before it is still being stored and announced. So S3 reads, variant writes and Valkey
lookups hide behind the CPU work (bench/bench_media_agent.py). At most two uploads run ahead of
the one being handled. Anything prepared ahead that fails raises when its upload is handled,
exactly as doing it then would. Content known when prepared is asked about again then (it may
have lost its last reference since); content processed ahead is stored as processed (the same
keys and bytes as any other upload of it).

Erased owners: the agent decodes raw events (the opener, which drops erased users' events, only
sits in front of the projections), so it asks the key store itself. An upload whose owner is
erased ends `PhotoRejected` with code `owner_erased` and nothing is written to S3; one whose owner
is erased while it is processed has the variants it just stored deleted again (unless another
photo already shows the same bytes). The rejection is the actor's own event, so the opener drops
it for the projections, live and in a replay alike: both agree the upload never happened.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from infra.objectstore import IMMUTABLE, ObjectChanged, S3Store
from projections.photos.ports import ContentView, PhotoIndex
from schemas import events as ev
from schemas.ids import SnowflakeGenerator
from schemas.media import AVATAR_SIZES, VARIANTS, avatar_key, variant_key
from streams.media.imaging import (
    VARIANT_CONTENT_TYPE,
    ProcessedImage,
    RejectedImage,
    hamming,
    process_avatar,
    process_image,
    undecodable,
)
from streams.opener import ErasedUsers

log = structlog.get_logger("photofeed.media")
CHANGED_REASON = "The photo changed after its upload was completed; upload it again."
PROCESSING_FAILED = "We could not process this photo right now; please upload it again."
BLOCKED_REASON = "This photo can't be shared because it matches content that is not allowed."
OWNER_ERASED = "The account that uploaded this photo was erased."
AVATAR = "avatar"  # PhotoUploaded.purpose of an avatar; anything else is a post


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_bytes: int
    max_pixels: int
    blocklist_max_distance: int


class _Processor(Protocol):
    """process_image or process_avatar (streams/media/imaging.py)."""

    def __call__(
        self, data: bytes, declared_type: str, *, max_bytes: int, max_pixels: int
    ) -> ProcessedImage: ...


class Blocklist(Protocol):
    """Perceptual hashes moderators blocked, with their notes."""

    async def entries(self) -> dict[int, str]: ...


class MediaAgent:
    def __init__(
        self,
        store: S3Store,
        index: Callable[[], Awaitable[PhotoIndex]],
        blocklist: Blocklist,
        ids: SnowflakeGenerator,
        limits: MediaLimits,
        owners: ErasedUsers,
    ) -> None:
        self._store = store
        self._index = index
        self._blocklist = blocklist
        self._ids = ids
        self._limits = limits
        self._owners = owners
        self._upcoming: list[ev.PhotoUploaded] = []  # announced by `expect`, in order
        self._ahead: dict[int, asyncio.Task[_Ready | _Refused]] = {}  # upload event id -> work
        self._handling = -1  # the index in _upcoming of the upload being handled
        self._begun: set[int] = set()  # uploads (event ids) processing or needing no processing
        self._cpu = asyncio.Lock()  # one image processed at a time

    def expect(self, uploads: Sequence[ev.PhotoUploaded]) -> None:
        """Announce the uploads about to be handled, in this order (the agent's batch), so each is
        prepared ahead (see the module's "Work ahead"). Optional: an upload not announced is
        prepared when handled. Work ahead left over from an earlier announcement is dropped."""
        for task in self._ahead.values():
            task.cancel()
        self._ahead.clear()
        self._begun.clear()
        self._upcoming = list(uploads)
        self._handling = -1

    async def handle(self, upload: ev.PhotoUploaded) -> list[ev.Event]:
        """The events that record what became of `upload`; idempotent in effect (same keys).

        Never raises for the upload's content (see the module docstring); raises only when S3
        or Valkey fail, which the caller retries. Writes nothing for an erased owner.
        """
        if await self._owner_erased(upload):
            self._drop(upload)
            return [self._rejected(upload, "owner_erased", OWNER_ERASED)]
        ready = await self._ready(upload)
        if isinstance(ready, _Refused):
            return [self._rejected(upload, ready.code, ready.reason)]
        if upload.purpose == AVATAR:
            return await self._avatar(upload, ready.data)
        sha = ready.sha
        image: ProcessedImage | RejectedImage | _Known | None = ready.image
        if image is None:  # known when prepared: asked again (its last reference may be gone)
            image = await self._image(upload, ready.data, sha)
        if isinstance(image, RejectedImage):
            return [self._rejected(upload, image.code, image.reason)]
        refused = await self._blocklisted(upload, image.phash)
        if refused:
            return refused
        if isinstance(image, ProcessedImage):
            await self._store_variants(sha, image)
        if await self._owner_erased(upload):  # erased meanwhile: its media step may be past
            if isinstance(image, ProcessedImage):
                await self._unstore_variants(sha)
            return [self._rejected(upload, "owner_erased", OWNER_ERASED)]
        return self._published(upload, sha, image)

    async def _avatar(self, upload: ev.PhotoUploaded, data: bytes) -> list[ev.Event]:
        """An avatar: checked as a photo is, its squares stored (idempotent: the same keys on a
        redelivery), then `UserAvatarChanged`; nothing is written for an erased owner."""
        try:
            image = await self._process(upload, data, process_avatar)
        except RejectedImage as exc:
            return [self._rejected(upload, exc.code, exc.reason)]
        refused = await self._blocklisted(upload, image.phash)
        if refused:
            return refused
        keys = [avatar_key(upload.actor_id, upload.photo_id, size) for size in AVATAR_SIZES]
        await asyncio.gather(
            *(self._put(key, image.variants[str(size)])
              for key, size in zip(keys, AVATAR_SIZES, strict=True))
        )  # fmt: skip
        if await self._owner_erased(upload):  # erased meanwhile: its media step may be past
            await asyncio.gather(*(self._store.delete(key) for key in keys))
            return [self._rejected(upload, "owner_erased", OWNER_ERASED)]
        changed = ev.UserAvatarChanged(
            event_id=self._ids.next_id(), occurred_at=datetime.now(tz=UTC),
            actor_id=upload.actor_id, avatar_url=None, avatar_keys=tuple(keys),
        )  # fmt: skip
        return [changed]

    async def _put(self, key: str, data: bytes) -> None:
        await self._store.put(key, data, len(data), VARIANT_CONTENT_TYPE, IMMUTABLE)

    async def _ready(self, upload: ev.PhotoUploaded) -> _Ready | _Refused:
        """The upload prepared: ahead (see `expect`) or now. Work ahead that failed raises here,
        as doing it now would (an outage: the caller retries, preparing again)."""
        at = self._index_of(upload)
        if at is not None:
            self._handling = at
            self._start(at)  # its own work first: it takes the CPU before any later upload
            for k in (at + 1, at + 2):  # then what the limit held back earlier
                if k < len(self._upcoming) and self._upcoming[k - 1].event_id in self._begun:
                    self._start(k)
        task = self._ahead.pop(upload.event_id, None)
        if task is None or task.cancelled():
            return await self._prepare(upload)
        return await task

    def _index_of(self, upload: ev.PhotoUploaded) -> int | None:
        for at, announced in enumerate(self._upcoming):
            if announced.event_id == upload.event_id:
                return at
        return None

    def _start(self, at: int) -> None:
        """Start preparing the announced upload at `at`, unless it is started, not announced,
        or more than two ahead of the one being handled (what is held in memory is bounded)."""
        if not 0 <= at < len(self._upcoming) or at > self._handling + 2:
            return
        upload = self._upcoming[at]
        if upload.event_id in self._ahead:
            return
        task = asyncio.create_task(self._prepare(upload), name="media-work-ahead")
        task.add_done_callback(_retrieved)
        self._ahead[upload.event_id] = task

    def _start_next(self, upload: ev.PhotoUploaded) -> None:
        """`upload` holds the CPU (or needs none): the next announced upload may start."""
        self._begun.add(upload.event_id)
        at = self._index_of(upload)
        if at is not None:
            self._start(at + 1)

    def _drop(self, upload: ev.PhotoUploaded) -> None:
        """Cancel the work ahead for an upload that ends without it (its owner erased)."""
        task = self._ahead.pop(upload.event_id, None)
        if task is not None:
            task.cancel()

    async def _prepare(self, upload: ev.PhotoUploaded) -> _Ready | _Refused:
        """Read, hash and (a photo whose content is not known yet) process the upload; the next
        announced one starts when this one's processing does (or when this one needs none)."""
        data = await self._read(upload)
        if isinstance(data, _Refused):
            self._start_next(upload)
            return data
        sha = hashlib.sha256(data).hexdigest()
        if upload.purpose == AVATAR:  # processed when handled (avatars are rare)
            self._start_next(upload)
            return _Ready(data, sha, None)
        image = await self._image(upload, data, sha, started=lambda: self._start_next(upload))
        return _Ready(data, sha, None if isinstance(image, _Known) else image)

    async def _image(
        self, upload: ev.PhotoUploaded, data: bytes, sha: str,
        started: Callable[[], None] | None = None,
    ) -> ProcessedImage | RejectedImage | _Known:  # fmt: skip
        """What the content index remembers of the content, else what processing it gives (a
        rejection returned, not raised); `started` as `_process` calls it (at once when known)."""
        known = await (await self._index()).content(sha)
        if known is not None and known.references > 0:
            if started is not None:
                started()
            return _from_index(known)
        try:
            return await self._process(upload, data, started=started)
        except RejectedImage as exc:
            return exc

    async def _read(self, upload: ev.PhotoUploaded) -> bytes | _Refused:
        """The original's bytes (bounded, the ETag `complete` checked), or why it cannot be used."""
        info = await self._store.stat(upload.object_key)
        if info is None:
            return _Refused("missing_upload", "The uploaded file is gone.")
        if info.size > self._limits.max_bytes:
            return _Refused("too_large", _too_large(self._limits.max_bytes))
        checked = upload.object_etag or ""  # v3: what `complete` saw; older events: unchecked
        if checked and _etag(info.etag) != _etag(checked):
            return _Refused("upload_changed", CHANGED_REASON)
        try:
            data = await self._store.read(upload.object_key, self._limits.max_bytes, checked)
        except ObjectChanged:  # written again between the stat and the read
            return _Refused("upload_changed", CHANGED_REASON)
        if len(data) > self._limits.max_bytes:
            return _Refused("too_large", _too_large(self._limits.max_bytes))
        return data

    async def _owner_erased(self, upload: ev.PhotoUploaded) -> bool:
        return bool(await self._owners.erased([upload.actor_id]))

    async def _unstore_variants(self, sha: str) -> None:
        """Delete the variants just stored, unless a photo references the content by now (the
        media janitor's rule)."""
        known = await (await self._index()).content(sha)
        if known is None or known.references == 0:
            await asyncio.gather(*(self._store.delete(variant_key(sha, n)) for n in VARIANTS))

    async def _process(
        self, upload: ev.PhotoUploaded, data: bytes, process: _Processor = process_image,
        started: Callable[[], None] | None = None,
    ) -> ProcessedImage:  # fmt: skip
        """`process` (a photo's or an avatar's) in a thread, one at a time (`started` is called
        when its turn comes); raises RejectedImage and nothing else (cancellation aside).

        `process_image` already promises that; this catch is the backstop, because an image that
        escaped it would otherwise be retried as an outage forever and stall the partition.
        """
        try:
            async with self._cpu:
                if started is not None:
                    started()
                work = asyncio.ensure_future(asyncio.to_thread(
                    process, data, upload.content_type,
                    max_bytes=self._limits.max_bytes, max_pixels=self._limits.max_pixels,
                ))  # fmt: skip
                try:
                    return await asyncio.shield(work)
                except asyncio.CancelledError:
                    # a thread cannot be stopped: the CPU stays taken until it ends
                    await asyncio.wait({work})
                    if not work.cancelled():
                        work.exception()  # seen: the caller is gone
                    raise
        except RejectedImage as exc:
            if exc.code == "undecodable":
                _log_undecodable(upload, exc.__cause__ or exc)
            raise
        except Exception as exc:  # a broken promise of process_image, not an outage
            _log_undecodable(upload, exc)
            raise undecodable(exc) from exc

    async def _blocklisted(self, upload: ev.PhotoUploaded, phash: int) -> list[ev.Event]:
        """The rejection of an image that matches the blocklist (photo or avatar alike); none
        when it does not."""
        match = await self._blocked(phash)
        if match is None:
            return []
        log.warning("blocklisted_upload", photo_id=upload.photo_id, note=match)
        return [self._rejected(upload, "blocklisted", BLOCKED_REASON)]

    async def _blocked(self, phash: int) -> str | None:
        for blocked, note in (await self._blocklist.entries()).items():
            if hamming(blocked, phash) <= self._limits.blocklist_max_distance:
                return note
        return None

    async def _store_variants(self, sha: str, image: ProcessedImage) -> None:
        await asyncio.gather(
            *(self._put(variant_key(sha, name), data) for name, data in image.variants.items())
        )

    def _published(
        self, upload: ev.PhotoUploaded, sha: str, image: ProcessedImage | _Known
    ) -> list[ev.Event]:
        variants = ev.Variants(*(variant_key(sha, n) for n in VARIANTS))
        now = datetime.now(tz=UTC)
        processed = ev.PhotoProcessed(
            event_id=self._ids.next_id(), occurred_at=now, actor_id=upload.actor_id,
            photo_id=upload.photo_id, content_sha256=sha, variants=variants, width=image.width,
            height=image.height, blurhash=image.blurhash, phash=image.phash,
        )  # fmt: skip
        post = ev.PostPublished(
            event_id=self._ids.next_id(), occurred_at=now, actor_id=upload.actor_id,
            post_id=upload.photo_id,  # one post per photo: a redelivery republishes the same post
            photo_id=upload.photo_id, caption=upload.caption, tags=upload.tags,
            variants=variants, width=image.width, height=image.height, blurhash=image.blurhash,
            alt_text=upload.alt_text, location=upload.location,
            sealed_location=upload.sealed_location, mentions=upload.mentions,
        )  # fmt: skip
        return [processed, post]

    def set_aside(self, upload: ev.PhotoUploaded) -> ev.PhotoRejected:
        """What the owner sees when the upload was dead-lettered (a bug, or an outage past its
        budget): rejected with `processing_failed`, never `processing` forever. A redrive that
        then succeeds publishes the photo (its later events win)."""
        return self._rejected(upload, "processing_failed", PROCESSING_FAILED)

    def _rejected(self, upload: ev.PhotoUploaded, code: str, reason: str) -> ev.PhotoRejected:
        return ev.PhotoRejected(
            event_id=self._ids.next_id(), occurred_at=datetime.now(tz=UTC),
            actor_id=upload.actor_id, photo_id=upload.photo_id, reason_code=code, reason=reason,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Refused:
    """Why an original cannot be processed, found while reading it (a PhotoRejected's code)."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class _Ready:
    """An upload's original, its SHA-256, and what processing gave (None: not processed, an
    avatar or content known when it was prepared)."""

    data: bytes
    sha: str
    image: ProcessedImage | RejectedImage | None


def _retrieved(task: asyncio.Task[_Ready | _Refused]) -> None:
    """Mark a work-ahead's failure as seen: one never awaited (its upload was not handled after
    all) is dropped quietly; one awaited raises in `handle` as usual."""
    if not task.cancelled():
        task.exception()


@dataclass(frozen=True, slots=True)
class _Known:
    """What the content index remembers of byte-identical earlier uploads."""

    width: int
    height: int
    blurhash: str
    phash: int


def _log_undecodable(upload: ev.PhotoUploaded, error: BaseException) -> None:
    """Bytes that passed every check yet the libraries choked on: worth a look, not a retry."""
    log.warning(
        "undecodable_upload", photo_id=upload.photo_id, content_type=upload.content_type,
        error_class=type(error).__name__, error=str(error)[:500],
    )  # fmt: skip


def _from_index(c: ContentView) -> _Known:
    return _Known(c.width, c.height, c.blurhash, c.phash)


def _etag(value: str) -> str:
    return value.strip('"')


def _too_large(limit: int) -> str:
    return f"The photo is larger than {limit // (1024 * 1024)} MB."
