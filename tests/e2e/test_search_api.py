"""`GET /search` over HTTP: posts fed through Tansu by the worker's search agent into SQLite FTS5;
`replay search` rebuilds the index blue/green."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from photofeed.replay_cli import replay_group
from projections.groups import Group
from tests.fixtures import bearer, eventually, register
from tests.integration.helpers import published

pytestmark = pytest.mark.stack


def word() -> str:
    """A word no other test uses (letters only, so the stemmer leaves it whole)."""
    return "zq" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:10])


async def search(api: httpx.AsyncClient, q: str, **params: Any) -> dict[str, Any]:
    r = await api.get("/search", params={"q": q, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def captions(api: httpx.AsyncClient, q: str) -> list[str]:
    return [p["caption"] for p in (await search(api, q, limit=100))["posts"]]


async def test_words_tags_ranking_paging_and_deletion(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, token = await register(api)
    w, tag = word(), word()
    posts = [
        published(author, f"{w}s at the beach", ("sea",)),
        published(author, f"{w} {w} {w}", (tag,)),
        published(author, "nothing about it, tagged only", (tag,)),
        published(author, f"a long caption that mentions {w} once among very many other words"),
    ]
    await event_log.append(*posts)
    found = await eventually(lambda: captions(api, w.upper()), lambda c: len(c) == 3)
    assert found[0] == f"{w} {w} {w}"  # most relevant first
    assert found[-1].startswith("a long caption")
    assert set(await captions(api, f"#{tag}")) == {posts[1].caption, posts[2].caption}
    assert await captions(api, f"{w} #{tag}") == [posts[1].caption]
    assert await captions(api, f"{w} beach") == [posts[0].caption]

    seen, cursor = [], None
    while True:
        page = await search(api, w, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [p["post_id"] for p in page["posts"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == [p["post_id"] for p in (await search(api, w))["posts"]]
    assert len(seen) == 3

    first = (await search(api, w))["posts"][0]
    assert first["user"]["user_id"] == author
    assert first["like_count"] == 0
    assert (
        await api.delete(f"/posts/{posts[1].post_id}", headers=bearer(token))
    ).status_code == 204
    await eventually(lambda: captions(api, w), lambda c: posts[1].caption not in c)
    assert await captions(api, f"#{tag}") == [posts[2].caption]


async def test_at_names_find_users_by_prefix(api: httpx.AsyncClient) -> None:
    prefix = word()[:12]
    ids = [(await register(api, f"{prefix}{suffix}"))[0] for suffix in ("b", "a", "c")]
    body = await eventually(lambda: search(api, f"@{prefix}"), lambda b: len(b["users"]) == 3)
    assert [u["username"] for u in body["users"]] == [f"{prefix}a", f"{prefix}b", f"{prefix}c"]
    assert body["posts"] == []
    page = await search(api, f"@{prefix}", limit=2)
    assert (len(page["users"]), page["has_more"]) == (2, True)
    rest = await search(api, f"@{prefix}", limit=2, cursor=page["next_cursor"])
    assert [u["user_id"] for u in rest["users"]] == [ids[2]]


@pytest.mark.parametrize(
    ("params", "status"),
    [({"q": ""}, 422), ({"q": "   ,, "}, 422), ({"q": "x" * 201}, 422),
     ({"q": " ".join(f"w{i}" for i in range(11))}, 422), ({"q": "cat", "cursor": "bm9wZQ"}, 400),
     ({"q": "cat", "limit": "0"}, 422), ({}, 422)],
)  # fmt: skip
async def test_bad_queries_get_clear_errors(
    api: httpx.AsyncClient, params: dict[str, str], status: int
) -> None:
    r = await api.get("/search", params=params)
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]


async def test_replay_search_rebuilds_the_index_equal_to_live(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings
) -> None:
    author, _ = await register(api)
    w = word()
    await event_log.append(*(published(author, f"{w} number {i}") for i in range(5)))
    await eventually(lambda: captions(api, w), lambda c: len(c) == 5)
    result = await replay_group(settings, Group.SEARCH)
    assert result.swapped, result
    assert result.differences == 0, result.sample
    assert result.dropped_version is not None
    assert not (settings.data_dir / "search" / f"search.v{result.dropped_version}.sqlite").exists()
    assert len(await captions(api, w)) == 5  # served from the new version
    later = published(author, f"{w} after the swap")
    await event_log.append(later)
    await eventually(lambda: captions(api, w), lambda c: later.caption in c)
