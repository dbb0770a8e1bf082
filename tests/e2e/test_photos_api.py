"""Photo uploads end to end: gateway -> SeaweedFS -> Tansu -> media agent -> variants on S3."""

from __future__ import annotations

import asyncio
import functools
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from infra.presign import presign_url
from infra.settings import Settings
from infra.topics import PHOTOS
from replay.reader import read_to_end
from schemas.events import PhotoUploaded
from tests import samples
from tests.fixtures import bearer, eventually, register

pytestmark = pytest.mark.stack
SIZES = {"thumbnail": 150, "feed": 640, "full": 1080}


async def presigned(
    api: httpx.AsyncClient, token: str, data: bytes, ctype: str, **extra: Any
) -> dict[str, Any]:
    body = {"filename": "p.jpg", "content_type": ctype, "size_bytes": len(data),
            "caption": "sunset at the pier", "tags": ["sunset", "#Sea"], **extra}  # fmt: skip
    r = await api.post("/photos", json=body, headers=bearer(token))
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def upload_and_complete(
    api: httpx.AsyncClient, token: str, data: bytes, ctype: str, declared: str | None = None
) -> str:
    ticket = await presigned(api, token, data, declared or ctype)
    async with httpx.AsyncClient() as s3:
        put = await s3.put(ticket["upload_url"], content=data,
                           headers=ticket["upload_headers"])  # fmt: skip
        assert put.status_code == 200, put.text
    done = await api.post(f"/photos/{ticket['photo_id']}/complete", headers=bearer(token))
    assert done.status_code == 202, done.text
    assert done.json()["status"] == "processing"
    photo_id: str = ticket["photo_id"]
    return photo_id


async def final_status(api: httpx.AsyncClient, token: str, photo_id: str) -> dict[str, Any]:
    async def status() -> dict[str, Any]:
        r = await api.get(f"/photos/{photo_id}/status", headers=bearer(token))
        body: dict[str, Any] = r.json()
        return body

    return await eventually(status, lambda s: s.get("status") in {"published", "rejected"},
                            timeout_s=30)  # fmt: skip


