"""Erasure of a user who used every social feature at once: a private account with an approved
follower and pending requests both ways, a profile and an avatar, blocks and mutes in both
directions, and mentions in both directions (in a caption and in a comment). Afterwards no graph
key, field or member names the user, no avatar object is left, nobody keeps a notification of
theirs, and a replay of every group it touched builds exactly what live erasure left."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from infra.settings import Settings
from photofeed.bootstrap import s3_store
from photofeed.replay_cli import replay_group
from projections.groups import Group
from schemas.media import AVATAR_SIZES, avatar_key
from tests import samples
from tests.e2e.test_erasure_leaves_nothing import erased
from tests.e2e.test_photos_api import final_status
from tests.e2e.test_private_accounts import Person, World, graph_mentions, pending, person
from tests.e2e.test_profiles_api import upload_avatar
from tests.fixtures import bearer

pytestmark = pytest.mark.stack


async def name_of(w: World, who: Person) -> str:
    username: str = (await w.ok("GET", f"/users/{who.id}"))["username"]
    return username


async def post_with(w: World, who: Person, caption: str) -> str:
    """A post uploaded through the API (so its mentions are resolved by the gateway)."""
    sent = await w.api.post("/photos", headers=bearer(who.token), data={"caption": caption},
                            files={"photo": ("p.jpg", samples.jpeg(samples.scene(320, 240)),
                                             "image/jpeg")})  # fmt: skip
    assert sent.status_code == 202, sent.text
    status = await final_status(w.api, who.token, sent.json()["photo_id"])
    assert status["status"] == "published", status
    post_id: str = status["post_id"]
    return post_id


async def mention_notices(w: World, who: Person, by: Person) -> list[dict[str, Any]]:
    notes = (await w.ok("GET", "/notifications?limit=100", who.token))["notifications"]
    return [
        n for n in notes if n["type"] == "mention" and by.id in [a["user_id"] for a in n["actors"]]
    ]


async def test_erasing_a_user_of_every_social_feature_leaves_nothing(
    api: httpx.AsyncClient, settings: Settings, redis: Redis
) -> None:
    w = World(api)
    victim, fan, asker, other = [await person(api) for _ in range(4)]
    blocked, blocker, muted, muter = [await person(api) for _ in range(4)]
    victim_name, fan_name = await name_of(w, victim), await name_of(w, fan)

    profile = {"display_name": "Soon Gone", "bio": "here today", "private": True}
    await w.ok("PATCH", "/users/me", victim.token, json=profile)
    avatar = await upload_avatar(api, victim.token, samples.jpeg(samples.scene(300, 300, 5)),
                                 "image/jpeg")  # fmt: skip
    assert (await final_status(api, victim.token, avatar))["status"] == "published"
    squares = [avatar_key(int(victim.id), int(avatar), size) for size in AVATAR_SIZES]
    store = s3_store(settings)
    assert all([await store.stat(k) is not None for k in squares])

    await w.ok("POST", f"/follow/{victim.id}", fan.token)
    await w.ok("POST", f"/follow-requests/{fan.id}/approve", victim.token)
    await w.ok("POST", f"/follow/{victim.id}", asker.token)  # pending at erasure
    await w.ok("PATCH", "/users/me", other.token, json={"private": True})
    await w.ok("POST", f"/follow/{other.id}", victim.token)  # the victim's own pending request
    await w.ok("POST", f"/blocks/{blocked.id}", victim.token)
    await w.ok("POST", f"/blocks/{victim.id}", blocker.token)
    await w.ok("POST", f"/mutes/{muted.id}", victim.token)
    await w.ok("POST", f"/mutes/{victim.id}", muter.token)

    own = await post_with(w, victim, f"for @{fan_name} only")  # the victim mentions the fan
    fans = await post_with(w, fan, f"hello @{victim_name}")  # the fan mentions the victim
    await w.ok("POST", f"/posts/{own}/comments", fan.token, json={"text": f"@{victim_name} yes"})
    await w.ok("POST", f"/posts/{fans}/comments", victim.token, json={"text": f"@{fan_name} hi"})
    assert await mention_notices(w, fan, victim)  # the victim's mentions reached the fan
    assert await mention_notices(w, victim, fan)
    assert await pending(w, victim) == [asker.id]
    assert await pending(w, other) == [victim.id]
    assert await graph_mentions(redis, victim.id)

    await erased(settings, victim.id, victim.token, api)
    assert await graph_mentions(redis, victim.id) == []
    assert [k for k in squares if await store.stat(k) is not None] == []
    assert await mention_notices(w, fan, victim) == []
    assert await pending(w, other) == []
    assert (await w.call("GET", f"/users/{victim.id}", fan.token)).status_code == 404
    assert (await w.ok("GET", f"/users/{fan.id}"))["following_count"] == 0
    for group in (Group.GRAPH, Group.FEEDS, Group.ENGAGEMENT):
        result = await replay_group(settings, group)  # the log rebuilds the same: no victim
        assert result.swapped, result
        assert result.differences == 0, result
    assert await graph_mentions(redis, victim.id) == []
    assert await mention_notices(w, fan, victim) == []
