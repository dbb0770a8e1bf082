"""Deleting a post removes every trace of it: 1,000 home feeds, the author's grid, search, counts,
notifications, and its bytes on S3 once no other post uses them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from photofeed.bootstrap import s3_store
from projections.feeds.redis import RedisFeeds
from projections.groups import Group
from projections.versions.redis import RedisVersions
from schemas.media import original_key
from tests import samples
from tests.e2e.test_photos_api import fetch, final_status, upload_and_complete
from tests.fixtures import bearer, eventually, register
from tests.integration.helpers import followed

pytestmark = pytest.mark.stack
FOLLOWERS = 1_000


async def feeds(redis: Redis) -> RedisFeeds:
    return RedisFeeds(redis, await RedisVersions(redis).active(Group.FEEDS))


async def in_feeds(redis: Redis, owners: list[int], post: int) -> int:
    f = await feeds(redis)
    async with redis.pipeline(transaction=False) as pipe:
        for owner in owners:
            pipe.zscore(f.keys.feed(owner), str(post))
        scores = await pipe.execute()
    return sum(s is not None for s in scores)


async def get(api: httpx.AsyncClient, path: str, token: str | None = None, **params: Any) -> Any:
    r = await api.get(path, params=params, headers=bearer(token) if token else {})
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_deleted_post_leaves_no_trace(
    api: httpx.AsyncClient, event_log: KafkaEventLog, redis: Redis, settings: Settings
) -> None:
    author, token = await register(api)
    fan, fan_token = await register(api)
    crowd = [10**15 + i for i in range(FOLLOWERS - 1)]
    await event_log.append(*(followed(u, int(author)) for u in crowd))
    assert (await api.post(f"/follow/{author}", headers=bearer(fan_token))).status_code == 204
    await eventually(lambda: api.get(f"/users/{author}"),
                     lambda r: r.status_code == 200 and r.json()["follower_count"] == FOLLOWERS,
                     timeout_s=30)  # fmt: skip

    word = "zq" + uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))
    data = samples.jpeg(samples.quadrants(800, 600))
    photo = await upload_and_complete(api, token, data, "image/jpeg")
    status = await final_status(api, token, photo)
    assert status["status"] == "published", status
    post = int(status["post_id"])
    caption_search = {"q": "sunset"}  # the upload helper's caption: "sunset at the pier"
    owners = [*crowd, int(fan)]
    await eventually(lambda: in_feeds(redis, owners, post), lambda n: n == FOLLOWERS, timeout_s=30)
    assert (await api.post(f"/likes/{post}", headers=bearer(fan_token))).status_code == 204
    r = await api.post(f"/posts/{post}/comments", json={"text": word}, headers=bearer(fan_token))
    assert r.status_code == 201
    await eventually(lambda: get(api, "/notifications", token),
                     lambda b: len(b["notifications"]) == 3)  # follow, like, comment  # fmt: skip
    await eventually(lambda: get(api, "/search", **caption_search),
                     lambda b: str(post) in [p["post_id"] for p in b["posts"]])  # fmt: skip
    variant_urls = list(status["urls"].values())
    assert [(await fetch(u)).status_code for u in variant_urls] == [200, 200, 200]
    store = s3_store(settings)
    assert await store.stat(original_key(int(author), int(photo))) is not None

    assert (await api.delete(f"/posts/{post}", headers=bearer(fan_token))).status_code == 403
    assert (await api.delete(f"/posts/{post}", headers=bearer(token))).status_code == 204

    await eventually(lambda: api.get(f"/posts/{post}"), lambda r: r.status_code == 404)
    await eventually(lambda: in_feeds(redis, owners, post), lambda n: n == 0, timeout_s=30)
    feed = await get(api, "/feed", fan_token)
    assert str(post) not in [p["post_id"] for p in feed["posts"]]
    grid = await get(api, f"/users/{author}/posts")
    assert grid["posts"] == []
    assert (await get(api, f"/users/{author}"))["post_count"] == 0
    found = await get(api, "/search", **caption_search)
    assert str(post) not in [p["post_id"] for p in found["posts"]]
    notes = (await get(api, "/notifications", token))["notifications"]
    assert [n["type"] for n in notes] == ["follow"]
    # the photos group applies the deletion too, on its own time (no order between groups' sinks)
    await eventually(lambda: api.get(f"/photos/{photo}", params={"size": "feed"}),
                     lambda r: r.status_code == 410)  # fmt: skip
    assert (await api.post(f"/likes/{post}", headers=bearer(fan_token))).status_code == 404
    await eventually(lambda: fetch(variant_urls[0]), lambda r: r.status_code == 404)
    assert [(await fetch(u)).status_code for u in variant_urls] == [404, 404, 404]
    assert await store.stat(original_key(int(author), int(photo))) is None


async def test_shared_variants_outlive_one_of_their_posts(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    _, token = await register(api)
    data = samples.jpeg(samples.quadrants(640, 480))
    first = await final_status(
        api, token, await upload_and_complete(api, token, data, "image/jpeg")
    )
    second = await final_status(
        api, token, await upload_and_complete(api, token, data, "image/jpeg")
    )
    assert first["urls"] == second["urls"]  # byte-identical: one set of variants
    assert (
        await api.delete(f"/posts/{first['post_id']}", headers=bearer(token))
    ).status_code == 204
    await eventually(lambda: api.get(f"/photos/{first['photo_id']}", params={"size": "feed"}),
                     lambda r: r.status_code == 410)  # fmt: skip
    assert (await fetch(second["urls"]["feed"])).status_code == 200  # still used by the second
    assert (
        await api.delete(f"/posts/{second['post_id']}", headers=bearer(token))
    ).status_code == 204
    await eventually(lambda: fetch(second["urls"]["feed"]), lambda r: r.status_code == 404)
