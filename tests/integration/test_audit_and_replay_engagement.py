"""`photofeed audit counters` finds injected drift and repairs it; `replay engagement` rebuilds
likes, comments and notifications equal to the live ones, blue/green."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.processes import ManagedProcess
from infra.settings import Settings
from photofeed.audit_cli import audit_counters
from photofeed.replay_cli import replay_group
from projections.audit.logic import FOLLOWER_COUNT, LIKE_COUNT, Drift
from projections.engagement.redis import RedisEngagement
from projections.graph.redis import RedisGraph
from projections.groups import Group
from projections.versions.redis import RedisVersions
from schemas import events as ev
from tests.fixtures import eventually
from tests.integration.helpers import IDS, followed, now, registered, unfollowed

pytestmark = pytest.mark.stack


def like(actor: int, post: int, author: int, kind: type[ev.PostLiked | ev.PostUnliked]) -> ev.Event:
    return kind(event_id=IDS.next_id(), occurred_at=now(), actor_id=actor, post_id=post,
                author_id=author)  # fmt: skip


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photofeed", *args],
        env=settings.to_env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip


async def engagement(redis: Redis) -> RedisEngagement:
    return RedisEngagement(redis, await RedisVersions(redis).active(Group.ENGAGEMENT))


async def test_audit_finds_injected_drift_and_repairs_it(
    settings: Settings, worker: ManagedProcess, event_log: KafkaEventLog, redis: Redis
) -> None:
    star, fans = registered("star"), [registered(f"fan{i}") for i in range(3)]
    post = IDS.next_id()
    await event_log.append(
        star, *fans, *(followed(f.actor_id, star.actor_id) for f in fans),
        *(like(f.actor_id, post, star.actor_id, ev.PostLiked) for f in fans),
    )  # fmt: skip

    async def likes() -> int:
        return (await (await engagement(redis)).stats([post], None))[post].likes

    await eventually(likes, lambda n: n == 3)
    versions = RedisVersions(redis)
    graph = RedisGraph(redis, await versions.active(Group.GRAPH))
    await eventually(lambda: graph.counts([star.actor_id]),
                     lambda c: c[star.actor_id].followers == 3)  # fmt: skip
    drifts, _ = await audit_counters(settings, repair=False)
    assert drifts == []

    eng = await engagement(redis)
    await redis.hincrby(eng.keys.post(post), "likes", 2)  # a counter that lost its way
    await redis.zrem(graph.keys.followers(star.actor_id), str(fans[0].actor_id))  # a lost half
    drifts, _ = await audit_counters(settings, repair=False)
    assert Drift(LIKE_COUNT, post, 5, 3) in drifts
    assert Drift(FOLLOWER_COUNT, star.actor_id, 2, 3) in drifts
    assert len(drifts) == 2

    found = cli(settings, "audit", "counters")
    assert found.returncode == 1, found.stdout + found.stderr
    assert "2 counters drifted" in found.stderr
    repaired = cli(settings, "audit", "counters", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert await likes() == 3
    assert (await graph.counts([star.actor_id]))[star.actor_id].followers == 3
    assert (await audit_counters(settings, repair=False))[0] == []
    clean = cli(settings, "audit", "counters")
    assert (clean.returncode, "no drift" in clean.stderr) == (0, True)


async def test_replay_engagement_equals_live_and_swaps(
    settings: Settings, worker: ManagedProcess, event_log: KafkaEventLog, redis: Redis
) -> None:
    author, fans = registered("author"), [registered(f"f{i}") for i in range(6)]
    posts = [IDS.next_id() for _ in range(3)]
    history: list[ev.Event] = [author, *fans]
    for i, fan in enumerate(fans):
        history.append(followed(fan.actor_id, author.actor_id))
        for post in posts[: 1 + i % 3]:
            history.append(like(fan.actor_id, post, author.actor_id, ev.PostLiked))
        history.append(
            ev.CommentAdded(event_id=IDS.next_id(), occurred_at=now(), actor_id=fan.actor_id,
                            comment_id=IDS.next_id(), post_id=posts[0],
                            author_id=author.actor_id, text=f"comment {i}")
        )  # fmt: skip
    history += [
        like(fans[0].actor_id, posts[0], author.actor_id, ev.PostUnliked),
        unfollowed(fans[1].actor_id, author.actor_id),
        ev.PostDeleted(event_id=IDS.next_id(), occurred_at=now(), actor_id=author.actor_id,
                       post_id=posts[2]),
        ev.NotificationsRead(event_id=IDS.next_id(), occurred_at=now(),
                             actor_id=author.actor_id, up_to_id=IDS.next_id()),
    ]  # fmt: skip
    await event_log.append(*history)

    async def inbox() -> list[tuple[str, int, bool]]:
        page = await (await engagement(redis)).notifications(author.actor_id, 50, None)
        return [(n.bundle, n.actor_count, n.read) for n in page.items]

    def settled(items: list[tuple[str, int, bool]]) -> bool:
        total = {kind: sum(n for g, n, _ in items if g.startswith(kind))
                 for kind in ("like", "comment", "follow")}  # fmt: skip
        # likes: post 0 by 6 fans less one unlike, post 1 by 4, post 2 deleted; 6 comments;
        # 6 follows less one unfollow; all read
        return total == {"like": 9, "comment": 6, "follow": 5} and all(r for *_, r in items)

    before = await eventually(inbox, settled)
    live = await RedisVersions(redis).active(Group.ENGAGEMENT)
    late = like(fans[5].actor_id, posts[1], author.actor_id, ev.PostUnliked)

    async def during() -> None:
        await asyncio.sleep(0.2)
        await event_log.append(late)

    result, _ = await asyncio.gather(replay_group(settings, Group.ENGAGEMENT), during())
    assert result.swapped, result
    assert result.differences == 0, result.sample
    assert result.version > live == result.dropped_version

    async def post_1() -> tuple[int, bool]:
        stats = (await (await engagement(redis)).stats([posts[1]], fans[5].actor_id))[posts[1]]
        return stats.likes, stats.liked_by_viewer

    await eventually(post_1, lambda s: s == (3, False))  # written to the new version too
    stats = await (await engagement(redis)).stats(posts, None)
    assert (stats[posts[0]].likes, stats[posts[0]].comments) == (5, 6)
    after = {g: n for g, n, _ in await inbox()}
    assert after == {g: n - (g == f"like:{posts[1]}") for g, n, _ in before}
