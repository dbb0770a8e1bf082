"""Home feed, profile grid and posts over HTTP, fed through Tansu by the real worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from projections.feeds.redis import RedisFeeds
from projections.groups import Group
from projections.versions.redis import RedisVersions
from schemas import events as ev
from schemas.ids import SnowflakeGenerator
from tests.fixtures import bearer, eventually, register
from tests.integration.helpers import followed, published

pytestmark = pytest.mark.stack
IDS = SnowflakeGenerator(1022)


async def feed(api: httpx.AsyncClient, token: str, **params: Any) -> dict[str, Any]:
    r = await api.get("/feed", params=params, headers=bearer(token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def captions(api: httpx.AsyncClient, token: str) -> list[str]:
    return [p["caption"] for p in (await feed(api, token, limit=100))["posts"]]


async def test_push_pages_unfollow_delete_and_grid(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    _, token = await register(api)
    author, _ = await register(api)
    assert (await api.post(f"/follow/{author}", headers=bearer(token))).status_code == 204
    await eventually(lambda: api.get(f"/users/{author}"),
                     lambda r: r.json().get("follower_count") == 1)  # fmt: skip
    posts = [published(author, f"p{i}") for i in range(5)]
    for p in posts:
        await event_log.append(p)
    await eventually(lambda: captions(api, token), lambda c: len(c) == 5)

    seen, cursor = [], None
    while True:
        page = await feed(api, token, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [p["caption"] for p in page["posts"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == ["p4", "p3", "p2", "p1", "p0"]
    first = (await feed(api, token, limit=1))["posts"][0]
    assert first["user"]["user_id"] == author
    assert first["image_urls"]["feed"].endswith(f"v/{posts[-1].post_id}/f.jpg")
    assert (first["width"], first["height"], first["like_count"]) == (1080, 810, 0)

    grid = (await api.get(f"/users/{author}/posts", params={"limit": 3})).json()
    assert [p["caption"] for p in grid["posts"]] == ["p4", "p3", "p2"]
    assert grid["has_more"] is True
    assert (await api.get(f"/users/{author}")).json()["post_count"] == 5

    stranger, stranger_token = await register(api)
    gone = posts[2].post_id
    assert (await api.delete(f"/posts/{gone}", headers=bearer(stranger_token))).status_code == 403
    await event_log.append(
        ev.PostDeleted(
            event_id=IDS.next_id(),
            occurred_at=datetime.now(tz=UTC),
            actor_id=int(author),
            post_id=gone,
        )
    )
    await eventually(lambda: captions(api, token), lambda c: "p2" not in c)
    assert (await api.get(f"/posts/{gone}")).status_code == 404
    assert (await api.get(f"/posts/{posts[0].post_id}")).json()["caption"] == "p0"

    assert (await api.delete(f"/follow/{author}", headers=bearer(token))).status_code == 204
    await eventually(lambda: captions(api, token), lambda c: c == [])
    assert stranger


async def test_celebrity_posts_are_pulled_and_backfill_on_follow(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings
) -> None:
    star, _ = await register(api)
    fan, fan_token = await register(api)
    assert (await api.post(f"/follow/{star}", headers=bearer(fan_token))).status_code == 204
    crowd = range(10**16, 10**16 + settings.celebrity_threshold - 1)  # followers by event alone
    await event_log.append(*(followed(u, int(star)) for u in crowd))
    redis = Redis.from_url(settings.redis)
    versions = RedisVersions(redis)

    async def celebrities() -> set[int]:
        return await RedisFeeds(redis, await versions.active(Group.FEEDS)).celebrities()

    await eventually(celebrities, lambda c: int(star) in c, timeout_s=15)
    hit = published(star, f"hit-{uuid.uuid4().hex[:6]}")
    await event_log.append(hit)
    await eventually(lambda: captions(api, fan_token), lambda c: hit.caption in c)
    feeds = RedisFeeds(redis, await versions.active(Group.FEEDS))
    pushed = await feeds.feed_page(int(fan), 100, None)
    assert hit.post_id not in {p for p, _ in pushed}  # pulled at read time, never pushed

    late, late_token = await register(api)
    assert (await api.post(f"/follow/{star}", headers=bearer(late_token))).status_code == 204
    await eventually(lambda: captions(api, late_token), lambda c: hit.caption in c)

    # a normal author's recent posts are backfilled into a new follower's pushed feed
    writer, _ = await register(api)
    old = published(writer, "before-you-followed")
    await event_log.append(old)
    await eventually(lambda: api.get(f"/posts/{old.post_id}"), lambda r: r.status_code == 200)
    assert (await api.post(f"/follow/{writer}", headers=bearer(late_token))).status_code == 204
    await eventually(lambda: captions(api, late_token), lambda c: "before-you-followed" in c)
    pushed = await feeds.feed_page(int(late), 100, None)
    assert old.post_id in {p for p, _ in pushed}

    # an evicted feed is served by pulling from timelines at once
    await redis.delete(feeds.keys.feed(int(late)))
    assert set(await captions(api, late_token)) >= {"before-you-followed", hit.caption}
    rebuilt = await eventually(lambda: feeds.feed_page(int(late), 100, None), bool)
    assert old.post_id in {p for p, _ in rebuilt}  # rebuilt in the background,
    assert hit.post_id not in {p for p, _ in rebuilt}  # without the celebrity's posts
    await redis.aclose()


async def test_feed_errors(api: httpx.AsyncClient) -> None:
    assert (await api.get("/feed")).status_code == 401
    _, token = await register(api)
    assert (
        await api.get("/feed", params={"cursor": "nope!"}, headers=bearer(token))
    ).status_code == 400
    assert (
        await api.get("/feed", params={"limit": "500"}, headers=bearer(token))
    ).status_code == 422
    empty = await feed(api, token)
    assert empty == {"posts": [], "next_cursor": None, "has_more": False}
    assert (await api.get("/posts/123")).status_code == 404
    assert (await api.get("/users/123/posts")).status_code == 404
