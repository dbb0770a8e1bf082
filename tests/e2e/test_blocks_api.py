"""Blocks and mutes end to end, through Kafka, the worker, Valkey and HTTP: a block ends the
follows both ways and purges both feeds, hides each side from the other on every read route,
refuses follows, likes, comments and mentions between them, and an unblock restores nothing; a
mute hides posts from the muter's feed and activity from their notifications, and nothing else;
replay of the graph, feeds and engagement groups equals live; erasing a user with blocks and
mutes on either side leaves nothing of them (projections/graph/relations.py is the rule)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.keystore import RedisKeyStore
from infra.positions import decode_token, encode_token, merge
from infra.processes import ManagedProcess
from infra.sealed_log import SealingLog
from infra.settings import Settings
from photofeed.bootstrap import erasure_workflow
from photofeed.replay_cli import replay_group
from photofeed.stores import make_stores
from projections.feeds.redis import RedisFeeds
from projections.graph.keys import GraphKeys
from projections.groups import Group
from projections.versions.redis import RedisVersions
from schemas import events as ev
from tests.fixtures import bearer, eventually, register
from tests.integration.helpers import published

pytestmark = pytest.mark.stack
POSITION = "Photofeed-Position"


@dataclass
class World:
    """The API as one client sees it: every answer's Photofeed-Position is kept and sent back,
    so each read sees every write before it (no polling)."""

    api: httpx.AsyncClient
    log: SealingLog
    pos: str | None = None
    names: dict[str, str] = field(default_factory=dict)  # user id -> username

    async def user(self) -> tuple[str, str]:
        name = f"rel{uuid.uuid4().hex[:10]}"
        user, token = await register(self.api, name)
        self.names[user] = name
        return user, token

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {**(bearer(token) if token else {}), **({POSITION: self.pos} if self.pos else {})}
        r = await self.api.request(method, path, headers=headers, **kw)
        self.pos = r.headers.get(POSITION, self.pos)
        return r

    async def ok(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        r = await self.call(method, path, token, **kw)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    async def post(self, author: str, caption: str, *mentioned: str, tag: str = "t") -> str:
        """A published post (as the media agent appends it), its @mentions resolved."""
        mentions = []
        for user in mentioned:
            start = caption.index("@" + self.names[user])
            mentions.append(ev.Mention(int(user), start, start + 1 + len(self.names[user])))
        e = published(author, caption, (tag,))
        e = ev.PostPublished(**{**{f: getattr(e, f) for f in e.__dataclass_fields__},
                                "mentions": tuple(mentions)})  # fmt: skip
        positions = await self.log.append(e)
        self.pos = encode_token(merge(decode_token(self.pos) if self.pos else [], positions))
        return str(e.post_id)


@pytest.fixture
async def world(api: httpx.AsyncClient, event_log: KafkaEventLog, redis: Redis) -> World:
    return World(api, SealingLog(event_log, RedisKeyStore(redis)))


def ids(page: dict[str, Any], key: str = "posts") -> list[str]:
    return [item["post_id"] if key == "posts" else item["user_id"] for item in page[key]]


def actors(page: dict[str, Any]) -> list[tuple[str, list[str], int]]:
    return [(n["type"], [a["user_id"] for a in n["actors"]], n["actor_count"])
            for n in page["notifications"]]  # fmt: skip


async def pushed(redis: Redis, viewer: str) -> list[int]:
    """The viewer's pushed home feed as the feeds projection holds it (not the read filter)."""
    feeds = RedisFeeds(redis, await RedisVersions(redis).active(Group.FEEDS))
    return [post for post, _ in await feeds.feed_page(int(viewer), 100, None)]


