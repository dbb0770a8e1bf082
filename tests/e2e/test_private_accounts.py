"""Private accounts and follow requests through the real stack (gateway, Kafka, the worker,
Valkey): the request flow (ask, the pending list, approve, reject, withdraw, going public), the
visibility rule on every read route for the owner, an approved follower, a stranger and an
anonymous caller (through the one-call pages and through the per-group readers), a replay of the
graph and feeds groups equal to live, and an erasure that leaves nothing of a private account
and its requests.

Every call sends back the newest Photofeed-Position any answer carried (`World`), so each read
sees every write before it without polling; only posts appended straight to the log are waited
for.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from photofeed.replay_cli import replay_group
from projections.backends.redis_batch import text
from projections.graph.keys import GraphKeys
from projections.groups import Group
from projections.versions.redis import RedisVersions
from schemas import events as ev
from tests.e2e.test_erasure_leaves_nothing import erased
from tests.e2e.test_pages import in_process_gateway
from tests.fixtures import bearer, eventually, register
from tests.integration.helpers import published

pytestmark = pytest.mark.stack
HIDDEN = "private_account"


@dataclass
class World:
    """The callers of one test and the newest read-your-writes token any answer carried."""

    api: httpx.AsyncClient
    position: str = ""

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any
                   ) -> httpx.Response:  # fmt: skip
        headers = {**(bearer(token) if token else {}), "Photofeed-Position": self.position}
        r = await self.api.request(method, path, headers=headers, **kw)
        self.position = r.headers.get("Photofeed-Position", self.position)
        return r

    async def ok(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        r = await self.call(method, path, token, **kw)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None


@dataclass
class Person:
    id: str
    token: str


async def person(api: httpx.AsyncClient) -> Person:
    return Person(*await register(api))


async def private_owner(
    w: World, event_log: KafkaEventLog, word: str, mentioned: tuple[Person, ...] = ()
) -> tuple[Person, str]:
    """A private account with one post (its caption holds `word`, the tag #<word> and an
    @mention of each of `mentioned`), seen published by its owner: (the owner, the post id)."""
    owner = await person(w.api)
    await w.ok("PATCH", "/users/me", owner.token, json={"private": True})
    assert (await w.ok("GET", f"/users/{owner.id}"))["private"] is True
    caption, mentions = f"only for friends {word} #{word}", []
    for who in mentioned:
        name = (await w.ok("GET", f"/users/{who.id}"))["username"]
        mentions.append(ev.Mention(int(who.id), len(caption) + 1, len(caption) + 2 + len(name)))
        caption += f" @{name}"
    post = replace(published(owner.id, caption, tags=(word,)), mentions=tuple(mentions))
    await event_log.append(post)
    await eventually(lambda: w.call("GET", f"/posts/{post.post_id}", owner.token),
                     lambda r: r.status_code == 200)  # fmt: skip
    return owner, str(post.post_id)


async def pending(w: World, owner: Person) -> list[str]:
    return [u["user_id"] for u in (await w.ok("GET", "/follow-requests", owner.token))["users"]]


async def feed_ids(w: World, viewer: Person) -> list[str]:
    return [p["post_id"] for p in (await w.ok("GET", "/feed?limit=100", viewer.token))["posts"]]


async def test_ask_approve_reject_withdraw_and_going_public(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    w = World(api)
    owner, post = await private_owner(w, event_log, f"w{uuid.uuid4().hex[:10]}")
    bob, cid, dan, eve = [await person(api) for _ in range(4)]

    # asking: 202 requested, again nothing new; the profile stays visible and says so
    for _ in range(2):
        r = await w.call("POST", f"/follow/{owner.id}", bob.token)
        assert (r.status_code, r.json()) == (202, {"status": "requested"})
    profile = await w.ok("GET", f"/users/{owner.id}", bob.token)
    assert (profile["private"], profile["requested_by_viewer"], profile["followed_by_viewer"]) \
        == (True, True, False)  # fmt: skip
    assert await pending(w, owner) == [bob.id]
    assert (await w.call("GET", f"/users/{owner.id}/posts", bob.token)).json()["error"]["code"] \
        == HIDDEN  # fmt: skip

    # approving: a follower, with the owner's newest posts in the feed and a notification
    assert (await w.call("POST", f"/follow-requests/{bob.id}/approve", owner.token)).status_code \
        == 204  # fmt: skip
    assert (await w.call("POST", f"/follow-requests/{bob.id}/approve", owner.token)).status_code \
        == 404  # answered: no pending request any more  # fmt: skip
    profile = await w.ok("GET", f"/users/{owner.id}", bob.token)
    assert (profile["followed_by_viewer"], profile["requested_by_viewer"]) == (True, False)
    assert profile["follower_count"] == 1
    assert await pending(w, owner) == []
    assert [p["post_id"] for p in (await w.ok("GET", f"/users/{owner.id}/posts", bob.token))[
        "posts"]] == [post]  # fmt: skip
    assert post in await feed_ids(w, bob)  # backfilled
    notices = (await w.ok("GET", "/notifications", owner.token))["notifications"]
    assert [(n["type"], [a["user_id"] for a in n["actors"]]) for n in notices] \
        == [("follow", [bob.id])]  # fmt: skip

    # rejecting: forgotten, still refused, may ask again; a request nobody made is 404
    await w.ok("POST", f"/follow/{owner.id}", cid.token)
    assert await pending(w, owner) == [cid.id]
    await w.ok("POST", f"/follow-requests/{cid.id}/reject", owner.token)
    assert await pending(w, owner) == []
    assert (await w.call("GET", f"/posts/{post}", cid.token)).status_code == 403
    assert (await w.call("POST", f"/follow-requests/{dan.id}/approve", owner.token)).status_code \
        == 404  # fmt: skip
    assert (await w.call("POST", "/follow-requests/1/reject", owner.token)).status_code == 404

    # withdrawing: an unfollow takes the request back
    await w.ok("POST", f"/follow/{owner.id}", dan.token)
    assert await pending(w, owner) == [dan.id]
    await w.ok("DELETE", f"/follow/{owner.id}", dan.token)
    assert await pending(w, owner) == []

    # going public approves what is pending then (and only that), feeds backfilled
    await w.ok("POST", f"/follow/{owner.id}", cid.token)
    await w.ok("POST", f"/follow/{owner.id}", eve.token)
    assert set(await pending(w, owner)) == {cid.id, eve.id}
    await w.ok("PATCH", "/users/me", owner.token, json={"private": False})
    assert await pending(w, owner) == []
    for fan in (cid, eve):
        assert (await w.ok("GET", f"/users/{owner.id}", fan.token))["followed_by_viewer"]
        assert post in await feed_ids(w, fan)  # the feeds group applied the switch too
    assert (await w.ok("GET", f"/users/{owner.id}"))["follower_count"] == 3
    assert not (await w.ok("GET", f"/users/{owner.id}", dan.token))["followed_by_viewer"]
    # public now: a follow is a follow
    assert (await w.call("POST", f"/follow/{owner.id}", dan.token)).status_code == 204


async def test_an_existing_follower_stays_when_the_account_goes_private(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    w = World(api)
    owner, fan = await person(api), await person(api)
    await w.ok("POST", f"/follow/{owner.id}", fan.token)
    await w.ok("PATCH", "/users/me", owner.token, json={"private": True})
    post = published(owner.id, "after going private")
    await event_log.append(post)
    await eventually(lambda: feed_ids(w, fan), lambda ids: str(post.post_id) in ids)
    assert (await w.call("GET", f"/posts/{post.post_id}", fan.token)).status_code == 200


def viewers(owner: Person, fan: Person, stranger: Person) -> dict[str, str | None]:
    return {"owner": owner.token, "follower": fan.token, "stranger": stranger.token,
            "anonymous": None}  # fmt: skip


SEES = ("owner", "follower")


async def check_every_read_route(
    w: World, owner: Person, fan: Person, stranger: Person, post: str, word: str
) -> None:
    """The table: each read route for each kind of caller."""
    refused: dict[str, Callable[[Any], bool]] = {  # 403 private_account to whom may not see
        f"/users/{owner.id}/posts": lambda body: [p["post_id"] for p in body["posts"]] == [post],
        f"/users/{owner.id}/followers": lambda body: fan.id in [u["user_id"] for u in
                                                               body["users"]],
        f"/users/{owner.id}/following": lambda body: stranger.id in [u["user_id"] for u in
                                                                    body["users"]],
        f"/posts/{post}": lambda body: body["post_id"] == post and body["user"]["private"],
        f"/posts/{post}/comments": lambda body: [c["text"] for c in body["comments"]] == [word],
    }  # fmt: skip
    filtered = {  # routes that leave the account's posts out for whom may not see
        f"/search?q={word}": "posts",
        f"/search?q=%23{word}": "posts",
        f"/tags/{word}": "posts",
    }
    for who, token in viewers(owner, fan, stranger).items():
        for path, shows in refused.items():
            r = await w.call("GET", path, token)
            if who in SEES:
                assert r.status_code == 200, (who, path, r.text)
                assert shows(r.json()), (who, path, r.text)
            else:
                assert (r.status_code, r.json()["error"]["code"]) == (403, HIDDEN), (who, path)
        for path, key in filtered.items():
            body = await w.ok("GET", path, token)
            found = post in [p["post_id"] for p in body[key]]
            assert found == (who in SEES), (who, path, body)
        profile = await w.ok("GET", f"/users/{owner.id}", token)  # always visible
        assert profile["private"] is True
        assert profile["follower_count"] == 1
    assert post in await feed_ids(w, fan)
    assert post not in await feed_ids(w, stranger)
    # a mention in the post notifies the follower; the stranger's is left out of their page
    for mentioned, expected in ((fan, [post]), (stranger, [])):
        notices = (await w.ok("GET", "/notifications", mentioned.token))["notifications"]
        assert [n.get("post_id") for n in notices if n["type"] == "mention"] == expected
    # engaging with what one may not see is refused too; a follower may
    for method, path, kw in (
        ("POST", f"/likes/{post}", {}),
        ("POST", f"/posts/{post}/comments", {"json": {"text": "hi"}}),
    ):
        r = await w.call(method, path, stranger.token, **kw)
        assert (r.status_code, r.json()["error"]["code"]) == (403, HIDDEN), (path, r.text)
    assert (await w.call("POST", f"/likes/{post}", fan.token)).status_code == 204
    assert (await w.call("DELETE", f"/likes/{post}", fan.token)).status_code == 204


async def visibility_world(
    w: World, event_log: KafkaEventLog
) -> tuple[Person, Person, Person, str, str]:
    """A private owner with a post (mentioning a follower and a stranger, commented on by the
    owner), the approved follower, and the stranger, whom the owner follows."""
    word = f"v{uuid.uuid4().hex[:10]}"
    fan, stranger = await person(w.api), await person(w.api)
    owner, post = await private_owner(w, event_log, word, (fan, stranger))
    await w.ok("POST", f"/follow/{owner.id}", fan.token)
    await w.ok("POST", f"/follow-requests/{fan.id}/approve", owner.token)
    await w.ok("POST", f"/follow/{stranger.id}", owner.token)
    await w.ok("POST", f"/posts/{post}/comments", owner.token, json={"text": word})
    await eventually(lambda: w.call("GET", f"/search?q={word}", owner.token),
                     lambda r: post in r.text)  # indexed  # fmt: skip
    await eventually(lambda: w.call("GET", "/notifications", fan.token),
                     lambda r: post in r.text)  # the mention's notice  # fmt: skip
    return owner, fan, stranger, post, word


async def test_every_read_route_shows_a_private_account_to_its_followers_only(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    w = World(api)
    await check_every_read_route(w, *await visibility_world(w, event_log))


async def test_the_group_readers_apply_the_same_rule(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings
) -> None:
    """The per-group readers (Cassandra stores, posts without cards) refuse and filter alike."""
    w = World(api)
    owner, fan, stranger, post, word = await visibility_world(w, event_log)
    async with in_process_gateway(settings) as (client, deps):
        deps.pages_at = lambda *_: None
        deps._adapters.clear()
        await check_every_read_route(World(client, w.position), owner, fan, stranger, post, word)


async def test_replay_of_graph_and_feeds_equals_live_with_requests_and_private_accounts(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings
) -> None:
    w = World(api)
    owner, fan, stranger, post, _ = await visibility_world(w, event_log)
    asker = await person(api)
    await w.ok("POST", f"/follow/{owner.id}", asker.token)  # pending
    other, _ = await private_owner(w, event_log, f"r{uuid.uuid4().hex[:10]}")
    await w.ok("POST", f"/follow/{other.id}", stranger.token)
    await w.ok("POST", f"/follow-requests/{stranger.id}/reject", other.token)  # answered
    await w.ok("GET", f"/users/{owner.id}")  # every write above applied
    for group in (Group.GRAPH, Group.FEEDS):
        result = await replay_group(settings, group)
        assert result.swapped, result
        assert result.differences == 0, result
    assert await pending(w, owner) == [asker.id]
    assert (await w.ok("GET", f"/users/{owner.id}", fan.token))["followed_by_viewer"]
    assert (await w.call("GET", f"/posts/{post}", stranger.token)).status_code == 403
    assert post in await feed_ids(w, fan)


async def graph_mentions(redis: Redis, user: str) -> list[str]:
    """Every key of the active graph version that names the user, in its name, fields or
    members."""
    version = await RedisVersions(redis).active(Group.GRAPH)
    found = []
    async for key in redis.scan_iter(match=f"{GraphKeys(version).prefix}:*", count=1000):
        kind = text(await redis.type(key))
        values: list[Any] = []
        if kind == "hash":
            values = await redis.hkeys(key)
        elif kind == "zset":
            values = await redis.zrange(key, 0, -1)
        elif kind == "set":
            values = list(await redis.smembers(key))
        if f"{{{user}}}" in text(key) or user in [text(v) for v in values]:
            found.append(text(key))
    return found


async def test_erasure_leaves_nothing_of_a_private_account_and_its_requests(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings, redis: Redis
) -> None:
    w = World(api)
    victim, _ = await private_owner(w, event_log, f"e{uuid.uuid4().hex[:10]}")
    fan, asker, other = await person(api), await person(api), await person(api)
    await w.ok("POST", f"/follow/{victim.id}", fan.token)
    await w.ok("POST", f"/follow-requests/{fan.id}/approve", victim.token)
    await w.ok("POST", f"/follow/{victim.id}", asker.token)  # pending at erasure
    await w.ok("PATCH", "/users/me", other.token, json={"private": True})
    await w.ok("POST", f"/follow/{other.id}", victim.token)  # the victim's own pending request
    await w.ok("POST", f"/follow/{other.id}", fan.token)
    await w.ok("POST", f"/follow-requests/{fan.id}/reject", other.token)
    assert await pending(w, victim) == [asker.id]
    assert await pending(w, other) == [victim.id]
    assert await graph_mentions(redis, victim.id)

    await erased(settings, victim.id, victim.token, api)
    assert await graph_mentions(redis, victim.id) == []
    assert await pending(w, other) == []
    assert (await w.ok("GET", f"/users/{fan.id}"))["following_count"] == 0
    for group in (Group.GRAPH, Group.FEEDS):  # a replay builds the same: nothing of the victim
        result = await replay_group(settings, group)
        assert result.differences == 0, result
    assert await graph_mentions(redis, victim.id) == []
