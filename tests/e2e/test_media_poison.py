"""Poison images end to end: bytes the image libraries choke on are rejected, and the media
pipeline keeps publishing everyone else's photos right behind them.

The 1 x 700,000 PNG (1.4 KB, under the pixel cap) once made libvips raise outside any `try`; the
media agent took that for an outage and retried it forever, so every later upload stayed
`processing`. The ordinary uploads here are sent after the poison and land on the same
partitions as it (read back from the log), so a stalled partition cannot hide behind another.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from infra.settings import Settings
from infra.topics import PHOTOS
from replay.reader import read_to_end
from schemas.events import PhotoUploaded
from tests import samples
from tests.e2e.test_photos_api import upload_and_complete
from tests.fixtures import bearer, eventually, register

pytestmark = pytest.mark.stack
ORDINARY_UPLOADS_MAX = 9  # < the upload rate limit (10 a minute per user)
OWNERS_MAX = 4  # 36 uploads miss one of 3 partitions with probability (2/3)^36 < 1e-6
PUBLISHED_WITHIN_S = 20.0  # a stalled partition would keep them `processing` forever


async def direct_upload(api: httpx.AsyncClient, token: str, data: bytes, ctype: str) -> str:
    """The multipart/form-data path: the gateway streams the file to S3 itself."""
    r = await api.post(
        "/photos", headers=bearer(token), files={"photo": ("p.png", data, ctype)},
        data={"caption": "poison or not"},
    )  # fmt: skip
    assert r.status_code == 202, r.text
    photo_id: str = r.json()["photo_id"]
    return photo_id


def _partition_of(settings: Settings, photo_id: str) -> int:
    for logged in read_to_end(settings.bootstrap, [PHOTOS.name]):  # poison reads as undecodable
        if isinstance(logged.event, PhotoUploaded) and logged.event.photo_id == int(photo_id):
            return logged.partition
    raise AssertionError(f"no PhotoUploaded for {photo_id} in {PHOTOS.name}")


async def partition_of(settings: Settings, photo_id: str) -> int:
    """The photos-topic partition its PhotoUploaded went to (appended before the 202)."""
    return await asyncio.to_thread(_partition_of, settings, photo_id)


async def ordinary_uploads_behind(
    api: httpx.AsyncClient, settings: Settings, partitions: set[int]
) -> list[tuple[str, str]]:
    """Ordinary direct uploads, sent until every partition in `partitions` has one: (owner's
    token, photo id) each. A new owner every ORDINARY_UPLOADS_MAX uploads (the rate limit), up
    to OWNERS_MAX owners: partitions are chosen by key hash, so a few uploads may miss one."""
    uncovered, sent = set(partitions), []
    for owner in range(OWNERS_MAX):
        _, token = await register(api)
        for seed in range(ORDINARY_UPLOADS_MAX):
            data = samples.png(samples.scene(320, 240, seed=owner * 100 + seed))
            sent.append((token, await direct_upload(api, token, data, "image/png")))
            uncovered.discard(await partition_of(settings, sent[-1][1]))
            if not uncovered:
                return sent
    raise AssertionError(f"no ordinary upload landed on partitions {uncovered}")


async def settled(api: httpx.AsyncClient, token: str, photo_id: str) -> dict[str, Any]:
    """The photo's status once it is no longer `processing`, within PUBLISHED_WITHIN_S."""

    async def status() -> dict[str, Any]:
        r = await api.get(f"/photos/{photo_id}/status", headers=bearer(token))
        body: dict[str, Any] = r.json()
        return body

    return await eventually(status, lambda s: s.get("status") != "processing",
                            timeout_s=PUBLISHED_WITHIN_S)  # fmt: skip


async def test_thin_pngs_are_rejected_and_uploads_behind_them_are_published(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    _, token = await register(api)
    thin = await direct_upload(api, token, samples.blank_png(1, 700_000), "image/png")
    thinner = await upload_and_complete(  # presigned PUT, then complete
        api, token, samples.blank_png(1, 15_000_000), "image/png"
    )
    poison = {thin: "1x700000", thinner: "1x15000000"}
    partitions = {await partition_of(settings, photo_id) for photo_id in poison}
    ordinary = await ordinary_uploads_behind(api, settings, partitions)

    for owner, photo_id in ordinary:
        status = await settled(api, owner, photo_id)
        assert status["status"] == "published", status
        assert (status["width"], status["height"]) == (320, 240)
    for photo_id, size in poison.items():
        status = await settled(api, token, photo_id)
        assert status["status"] == "rejected", status
        assert status["reason_code"] == "extreme_aspect_ratio"
        assert size in status["reason"]
        assert "urls" not in status
        assert (await api.get(f"/photos/{photo_id}")).status_code == 404
