"""Contract of the SearchIndex port, run against every adapter: SQLite FTS5 always,
Elasticsearch when PHOTOFEED_ELASTICSEARCH_URL names a live server (skipped otherwise)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from projections.search.logic import SearchCursor, SearchHit, SearchQuery, parse_query
from projections.search.ports import SearchIndex
from projections.writes import IndexPost, IndexUser, UnindexPost, Write
from tests.contract.adapters import SEARCH_ADAPTERS, open_search_index

_versions = itertools.count(1)
MS = 1_772_366_400_000


@pytest.fixture(params=SEARCH_ADAPTERS)
async def index(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SearchIndex]:
    async with open_search_index(request.param, tmp_path_factory.mktemp("search")) as idx:
        yield idx


def post(post_id: int, caption: str, tags: tuple[str, ...] = (), at: int = 0, author: int = 1,
         version: int | None = None) -> IndexPost:  # fmt: skip
    return IndexPost(post_id, author, caption, tags, MS + at, version or next(_versions))


async def ids(index: SearchIndex, q: str, limit: int = 50) -> list[int]:
    return [h.post_id for h in await index.posts(parse_query(q), limit, None)]


async def apply(index: SearchIndex, *writes: Write) -> None:
    await index.apply(list(writes))


async def test_words_match_stemmed_and_case_insensitive(index: SearchIndex) -> None:
    await apply(index, post(1, "Sunsets over the BEACH"), post(2, "sunrise in the city"),
                post(3, "Running along the beaches at sunset"))  # fmt: skip
    assert sorted(await ids(index, "sunset")) == [1, 3]
    assert sorted(await ids(index, "SUNSETS")) == [1, 3]
    assert sorted(await ids(index, "beach")) == [1, 3]
    assert await ids(index, "run") == [3]
    assert await ids(index, "sunset city") == []  # every word must match


async def test_relevance_first_then_newest(index: SearchIndex) -> None:
    await apply(
        index,
        post(1, "a long caption about many things and then finally one mention of a cat", at=5),
        post(2, "cat cat cat", at=1),
        post(3, "cat", at=2),
        post(4, "cat", at=3),
    )
    hits = await index.posts(parse_query("cat"), 10, None)
    assert hits[-1].post_id == 1  # one mention in a long caption ranks last
    same = [h for h in hits if h.post_id in (3, 4)]
    assert [h.post_id for h in same] == [4, 3]  # equal relevance: newest first
    assert same[0].rank == same[1].rank


async def test_tags_match_exactly(index: SearchIndex) -> None:
    await apply(
        index, post(1, "waves", ("sea", "blue"), at=1), post(2, "the sea", ("seaside",), at=2),
        post(3, "x", ("sea",), at=3),
    )  # fmt: skip
    assert await ids(index, "#sea") == [3, 1]  # newest first
    assert await ids(index, "#SEA #blue") == [1]
    assert await ids(index, "#se") == []
    assert await ids(index, "sea") == [2]  # a word matches captions, not tags
    assert await ids(index, "waves #sea") == [1]


async def test_usernames_match_by_prefix_and_narrow_posts(index: SearchIndex) -> None:
    await apply(
        index, IndexUser(1, "ana", 1), IndexUser(2, "anna", 2), IndexUser(3, "bana", 3),
        IndexUser(4, "an.dre", 4), post(10, "sunset", author=1), post(11, "sunset", author=3),
    )  # fmt: skip
    assert await index.users("an", 10, None) == [(4, "an.dre"), (1, "ana"), (2, "anna")]
    assert await index.users("an", 2, "an.dre") == [(1, "ana"), (2, "anna")]
    assert await index.users("zed", 10, None) == []
    assert await ids(index, "sunset @an") == [10]


async def test_deleted_posts_disappear_and_stay_gone(index: SearchIndex) -> None:
    published = post(1, "sunset", ("sea",), version=10)
    await apply(index, published, post(2, "sunset", version=11))
    await apply(index, UnindexPost(1, 12))
    assert await ids(index, "sunset") == [2]
    assert await ids(index, "#sea") == []
    await apply(index, published)  # a redelivered, older publication cannot revive it
    assert await ids(index, "sunset") == [2]


async def test_redelivery_changes_nothing(index: SearchIndex) -> None:
    writes: list[Write] = [post(1, "golden hour", ("light",)), IndexUser(1, "ana", 5)]
    for _ in range(3):
        await index.apply(writes)
    assert await ids(index, "golden") == [1]
    assert await ids(index, "#light") == [1]
    assert await index.users("ana", 10, None) == [(1, "ana")]


async def test_cursor_pages_have_no_gaps_or_repeats(index: SearchIndex) -> None:
    await apply(index, *(post(i, "cat " * (1 + i % 3), ("pet",), at=i // 2) for i in range(1, 24)))
    for q in ("cat", "#pet", "cat #pet"):
        seen: list[int] = []
        after: SearchCursor | None = None
        while True:
            page: list[SearchHit] = await index.posts(parse_query(q), 4, after)
            seen += [h.post_id for h in page]
            if len(page) < 4:
                break
            after = page[-1].cursor()
        assert sorted(seen) == list(range(1, 24)), q
        assert seen == await ids(index, q, 100), q


def test_queries_parse_into_terms() -> None:
    q = parse_query("Sunset @Ana #Sea beach, #sea!")
    assert q == SearchQuery(words=("sunset", "beach"), tags=("sea",), users=("ana",))
    assert parse_query("@ana").users_only
