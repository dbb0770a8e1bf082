"""`photofeed demo` against the session gateway: accounts that follow each other, published
posts with #tags, likes and comments; a second run adds nothing."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest

from infra.settings import Settings
from photofeed.demo import PASSWORD, usernames
from tests.fixtures import bearer, eventually

pytestmark = pytest.mark.stack
USERS, PHOTOS = 3, 4


def demo(settings: Settings, prefix: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photofeed", "demo", "--users", str(USERS), "--photos",
         str(PHOTOS), "--prefix", prefix],
        env={**settings.to_env(), "COLUMNS": "160"}, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


async def posts_of(api: httpx.AsyncClient, user_id: str) -> list[dict[str, Any]]:
    page = await api.get(f"/users/{user_id}/posts", params={"limit": 100})
    assert page.status_code == 200, page.text
    posts: list[dict[str, Any]] = page.json()["posts"]
    return posts


def figures(output: str) -> tuple[int, int, int]:
    """(posts, likes, new comments) from the demo's summary line."""
    found = re.search(r"(\d+) posts, (\d+) likes, (\d+) new comments", output)
    assert found, output
    posts, likes, comments = (int(n) for n in found.groups())
    return posts, likes, comments


async def test_demo_loads_a_living_feed_and_a_second_run_adds_nothing(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    prefix = f"d{uuid.uuid4().hex[:6]}_"
    first = demo(settings, prefix)
    assert first.returncode == 0, first.stdout + first.stderr
    names = usernames(USERS, prefix)
    assert all(name in first.stdout for name in names)
    assert PASSWORD in first.stdout
    assert settings.gateway_url in first.stdout
    published, likes, comments = figures(first.stdout)
    assert (published, comments > 0, likes > 0) == (PHOTOS, True, True)
    sessions = []
    for name in names:
        login = await api.post("/sessions", json={"username": name, "password": PASSWORD})
        assert login.status_code == 200, login.text
        sessions.append(login.json())

    async def everything() -> list[dict[str, Any]]:
        return [p for s in sessions for p in await posts_of(api, s["user_id"])]

    def settled(posts: list[dict[str, Any]]) -> bool:
        return (len(posts), sum(p["like_count"] for p in posts),
                sum(p["comment_count"] for p in posts)) == (PHOTOS, likes, comments)  # fmt: skip

    every = await eventually(everything, settled, timeout_s=30)
    assert all("#" in p["caption"] and p["tags"] for p in every)
    assert all(set(p["image_urls"]) >= {"thumbnail", "feed", "full"} for p in every)
    following = await api.get(f"/users/{sessions[0]['user_id']}/following")
    assert {u["username"] for u in following.json()["users"]} == set(names[1:])
    others = {p["post_id"] for p in every if p["user"]["user_id"] != sessions[0]["user_id"]}

    async def feed() -> set[str]:
        page = await api.get("/feed", headers=bearer(sessions[0]["token"]))
        return {p["post_id"] for p in page.json()["posts"]}

    await eventually(feed, lambda ids: ids >= others, timeout_s=30)  # they all show up

    second = demo(settings, prefix)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{USERS} accounts (0 new)" in second.stdout
    assert "0 photos uploaded" in second.stdout
    assert figures(second.stdout) == (PHOTOS, likes, 0)
    again = await everything()
    assert sorted(p["post_id"] for p in again) == sorted(p["post_id"] for p in every)
    assert settled(again)
