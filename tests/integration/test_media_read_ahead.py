"""The media agent's work ahead (streams/media_agent.py `expect`), on the real S3 store and Valkey:
while one upload is processed the next announced one's original is read, and it is processed
while the one before is stored; that changes nothing an upload ends as: the bytes processed are
that upload's own, a missing original is still `missing_upload`, a bad image still its own
rejection, and work ahead for an earlier batch is never served to a later one."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from infra.objectstore import S3Store
from infra.settings import Settings
from infra.stack import Stack
from photofeed.bootstrap import media_agent, s3_store
from schemas import events as ev
from schemas.ids import SnowflakeGenerator
from schemas.media import original_key
from streams.media_agent import MediaAgent
from tests import samples

pytestmark = pytest.mark.stack
IDS = SnowflakeGenerator(77)


def announce(owner: int, body: bytes) -> ev.PhotoUploaded:
    photo = IDS.next_id()
    return ev.PhotoUploaded(
        event_id=IDS.next_id(), occurred_at=datetime.now(tz=UTC), actor_id=owner, photo_id=photo,
        object_key=original_key(owner, photo), content_type="image/jpeg", size_bytes=len(body),
        caption="read ahead", tags=(),
    )  # fmt: skip


async def uploaded(store: S3Store, owner: int, seed: int) -> tuple[ev.PhotoUploaded, bytes]:
    """A fresh JPEG stored as an original, and the event announcing it."""
    body = samples.jpeg(samples.scene(320, 240, seed=seed))
    upload = announce(owner, body)
    await store.put(upload.object_key, body, len(body), "image/jpeg")
    return upload, body


@pytest.fixture
async def parts(stack: Stack, settings: Settings, redis: Redis) -> tuple[MediaAgent, S3Store]:
    store = s3_store(settings)
    await asyncio.to_thread(store.ensure_bucket)
    return media_agent(settings, redis, IDS), store


def outcome(events: list[ev.Event]) -> tuple[str, str]:
    first = events[0]
    return type(first).__name__, getattr(first, "reason_code", "")


async def test_each_upload_of_a_read_ahead_batch_is_processed_from_its_own_bytes(
    parts: tuple[MediaAgent, S3Store],
) -> None:
    agent, store = parts
    owner = IDS.next_id()
    batch = [await uploaded(store, owner, seed) for seed in (301, 302, 303)]
    agent.expect([upload for upload, _ in batch])
    for upload, body in batch:
        events = await agent.handle(upload)
        processed = events[0]
        assert isinstance(processed, ev.PhotoProcessed), events
        assert processed.photo_id == upload.photo_id
        assert processed.content_sha256 == hashlib.sha256(body).hexdigest()


async def test_an_announced_upload_whose_original_is_missing_ends_rejected(
    parts: tuple[MediaAgent, S3Store],
) -> None:
    agent, store = parts
    owner = IDS.next_id()
    present, _ = await uploaded(store, owner, 311)
    missing = announce(owner, b"never stored")
    agent.expect([present, missing])
    assert outcome(await agent.handle(present)) == ("PhotoProcessed", "")
    assert outcome(await agent.handle(missing)) == ("PhotoRejected", "missing_upload")


async def test_a_read_ahead_for_an_earlier_batch_is_not_served_to_a_later_one(
    parts: tuple[MediaAgent, S3Store],
) -> None:
    agent, store = parts
    owner = IDS.next_id()
    first, _ = await uploaded(store, owner, 321)
    second, _ = await uploaded(store, owner, 322)
    agent.expect([first, second])
    assert outcome(await agent.handle(first)) == ("PhotoProcessed", "")  # second read ahead
    await store.delete(second.object_key)  # gone before its batch comes: it must be read again
    agent.expect([second])
    assert outcome(await agent.handle(second)) == ("PhotoRejected", "missing_upload")


async def test_a_batch_worked_ahead_ends_each_upload_as_its_own_bytes_say(
    parts: tuple[MediaAgent, S3Store],
) -> None:
    """Uploads are read and processed ahead of their turn (two at most): a fake image, a
    decompression bomb and byte-identical twins in one batch each still end as handled alone."""
    agent, store = parts
    owner = IDS.next_id()
    good, good_body = await uploaded(store, owner, 331)
    twin = announce(owner, good_body)
    await store.put(twin.object_key, good_body, len(good_body), "image/jpeg")
    fake = announce(owner, samples.PDF)
    await store.put(fake.object_key, samples.PDF, len(samples.PDF), "image/jpeg")
    bomb_body = samples.bomb_png()
    bomb = dataclasses.replace(announce(owner, bomb_body), content_type="image/png")
    await store.put(bomb.object_key, bomb_body, len(bomb_body), "image/png")
    last, last_body = await uploaded(store, owner, 332)
    batch = [good, fake, twin, bomb, last]
    agent.expect(batch)
    ends = [await agent.handle(upload) for upload in batch]
    assert [outcome(e)[0] for e in ends] == [
        "PhotoProcessed", "PhotoRejected", "PhotoProcessed", "PhotoRejected", "PhotoProcessed"
    ]  # fmt: skip
    assert outcome(ends[1])[1] == "not_an_image"
    assert outcome(ends[3])[1] == "too_many_pixels"
    shas = [getattr(e[0], "content_sha256", None) for e in ends]
    assert shas[0] == shas[2] == hashlib.sha256(good_body).hexdigest()
    assert shas[4] == hashlib.sha256(last_body).hexdigest()
    assert [getattr(e[0], "photo_id", None) for e in ends] == [u.photo_id for u in batch]