async def fetch(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as anon:
        return await anon.get(url)


async def test_presigned_jpeg_is_published_with_three_correct_variants(
    api: httpx.AsyncClient,
) -> None:
    _, token = await register(api)
    original = samples.quadrants(1600, 1200)  # landscape; EXIF says rotate 90 deg clockwise
    data = samples.jpeg(original, orientation=6, gps=True)
    photo_id = await upload_and_complete(api, token, data, "image/jpeg")
    status = await final_status(api, token, photo_id)
    assert status["status"] == "published", status
    assert (status["width"], status["height"]) == (1200, 1600)  # orientation applied
    assert status["blurhash"]
    for name, bound in SIZES.items():
        r = await fetch(status["urls"][name])
        assert r.status_code == 200
        assert "immutable" in r.headers["cache-control"]
        img = Image.open(io.BytesIO(r.content))
        assert img.format == "JPEG"
        if name == "thumbnail":
            assert img.size == (150, 150)
        else:
            assert max(img.size) == bound
            assert img.size[0] < img.size[1]  # portrait after orientation
        assert not img.getexif()  # no EXIF at all, so no GPS either
        rgb = img.convert("RGB")
        if name != "thumbnail":  # after rotating clockwise, red (top-left) is top-right
            r_, g_, b_ = rgb.getpixel((rgb.size[0] - 5, 5))  # type: ignore[misc]
            assert r_ > 150, (r_, g_, b_)
            assert max(g_, b_) < 100, (r_, g_, b_)
    redirect = await api.get(f"/photos/{photo_id}", params={"size": "thumbnail"})
    assert redirect.status_code == 302
    assert redirect.headers["location"] == status["urls"]["thumbnail"]


async def test_direct_form_upload_of_a_small_png(api: httpx.AsyncClient) -> None:
    _, token = await register(api)
    data = samples.png(samples.quadrants(300, 200))
    r = await api.post(
        "/photos", headers=bearer(token),
        files={"photo": ("small.png", data, "image/png")},
        data={"caption": "tiny", "tags": "one two", "lat": "52.1", "lon": "4.3"},
    )  # fmt: skip
    assert r.status_code == 202, r.text
    status = await final_status(api, token, r.json()["photo_id"])
    assert status["status"] == "published", status
    full = Image.open(io.BytesIO((await fetch(status["urls"]["full"])).content))
    assert full.size == (300, 200)  # never upscaled
    thumb = Image.open(io.BytesIO((await fetch(status["urls"]["thumbnail"])).content))
    assert thumb.size == (150, 150)


async def test_large_file_goes_multipart_and_resumes_part_by_part(
    api: httpx.AsyncClient,
) -> None:
    _, token = await register(api)
    data = samples.noise_jpeg(2600, 2000)
    assert len(data) > 5 * 1024 * 1024
    ticket = await presigned(api, token, data, "image/jpeg")
    multipart = ticket["multipart"]
    size = multipart["part_size"]
    etags = []
    async with httpx.AsyncClient(timeout=60) as s3:
        for part in reversed(multipart["parts"]):  # any order; a failed part is simply retried
            n = part["part_number"]
            chunk = data[(n - 1) * size : n * size]
            put = await s3.put(part["upload_url"], content=chunk)
            assert put.status_code == 200, put.text
            etags.append({"part_number": n, "etag": put.headers["etag"]})
    photo = ticket["photo_id"]
    missing = await api.post(f"/photos/{photo}/complete", json={"parts": etags[1:]},
                             headers=bearer(token))  # fmt: skip
    assert missing.status_code == 409
    done = await api.post(f"/photos/{photo}/complete", json={"parts": etags},
                          headers=bearer(token))  # fmt: skip
    assert done.status_code == 202, done.text
    status = await final_status(api, token, photo)
    assert status["status"] == "published", status
    assert (status["width"], status["height"]) == (2600, 2000)


@functools.cache
def bomb() -> bytes:
    return samples.bomb_png()


@pytest.mark.parametrize(
    ("make", "declared", "code"),
    [
        (lambda: samples.PDF, "image/jpeg", "not_an_image"),
        (lambda: samples.png(samples.quadrants(64, 64)), "image/jpeg", "type_mismatch"),
        (lambda: samples.jpeg(samples.quadrants(800, 600))[:4000], "image/jpeg", "corrupt"),
        (bomb, "image/png", "too_many_pixels"),
    ],
    ids=["pdf-renamed", "png-as-jpeg", "truncated-jpeg", "20000x20000"],
)
async def test_bad_images_are_rejected_with_a_reason_and_never_served(
    api: httpx.AsyncClient, make: Any, declared: str, code: str
) -> None:
    _, token = await register(api)
    data = make()
    photo_id = await upload_and_complete(api, token, data, declared)
    status = await final_status(api, token, photo_id)
    assert status["status"] == "rejected"
    assert status["reason_code"] == code
    assert status["reason"]
    assert "urls" not in status
    assert (await api.get(f"/photos/{photo_id}")).status_code == 404


async def test_upload_contract_violations(api: httpx.AsyncClient, settings: Settings) -> None:
    owner, token = await register(api)
    _, other_token = await register(api)
    data = samples.jpeg(samples.quadrants(200, 200))

    def ask(ctype: str, size: object) -> dict[str, object]:
        return {"filename": "x", "content_type": ctype, "size_bytes": size}

    too_big = await api.post("/photos", headers=bearer(token), json=ask("image/jpeg", 60 << 20))
    assert too_big.status_code == 413
    pdf = await api.post("/photos", headers=bearer(token), json=ask("application/pdf", 10))
    assert pdf.status_code == 415
    wrong = await api.post("/photos", headers=bearer(token), json=ask("image/jpeg", "10"))
    assert wrong.status_code == 422
    assert "size_bytes" in wrong.json()["error"]["message"]
    anonymous = await api.post("/photos", json={"filename": "x"})
    assert anonymous.status_code == 401

    ticket = await presigned(api, token, data, "image/jpeg")
    photo = ticket["photo_id"]
    early = await api.post(f"/photos/{photo}/complete", headers=bearer(token))
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "not_uploaded"
    async with httpx.AsyncClient() as s3:
        other_type = await s3.put(ticket["upload_url"], content=data,
                                  headers={"Content-Type": "image/png"})  # fmt: skip
        assert other_type.status_code == 403
        longer = await s3.put(ticket["upload_url"], content=data + b"x",
                              headers=ticket["upload_headers"])  # fmt: skip
        assert longer.status_code == 403
        an_hour_ago = datetime.now(tz=UTC) - timedelta(hours=1)
        expired = presign_url(
            "PUT", ticket["upload_url"].split("?")[0], region=settings.s3_region,
            access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
            now=an_hour_ago, expires_s=900,
            headers={"content-type": "image/jpeg", "content-length": str(len(data))},
        )  # fmt: skip
        late = await s3.put(expired, content=data, headers=ticket["upload_headers"])
        assert late.status_code == 403
        ok = await s3.put(ticket["upload_url"], content=data, headers=ticket["upload_headers"])
        assert ok.status_code == 200
    stolen = await api.post(f"/photos/{photo}/complete", headers=bearer(other_token))
    assert stolen.status_code == 403
    first = await api.post(f"/photos/{photo}/complete", headers=bearer(token))
    second = await api.post(f"/photos/{photo}/complete", headers=bearer(token))
    assert first.status_code == second.status_code == 202
    uploads = [  # read_to_end keeps other tests' poison messages as undecodable, not an error
        e for logged in read_to_end(settings.bootstrap, [PHOTOS.name])
        if isinstance(e := logged.event, PhotoUploaded) and e.photo_id == int(photo)
    ]  # fmt: skip
    assert len(uploads) == 1
    assert (
        await api.get(f"/photos/{photo}/status", headers=bearer(other_token))
    ).status_code == 404
    assert owner


async def test_byte_identical_uploads_share_variants(api: httpx.AsyncClient) -> None:
    _, token = await register(api)
    _, token2 = await register(api)
    data = samples.jpeg(samples.quadrants(500, 400, noise=True), q=85)
    one = await upload_and_complete(api, token, data, "image/jpeg")
    two = await upload_and_complete(api, token2, data, "image/jpeg")
    first = await final_status(api, token, one)
    second = await final_status(api, token2, two)
    assert first["status"] == second["status"] == "published"
    assert first["urls"] == second["urls"]
    assert first["post_id"] != second["post_id"]


async def test_blocklisted_image_is_rejected(api: httpx.AsyncClient, settings: Settings) -> None:
    from photofeed.cli import _phash_of  # the CLI's own path from image to hash

    _, token = await register(api)
    banned = samples.scene(640, 480)
    path = settings.data_dir / f"banned-{uuid.uuid4().hex}.jpg"
    path.write_bytes(samples.jpeg(banned, q=95))
    phash = _phash_of(str(path))
    from redis.asyncio import Redis

    from streams.blocklist import RedisBlocklist

    redis = Redis.from_url(settings.redis)
    await RedisBlocklist(redis).add(phash, "test: banned image")
    try:
        reencoded = samples.jpeg(banned.resize((480, 360)), q=70)  # a near-duplicate
        photo_id = await upload_and_complete(api, token, reencoded, "image/jpeg")
        status = await final_status(api, token, photo_id)
        assert status["status"] == "rejected"
        assert status["reason_code"] == "blocklisted"
        assert (await api.get(f"/photos/{photo_id}")).status_code == 404
    finally:
        await RedisBlocklist(redis).remove(phash)
        await redis.aclose()


async def test_upload_rate_limit_answers_429_with_retry_after(api: httpx.AsyncClient) -> None:
    _, token = await register(api)
    body = {"filename": "x.jpg", "content_type": "image/jpeg", "size_bytes": 1000}
    answers = await asyncio.gather(
        *(api.post("/photos", json=body, headers=bearer(token)) for _ in range(12))
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 10 + [429] * 2
    limited = next(r for r in answers if r.status_code == 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"


async def test_heic_upload_is_published(api: httpx.AsyncClient) -> None:
    import pillow_heif

    _, token = await register(api)
    heif = pillow_heif.from_pillow(samples.scene(1200, 900))
    out = io.BytesIO()
    heif.save(out, quality=80)
    photo_id = await upload_and_complete(api, token, out.getvalue(), "image/heic")
    status = await final_status(api, token, photo_id)
    assert status["status"] == "published", status
    assert (status["width"], status["height"]) == (1200, 900)
    full = Image.open(io.BytesIO((await fetch(status["urls"]["full"])).content))
    assert full.format == "JPEG"
    assert full.size == (1080, 810)