async def test_a_block_separates_two_users_everywhere_and_an_unblock_restores_nothing(
    world: World, redis: Redis
) -> None:
    w = world
    (ana, ana_t), (bob, bob_t), (cat, cat_t) = [await w.user() for _ in range(3)]
    word = "zq" + uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))
    tag = f"t{uuid.uuid4().hex[:10]}"
    for followee, token in ((bob, ana_t), (ana, bob_t), (ana, cat_t), (bob, cat_t)):
        await w.ok("POST", f"/follow/{followee}", token)
    p_ana = await w.post(ana, f"ana's {word}", tag=tag)
    p_bob = await w.post(bob, f"bob's {word} hi @{w.names[ana]}", ana, tag=tag)
    p_cat = await w.post(cat, f"cat's {word} with @{w.names[bob]}", bob)
    await w.ok("POST", f"/likes/{p_ana}", bob_t)
    await w.ok("POST", f"/likes/{p_ana}", cat_t)
    await w.ok("POST", f"/posts/{p_ana}/comments", bob_t, json={"text": "bob was here"})
    await w.ok("POST", f"/posts/{p_ana}/comments", cat_t, json={"text": "cat was here"})
    assert p_bob in ids(await w.ok("GET", "/feed", ana_t))
    assert p_ana in ids(await w.ok("GET", "/feed", bob_t))
    assert {p_ana, p_bob} <= set(ids(await w.ok("GET", f"/tags/{tag}", cat_t)))
    assert int(p_bob) in await pushed(redis, ana)
    before = actors(await w.ok("GET", "/notifications", ana_t))
    assert ("follow", [cat, bob], 2) in before

    assert (await w.call("POST", f"/blocks/{bob}", ana_t)).status_code == 204
    assert (await w.call("POST", f"/blocks/{bob}", ana_t)).status_code == 204  # idempotent

    # the follows ended both ways, and each one's posts left the other's pushed feed
    for me, token, other, post in ((ana, ana_t, bob, p_bob), (bob, bob_t, ana, p_ana)):
        assert (await w.call("GET", f"/users/{other}", token)).status_code == 404
        assert (await w.call("GET", f"/users/{other}/posts", token)).status_code == 404
        assert (await w.call("GET", f"/users/{other}/followers", token)).status_code == 404
        assert (await w.call("GET", f"/posts/{post}", token)).status_code == 404
        assert (await w.call("GET", f"/posts/{post}/comments", token)).status_code == 404
        assert post not in ids(await w.ok("GET", "/feed", token))
        assert int(post) not in await pushed(redis, me)
        hits = await w.ok("GET", "/search", token, params={"q": word})
        assert post not in ids(hits)
        assert p_cat in ids(hits)
        assert post not in ids(await w.ok("GET", f"/tags/{tag}", token))
        users = await w.ok("GET", "/search", token, params={"q": f"@{w.names[other]}"})
        assert other not in ids(users, "users")
        assert other not in ids(await w.ok("GET", f"/users/{cat}/following", token), "users")
        profile = await w.ok("GET", f"/users/{me}", token)
        assert (profile["follower_count"], profile["following_count"]) == (1, 0)  # cat only
    # a third party's post shows to each, without a mention of the other
    cat_post = await w.ok("GET", f"/posts/{p_cat}", ana_t)
    assert cat_post["mentions"] == []
    assert [m["user_id"] for m in (await w.ok("GET", f"/posts/{p_cat}", cat_t))["mentions"]] == [
        bob
    ]
    # the blocked one's comment and activity are gone from the blocker's pages
    comments = await w.ok("GET", f"/posts/{p_ana}/comments", ana_t)
    assert [c["user"]["user_id"] for c in comments["comments"]] == [cat]
    theirs = await w.ok("GET", f"/posts/{p_ana}/comments", cat_t)
    assert [c["user"]["user_id"] for c in theirs["comments"]] == [bob, cat]
    after = actors(await w.ok("GET", "/notifications", ana_t))
    assert all(bob not in who for _, who, _ in after), after
    assert ("like", [cat], 1) in after
    assert ("follow", [cat], 1) in after
    # others still see both
    assert (await w.call("GET", f"/posts/{p_bob}", cat_t)).status_code == 200
    assert (await w.call("GET", f"/posts/{p_bob}")).status_code == 200  # anonymous

    # nothing crosses the block: follows, likes, comments, mentions (plain text, nobody told)
    for token, path, body in (
        (ana_t, f"/follow/{bob}", None), (bob_t, f"/follow/{ana}", None),
        (bob_t, f"/likes/{p_ana}", None), (ana_t, f"/likes/{p_bob}", None),
        (bob_t, f"/posts/{p_ana}/comments", {"text": "hey"}),
    ):  # fmt: skip
        r = (
            await w.call("POST", path, token, json=body)
            if body
            else await w.call("POST", path, token)
        )
        assert (r.status_code, r.json()["error"]["code"]) == (403, "blocked"), path
    said = await w.ok("POST", f"/posts/{p_cat}/comments", bob_t,
                      json={"text": f"look @{w.names[ana]}"})  # fmt: skip
    assert said["mentions"] == []
    assert all(kind != "mention" for kind, _, _ in actors(await w.ok("GET", "/notifications",
                                                                      ana_t)))  # fmt: skip
    assert (await w.call("DELETE", f"/likes/{p_ana}", bob_t)).status_code == 204  # unlike: fine

    # the lists; bad input
    assert ids(await w.ok("GET", "/blocks", ana_t), "users") == [bob]
    assert ids(await w.ok("GET", "/blocks", bob_t), "users") == []
    self_block = await w.call("POST", f"/blocks/{ana}", ana_t)
    assert (self_block.status_code, self_block.json()["error"]["code"]) == (422, "invalid_field")
    assert "user_id" in self_block.json()["error"]["message"]
    assert (await w.call("POST", "/blocks/4242424242", ana_t)).status_code == 404
    assert (await w.call("POST", f"/blocks/{bob}")).status_code == 401
    assert (await w.call("GET", "/blocks")).status_code == 401

    # unblock: both see each other again, but no follow comes back by itself
    assert (await w.call("DELETE", f"/blocks/{bob}", ana_t)).status_code == 204
    assert ids(await w.ok("GET", "/blocks", ana_t), "users") == []
    profile = await w.ok("GET", f"/users/{bob}", ana_t)
    assert profile["followed_by_viewer"] is False
    assert (profile["follower_count"], profile["following_count"]) == (1, 0)
    assert p_bob not in ids(await w.ok("GET", "/feed", ana_t))
    assert (await w.call("GET", f"/posts/{p_bob}", ana_t)).status_code == 200
    await w.ok("POST", f"/follow/{bob}", ana_t)  # allowed again
    assert (await w.ok("GET", f"/users/{bob}", ana_t))["followed_by_viewer"] is True
    assert p_bob in ids(await w.ok("GET", "/feed", ana_t))  # the follow's backfill


