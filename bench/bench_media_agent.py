"""Uploads/s through the media agent (S3 read, validation, variants, hashes, three S3 writes,
the resulting events) for a 12 MP JPEG, vs the bare pyvips cascade on the same bytes, in the same
process, on the same machine. The uploads are announced as one batch (`MediaAgent.expect`), as
the worker does, so each next upload is read while the current one is processed, and processed
while the current one is stored (streams/media_agent.py, "Work ahead").
Run: make bench-media_agent
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from redis.asyncio import Redis

from bench.bench_media import bare_vips, jpeg_12mp
from bench.harness import isolated_stack, report
from infra.settings import Settings
from photofeed.bootstrap import media_agent, s3_store
from schemas import events as ev
from schemas.ids import SnowflakeGenerator
from schemas.media import original_key
from streams.app import MEDIA_BATCH_MAX
from streams.media.imaging import configure_libvips

UPLOADS = 16  # two worker batches of MEDIA_BATCH_MAX; distinct originals (trailing bytes differ)
MAX_SECONDS = 60.0
GOAL = 0.9


async def through_agent(settings: Settings, data: bytes) -> float:
    redis = Redis.from_url(settings.redis)
    store = s3_store(settings)
    store.ensure_bucket()
    ids = SnowflakeGenerator(9)
    agent = media_agent(settings, redis, ids)
    uploads = []
    for i in range(UPLOADS + 1):
        photo = ids.next_id()
        body = data + i.to_bytes(4, "big")  # after the JPEG's EOI marker: ignored by decoders
        await store.put(original_key(1, photo), body, len(body), "image/jpeg")
        uploads.append(
            ev.PhotoUploaded(
                event_id=ids.next_id(),
                occurred_at=datetime.now(tz=UTC),
                actor_id=1,
                photo_id=photo,
                object_key=original_key(1, photo),
                content_type="image/jpeg",
                size_bytes=len(body),
                caption="bench",
                tags=(),
            )
        )
    outcome = await agent.handle(uploads[0])  # warm-up
    assert isinstance(outcome[0], ev.PhotoProcessed), outcome
    started, done = time.perf_counter(), 0
    batches = [uploads[at : at + MEDIA_BATCH_MAX] for at in range(1, len(uploads), MEDIA_BATCH_MAX)]
    for batch in batches:
        if time.perf_counter() - started > MAX_SECONDS:
            break
        agent.expect(batch)  # as the worker announces each batch: the next read overlaps
        for upload in batch:
            results = await agent.handle(upload)
            assert isinstance(results[0], ev.PhotoProcessed), results
            done += 1
    rate = done / (time.perf_counter() - started)
    await redis.aclose()
    return rate


def bare(data: bytes) -> float:
    bare_vips(data)  # warm-up
    started, done = time.perf_counter(), 0
    while done < UPLOADS and time.perf_counter() - started < MAX_SECONDS:
        bare_vips(data)
        done += 1
    return done / (time.perf_counter() - started)


def main() -> None:
    configure_libvips(concurrency=1)
    data = jpeg_12mp()
    with isolated_stack("memory", partitions=1) as settings:
        baseline = bare(data)
        project = asyncio.run(through_agent(settings, data))
        baseline = (baseline + bare(data)) / 2  # bracket the project run against drift
    report("media_agent_uploads_per_s", project, baseline, GOAL, "uploads/s", better="higher",
           jpeg_mib=len(data) / 2**20)  # fmt: skip


if __name__ == "__main__":
    main()
