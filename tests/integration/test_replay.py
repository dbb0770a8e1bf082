"""`replay graph` rebuilds the graph into a fresh version that equals the live one, then swaps."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.processes import ManagedProcess
from infra.settings import Settings
from photofeed.replay_cli import replay_group
from projections.graph.keys import GraphKeys
from projections.graph.redis import RedisGraph
from projections.groups import Group
from projections.versions.redis import RedisVersions
from tests.fixtures import eventually
from tests.integration.helpers import followed, registered

pytestmark = pytest.mark.stack


async def test_replay_rebuilds_verifies_swaps_and_keeps_up_with_live_events(
    settings: Settings, worker: ManagedProcess, event_log: KafkaEventLog, redis: Redis
) -> None:
    versions = RedisVersions(redis)
    hub = registered(f"hub{uuid.uuid4().hex[:8]}")
    fans = [registered(f"fan{uuid.uuid4().hex[:8]}") for _ in range(30)]
    await event_log.append(hub, *fans, *(followed(f.actor_id, hub.actor_id) for f in fans))
    live = await versions.active(Group.GRAPH)

    async def live_count() -> int:
        g = RedisGraph(redis, await versions.active(Group.GRAPH))
        return (await g.counts([hub.actor_id]))[hub.actor_id].followers

    await eventually(live_count, lambda n: n == 30, timeout_s=10)

    late = [registered(f"late{uuid.uuid4().hex[:8]}") for _ in range(5)]

    async def append_during_replay() -> None:
        for fan in late:
            await event_log.append(fan, followed(fan.actor_id, hub.actor_id))
            await asyncio.sleep(0.05)

    result, _ = await asyncio.gather(replay_group(settings, Group.GRAPH), append_during_replay())

    assert result.swapped, result
    assert result.differences == 0, result
    assert result.version > live
    assert await versions.active(Group.GRAPH) == result.version
    assert result.dropped_version == live
    assert [k async for k in redis.scan_iter(match=f"{GraphKeys(live).prefix}:*")] == []
    # events appended while the replay ran are in the new version (the worker wrote both)
    assert await eventually(live_count, lambda n: n == 35, timeout_s=10) == 35
    rebuilt = RedisGraph(redis, result.version)

    async def late_names() -> set[str]:  # the users topic: no order against the follows above
        return {v.username for v in (await rebuilt.users([f.actor_id for f in late])).values()}

    await eventually(late_names, lambda names: names == {f.username for f in late})
    # the worker keeps projecting into the swapped-in version
    newest = registered(f"new{uuid.uuid4().hex[:8]}")
    await event_log.append(newest, followed(newest.actor_id, hub.actor_id))
    assert await eventually(live_count, lambda n: n == 36, timeout_s=10) == 36


async def test_replay_without_swap_leaves_live_untouched(
    settings: Settings, worker: ManagedProcess, redis: Redis
) -> None:
    versions = RedisVersions(redis)
    before = await versions.active(Group.GRAPH)
    result = await replay_group(settings, Group.GRAPH, swap=False)
    assert not result.swapped
    assert await versions.active(Group.GRAPH) == before
    assert await versions.targets(Group.GRAPH) == [before]
    assert [k async for k in redis.scan_iter(match=f"{GraphKeys(result.version).prefix}:*")] == []


async def test_replay_photos_rebuilds_status_and_content_index(
    settings: Settings, worker: ManagedProcess, event_log: KafkaEventLog, redis: Redis
) -> None:
    from datetime import UTC, datetime

    from projections.photos.redis import RedisPhotos
    from schemas import events as ev
    from schemas.media import variant_key
    from tests.integration.helpers import IDS

    owner, photo, rejected = IDS.next_id(), IDS.next_id(), IDS.next_id()
    now = datetime.now(tz=UTC).replace(microsecond=0)
    sha = "aa" + "0" * 62
    variants = ev.Variants(*(variant_key(sha, n) for n in ("thumbnail", "feed", "full")))

    # no PhotoUploaded here: the live media agent would act on it (and reject the missing file)
    await event_log.append(
        ev.PhotoProcessed(
            event_id=IDS.next_id(),
            occurred_at=now,
            actor_id=owner,
            photo_id=photo,
            content_sha256="aa" + "0" * 62,
            variants=variants,
            width=4,
            height=3,
            blurhash="LEHV6nWB2yk8",
            phash=-5,
        ),
        ev.PostPublished(
            event_id=IDS.next_id(),
            occurred_at=now,
            actor_id=owner,
            post_id=photo,
            photo_id=photo,
            caption="c",
            tags=("t",),
            variants=variants,
            width=4,
            height=3,
            blurhash="LEHV6nWB2yk8",
        ),
        ev.PhotoRejected(
            event_id=IDS.next_id(),
            occurred_at=now,
            actor_id=owner,
            photo_id=rejected,
            reason_code="corrupt",
            reason="The file is damaged.",
        ),
    )
    versions = RedisVersions(redis)

    async def statuses() -> tuple[str | None, str | None]:
        photos = RedisPhotos(redis, await versions.active(Group.PHOTOS))
        a, b = await photos.photo(photo), await photos.photo(rejected)
        return (a.status if a else None, b.status if b else None)

    await eventually(statuses, lambda s: s == ("published", "rejected"), timeout_s=15)
    result = await replay_group(settings, Group.PHOTOS)
    assert result.swapped, result
    assert result.differences == 0, result
    assert await statuses() == ("published", "rejected")
    rebuilt = RedisPhotos(redis, result.version)
    content = await rebuilt.content("aa" + "0" * 62)
    assert content is not None
    assert content.references >= 1
    assert content.phash == -5


async def test_replay_feeds_rebuilds_timelines_and_feeds_equivalently(
    settings: Settings, worker: ManagedProcess, event_log: KafkaEventLog, redis: Redis
) -> None:
    from datetime import UTC, datetime

    from projections.feeds.query import read_feed
    from projections.feeds.redis import RedisFeeds
    from schemas import events as ev
    from tests.integration.helpers import IDS

    author, reader = (
        registered(f"au{uuid.uuid4().hex[:8]}"),
        registered(f"rd{uuid.uuid4().hex[:8]}"),
    )
    posts = []
    for i in range(4):
        post = IDS.next_id()
        posts.append(post)
        await event_log.append(
            ev.PostPublished(
                event_id=IDS.next_id(), occurred_at=datetime.now(tz=UTC),
                actor_id=author.actor_id, post_id=post, photo_id=post, caption=f"c{i}",
                tags=(), variants=ev.Variants("a", "b", "c"), width=1, height=1, blurhash="x",
            )
        )  # fmt: skip
    await event_log.append(author, reader, followed(reader.actor_id, author.actor_id))
    versions = RedisVersions(redis)

    async def page() -> list[int]:
        feeds = RedisFeeds(redis, await versions.active(Group.FEEDS))
        got = await read_feed(feeds, reader.actor_id, {author.actor_id}, 10, None)
        return [p.post_id for p in got.posts]

    expected = list(reversed(posts))
    await eventually(page, lambda p: p == expected, timeout_s=15)
    result = await replay_group(settings, Group.FEEDS)
    assert result.swapped, result
    assert result.differences == 0, result
    assert await versions.active(Group.FEEDS) == result.version
    assert await page() == expected
