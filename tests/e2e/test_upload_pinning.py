"""An original can be PUT again through its presigned URL for 15 minutes after `complete`:
`complete` pins the version it checked (the S3 ETag, carried by PhotoUploaded v3), and the media
agent refuses to process any other version (`upload_changed`). Real stack: SeaweedFS, Tansu,
the worker and the gateway."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from infra.topics import PHOTOS
from photofeed.bootstrap import s3_store
from replay.reader import read_to_end
from schemas import events as ev
from tests.e2e.test_photos_api import final_status, presigned
from tests.fixtures import bearer, register
from tests.integration.helpers import IDS, now
from tests.samples import noise_jpeg

pytestmark = pytest.mark.stack


async def uploaded_event(settings: Settings, photo_id: str) -> ev.PhotoUploaded:
    for logged in read_to_end(settings.bootstrap, [PHOTOS.name]):
        e = logged.event
        if isinstance(e, ev.PhotoUploaded) and str(e.photo_id) == photo_id:
            return e
    raise AssertionError(f"no PhotoUploaded for {photo_id}")


async def test_complete_pins_the_checked_version_and_a_swapped_original_is_refused(
    api: httpx.AsyncClient, settings: Settings, event_log: KafkaEventLog
) -> None:
    _, token = await register(api)
    first = noise_jpeg(64, 48)
    ticket: dict[str, Any] = await presigned(api, token, first, "image/jpeg")
    async with httpx.AsyncClient() as s3:
        put = await s3.put(ticket["upload_url"], content=first, headers=ticket["upload_headers"])
        assert put.status_code == 200, put.text
    done = await api.post(f"/photos/{ticket['photo_id']}/complete", headers=bearer(token))
    assert done.status_code == 202, done.text
    assert (await final_status(api, token, ticket["photo_id"]))["status"] == "published"

    store = s3_store(settings)
    event = await uploaded_event(settings, ticket["photo_id"])
    info = await store.stat(event.object_key)
    assert info is not None
    assert event.object_etag is not None
    assert event.object_etag.strip('"') == info.etag.strip('"')  # the version `complete` saw

    # the exploit: the presigned URL still works after `complete`; other bytes of the same size
    swapped = bytearray(first)
    swapped[-3] ^= 0xFF  # inside the entropy-coded data, before the EOI marker
    async with httpx.AsyncClient() as s3:
        again = await s3.put(ticket["upload_url"], content=bytes(swapped),
                             headers=ticket["upload_headers"])  # fmt: skip
        assert again.status_code == 200, "S3 accepts it: the defence is the pinned version"
    # a (re)delivery of the upload now meets a different original: refused, nothing published
    photo = IDS.next_id()
    replayed = dataclasses.replace(event, event_id=IDS.next_id(), occurred_at=now(), photo_id=photo)
    await event_log.append(replayed)
    final = await final_status(api, token, str(photo))
    assert final["status"] == "rejected"
    assert final["reason_code"] == "upload_changed"