async def test_a_block_by_either_side_holds_and_a_mute_is_one_sided_and_quiet(world: World) -> None:
    w = world
    (ana, ana_t), (bob, bob_t), (dan, dan_t) = [await w.user() for _ in range(3)]
    await w.ok("POST", f"/follow/{bob}", ana_t)
    await w.ok("POST", f"/follow/{dan}", ana_t)
    p_ana, p_bob, p_dan = [await w.post(u, f"post of {w.names[u]}") for u in (ana, bob, dan)]
    await w.ok("POST", f"/likes/{p_ana}", bob_t)
    await w.ok("POST", f"/likes/{p_ana}", dan_t)
    await w.ok("POST", f"/follow/{ana}", bob_t)

    await w.ok("POST", f"/mutes/{bob}", ana_t)
    assert (await w.ok("GET", f"/users/{bob}", ana_t))["muted_by_viewer"] is True
    assert ids(await w.ok("GET", "/mutes", ana_t), "users") == [bob]
    feed = ids(await w.ok("GET", "/feed", ana_t))
    assert p_bob not in feed
    assert p_dan in feed
    assert actors(await w.ok("GET", "/notifications", ana_t)) == [("like", [dan], 1)]
    # nothing else: profile, grid, post, search, follows, likes, comments
    assert (await w.call("GET", f"/users/{bob}/posts", ana_t)).status_code == 200
    assert (await w.call("GET", f"/posts/{p_bob}", ana_t)).status_code == 200
    await w.ok("POST", f"/likes/{p_bob}", ana_t)
    await w.ok("POST", f"/posts/{p_ana}/comments", bob_t, json={"text": "still here"})
    profile = await w.ok("GET", f"/users/{ana}", bob_t)
    assert (profile["muted_by_viewer"], profile["following_count"]) == (False, 2)
    assert p_ana in ids(await w.ok("GET", "/feed", bob_t))  # one-sided
    await w.ok("DELETE", f"/mutes/{bob}", ana_t)
    assert p_bob in ids(await w.ok("GET", "/feed", ana_t))  # back: a mute purged nothing
    kinds = {(k, tuple(who)) for k, who, _ in actors(await w.ok("GET", "/notifications", ana_t))}
    assert {("follow", (bob,)), ("comment", (bob,))} <= kinds

    # the blocked side's own block holds the same (dan blocks ana)
    await w.ok("POST", f"/blocks/{ana}", dan_t)
    assert (await w.call("GET", f"/users/{dan}", ana_t)).status_code == 404
    assert p_dan not in ids(await w.ok("GET", "/feed", ana_t))
    assert ids(await w.ok("GET", "/blocks", ana_t), "users") == []  # not ana's block
    r = await w.call("POST", f"/follow/{dan}", ana_t)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "blocked")
    r = await w.call("POST", f"/mutes/{ana}", ana_t)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_field")


async def test_a_block_drops_pending_follow_requests_either_way(world: World) -> None:
    w = world
    (ana, ana_t), (bob, bob_t), (cat, cat_t) = [await w.user() for _ in range(3)]
    for token in (ana_t, cat_t):
        await w.ok("PATCH", "/users/me", token, json={"private": True})
    assert (await w.call("POST", f"/follow/{ana}", bob_t)).status_code == 202  # requested
    assert (await w.call("POST", f"/follow/{cat}", bob_t)).status_code == 202
    assert ids(await w.ok("GET", "/follow-requests", ana_t), "users") == [bob]
    await w.ok("POST", f"/blocks/{bob}", ana_t)  # by the private account
    await w.ok("POST", f"/blocks/{cat}", bob_t)  # by the requester
    for token, owner in ((ana_t, ana), (cat_t, cat)):
        assert ids(await w.ok("GET", "/follow-requests", token), "users") == []
        r = await w.call("POST", f"/follow-requests/{bob}/approve", token)
        assert r.status_code == 404, (owner, r.text)
    await w.ok("DELETE", f"/blocks/{bob}", ana_t)
    assert ids(await w.ok("GET", "/follow-requests", ana_t), "users") == []  # not restored
    assert (await w.call("POST", f"/follow/{ana}", bob_t)).status_code == 202  # may ask again
    assert ids(await w.ok("GET", "/follow-requests", ana_t), "users") == [bob]


async def test_replay_of_graph_feeds_and_engagement_equals_live_with_blocks_and_mutes(
    world: World, settings: Settings, worker: ManagedProcess
) -> None:
    w = world
    (ana, ana_t), (bob, bob_t), (cat, cat_t) = [await w.user() for _ in range(3)]
    await w.ok("POST", f"/follow/{bob}", ana_t)
    await w.ok("POST", f"/follow/{ana}", bob_t)
    await w.ok("POST", f"/follow/{ana}", cat_t)
    p_ana = await w.post(ana, "a post to like")
    await w.post(bob, "a post to purge")
    await w.ok("POST", f"/likes/{p_ana}", bob_t)
    await w.ok("POST", f"/mutes/{cat}", ana_t)
    await w.ok("POST", f"/blocks/{ana}", bob_t)
    await w.ok("POST", f"/mutes/{bob}", cat_t)
    await w.ok("DELETE", f"/mutes/{bob}", cat_t)
    await w.ok("POST", f"/blocks/{cat}", bob_t)
    await w.ok("DELETE", f"/blocks/{cat}", bob_t)
    await w.ok("GET", "/feed", ana_t)  # every write applied
    for group in (Group.GRAPH, Group.FEEDS, Group.ENGAGEMENT):
        result = await replay_group(settings, group)
        assert result.differences == 0, (group, result.sample)
        assert result.swapped, group
    assert ids(await w.ok("GET", "/blocks", bob_t), "users") == [ana]
    assert ids(await w.ok("GET", "/mutes", ana_t), "users") == [cat]
    assert ids(await w.ok("GET", "/mutes", cat_t), "users") == []
    assert (await w.call("GET", f"/users/{ana}", bob_t)).status_code == 404


async def test_erasing_a_user_with_blocks_and_mutes_either_way_leaves_nothing(
    world: World, redis: Redis, settings: Settings, worker: ManagedProcess
) -> None:
    w = world
    victim, victim_t = await w.user()
    (x, _), (y, y_t), (z, _), (v, v_t) = [await w.user() for _ in range(4)]
    await w.ok("POST", f"/blocks/{x}", victim_t)
    await w.ok("POST", f"/blocks/{victim}", y_t)
    await w.ok("POST", f"/mutes/{z}", victim_t)
    await w.ok("POST", f"/mutes/{victim}", v_t)
    await w.ok("POST", f"/blocks/{y}", v_t)  # a block between two others stays
    assert ids(await w.ok("GET", "/blocks", y_t), "users") == [victim]

    r = await w.call("DELETE", "/users/me", victim_t, json={"password": "correct horse"})
    assert r.status_code == 202, r.text
    stores = make_stores(settings)
    flow = erasure_workflow(settings, stores)
    await eventually(lambda: flow.status(int(victim)), lambda s: s.complete, timeout_s=60)
    await stores.redis.aclose()

    assert ids(await w.ok("GET", "/blocks", y_t), "users") == []
    assert ids(await w.ok("GET", "/mutes", v_t), "users") == []
    assert ids(await w.ok("GET", "/blocks", v_t), "users") == [y]
    g = GraphKeys(await RedisVersions(redis).active(Group.GRAPH))
    for other in (x, y, z, v):
        for key in (g.blocks_versions, g.blocked_by_versions, g.mutes_versions,
                    g.muted_by_versions):  # fmt: skip
            assert victim.encode() not in await redis.hkeys(key(int(other)))
    leftovers = [k async for k in redis.scan_iter(match=f"*{{{victim}}}*")]
    lasting = [k for k in leftovers if await redis.ttl(k) < 0]  # rate-limit windows expire
    assert lasting == [f"erasure:{{{victim}}}".encode()]  # the receipts, nothing else
    for group in (Group.GRAPH, Group.ENGAGEMENT):  # the log without the victim: the same
        result = await replay_group(settings, group)
        assert result.differences == 0, (group, result.sample)
    assert ids(await w.ok("GET", "/blocks", v_t), "users") == [y]
