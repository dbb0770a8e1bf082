"""The Elasticsearch search adapter's pure parts: request bodies, response reading, mappings.

No server is involved: these check what would be sent and how answers are read; the behaviour
against a live cluster is the SearchIndex contract suite (tests/contract/test_search_index.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

from projections.search.elasticsearch import (
    KINDS,
    VERSION_CONFLICT,
    IndexNames,
    alias_actions,
    alias_names,
    authors_query,
    bulk_actions,
    bulk_failures,
    doc_digest,
    hits_from,
    ids_from,
    index_body,
    index_names,
    merge_diff,
    posts_query,
    scan_query,
    users_from,
    users_query,
)
from projections.search.logic import SearchCursor, SearchHit, parse_query
from projections.writes import IndexPost, IndexUser, SetAvatar, UnindexPost

NAMES = index_names("pf", 7)
SNOWFLAKE = 2**63 - 1  # the largest event id: still a valid external version (a signed long)


def _hits(*hits: dict[str, Any]) -> dict[str, Any]:
    return {"hits": {"hits": list(hits)}}


def _filters(body: dict[str, Any]) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = body["query"]["bool"]["filter"]
    return filters


# --- names and mappings ------------------------------------------------------------------------
def test_each_version_has_its_own_indices_and_one_alias_per_kind() -> None:
    assert index_names("pf", 7) == IndexNames("pf-posts-v7", "pf-users-v7")
    assert alias_names("pf") == IndexNames("pf-posts", "pf-users")
    assert [NAMES.of(k) for k in KINDS] == ["pf-posts-v7", "pf-users-v7"]


def test_captions_are_analysed_with_stemming_and_folding() -> None:
    body = index_body("posts")
    caption = body["mappings"]["properties"]["caption"]
    assert caption["type"] == "text"
    analyzer = body["settings"]["analysis"]["analyzer"][caption["analyzer"]]
    assert analyzer["tokenizer"] == "standard"
    assert analyzer["filter"] == ["lowercase", "asciifolding", "porter_stem"]


def test_posts_mapping_declares_every_field_written_or_sorted_on() -> None:
    properties = index_body("posts")["mappings"]["properties"]
    assert {k: v["type"] for k, v in properties.items() if k != "caption"} == {
        "post_id": "long", "author_id": "long", "tags": "keyword", "at_ms": "long",
        "live": "boolean",
    }  # fmt: skip
    written = bulk_actions([IndexPost(1, 2, "c", ("t",), 3, 4)], NAMES)[1]
    assert set(written) == set(properties)


def test_usernames_are_keywords_and_indices_refuse_unknown_fields() -> None:
    users = index_body("users")
    assert users["mappings"]["properties"] == {
        "user_id": {"type": "long"},
        "username": {"type": "keyword"},
    }
    for kind in KINDS:
        body = index_body(kind)
        assert body["mappings"]["dynamic"] == "strict"
        assert body["settings"]["number_of_shards"] == 1  # equal captions score equally


# --- post queries ------------------------------------------------------------------------------
def test_words_must_all_match_the_caption_and_rank_by_score() -> None:
    body = posts_query(parse_query("Sunset beach"), None, 10, None)
    assert body["query"]["bool"]["must"] == [
        {"match": {"caption": {"query": "sunset beach", "operator": "and"}}}
    ]
    assert body["sort"] == [{"_score": "desc"}, {"at_ms": "desc"}, {"post_id": "desc"}]
    assert body["size"] == 10
    assert "search_after" not in body


def test_only_live_posts_match_and_each_tag_is_an_exact_filter() -> None:
    body = posts_query(parse_query("#Sea #blue"), None, 5, None)
    assert _filters(body) == [
        {"term": {"live": True}},
        {"term": {"tags": "sea"}},
        {"term": {"tags": "blue"}},
    ]
    assert "must" not in body["query"]["bool"]  # no words: nothing to score
    assert body["sort"] == [{"at_ms": "desc"}, {"post_id": "desc"}]


def test_authors_narrow_posts_by_id() -> None:
    body = posts_query(parse_query("sunset @an"), [4, 1], 5, None)
    assert {"terms": {"author_id": [4, 1]}} in _filters(body)
    assert not any("terms" in f for f in _filters(posts_query(parse_query("x"), None, 5, None)))


def test_a_cursor_continues_after_its_sort_values() -> None:
    after = SearchCursor(rank=-1.25, at_ms=1_772_366_400_000, post_id=SNOWFLAKE)
    scored = posts_query(parse_query("cat"), None, 4, after)
    assert scored["search_after"] == [1.25, 1_772_366_400_000, SNOWFLAKE]
    plain = posts_query(parse_query("#pet"), None, 4, SearchCursor(0.0, 5, 6))
    assert plain["search_after"] == [5, 6]


def test_hits_rank_by_negated_score_or_zero_without_words() -> None:
    scored = _hits({"_id": "9", "sort": [2.5, 100, 9]}, {"_id": "8", "sort": [0.75, 200, 8]})
    assert hits_from(scored) == [SearchHit(9, -2.5, 100), SearchHit(8, -0.75, 200)]
    assert hits_from(_hits({"_id": "3", "sort": [100, 3]})) == [SearchHit(3, 0.0, 100)]
    assert hits_from(_hits()) == []


def test_a_hit_cursor_round_trips_to_its_sort_values() -> None:
    sort = [0.4700036, 1_772_366_400_123, SNOWFLAKE]
    (hit,) = hits_from(_hits({"_id": str(SNOWFLAKE), "sort": sort}))
    assert posts_query(parse_query("cat"), None, 4, hit.cursor())["search_after"] == sort


# --- user queries ------------------------------------------------------------------------------
def test_users_are_found_by_prefix_in_username_order() -> None:
    body = users_query("an", 3, None)
    assert body["query"] == {"prefix": {"username": "an"}}
    assert body["sort"] == [{"username": "asc"}]
    assert body["size"] == 3
    assert "search_after" not in body
    assert users_query("an", 3, "an.dre")["search_after"] == ["an.dre"]


def test_user_hits_are_id_and_username() -> None:
    response = _hits({"_id": "4", "sort": ["an.dre"]}, {"_id": "1", "sort": ["ana"]})
    assert users_from(response) == [(4, "an.dre"), (1, "ana")]


def test_authors_of_any_prefix_are_looked_up_by_id() -> None:
    body = authors_query(["an", "bo"], limit=1000)
    assert body["query"]["bool"]["should"] == [
        {"prefix": {"username": "an"}},
        {"prefix": {"username": "bo"}},
    ]
    assert body["query"]["bool"]["minimum_should_match"] == 1
    assert body["size"] == 1000
    assert ids_from(_hits({"_id": "4"}, {"_id": "1"})) == [4, 1]


# --- writes ------------------------------------------------------------------------------------
def test_a_post_is_indexed_under_its_event_id_as_external_version() -> None:
    action, doc = bulk_actions([IndexPost(10, 2, "Sunset", ("sea",), 99, SNOWFLAKE)], NAMES)
    assert action == {
        "index": {
            "_index": "pf-posts-v7", "_id": "10", "version": SNOWFLAKE,
            "version_type": "external",
        }
    }  # fmt: skip
    assert doc == {
        "post_id": 10, "author_id": 2, "caption": "Sunset", "tags": ["sea"], "at_ms": 99,
        "live": True,
    }  # fmt: skip


def test_a_deletion_is_a_newer_tombstone_without_caption_or_tags() -> None:
    action, doc = bulk_actions([UnindexPost(10, 12)], NAMES)
    assert action["index"]["_id"] == "10"
    assert action["index"]["version"] == 12
    assert action["index"]["version_type"] == "external"
    assert doc == {"post_id": 10, "live": False}


def test_users_go_to_the_users_index_and_other_writes_are_left_out() -> None:
    lines = bulk_actions([SetAvatar(1, None, 3), IndexUser(1, "ana", 5)], NAMES)
    assert lines == [
        {"index": {"_index": "pf-users-v7", "_id": "1", "version": 5, "version_type": "external"}},
        {"user_id": 1, "username": "ana"},
    ]


def test_writes_keep_their_order() -> None:
    lines = bulk_actions([IndexPost(1, 2, "a", (), 3, 10), UnindexPost(1, 11)], NAMES)
    assert [line["index"]["version"] for line in lines[::2]] == [10, 11]


def _item(status: int, error_type: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"_id": "1", "status": status}
    if error_type is not None:
        result["error"] = {"type": error_type, "reason": "..."}
    return {"index": result}


def test_older_writes_are_skipped_and_other_refusals_reported() -> None:
    assert bulk_failures({"errors": False, "items": [_item(201)]}) == []
    older = {"errors": True, "items": [_item(201), _item(409, VERSION_CONFLICT)]}
    assert bulk_failures(older) == []
    rejected = {"errors": True, "items": [_item(409, VERSION_CONFLICT), _item(429, "rejected")]}
    assert bulk_failures(rejected) == [_item(429, "rejected")["index"]]


# --- whole versions ----------------------------------------------------------------------------
def test_activation_moves_both_aliases_in_one_update() -> None:
    current = {"pf-posts": ["pf-posts-v6"], "pf-users": ["pf-users-v6", "pf-users-v7"]}
    assert alias_actions(alias_names("pf"), NAMES, current) == [
        {"remove": {"index": "pf-posts-v6", "alias": "pf-posts"}},
        {"add": {"index": "pf-posts-v7", "alias": "pf-posts"}},
        {"remove": {"index": "pf-users-v6", "alias": "pf-users"}},
        {"add": {"index": "pf-users-v7", "alias": "pf-users"}},
    ]
    first = alias_actions(alias_names("pf"), NAMES, {})
    assert [next(iter(a)) for a in first] == ["add", "add"]


def test_scans_page_every_document_by_id_with_its_version() -> None:
    body = scan_query("post_id", None, 500)
    assert body["query"] == {"match_all": {}}  # tombstones too
    assert body["sort"] == [{"post_id": "asc"}]
    assert body["version"] is True
    assert body["size"] == 500
    assert scan_query("user_id", 41)["search_after"] == [41]


def test_digests_tell_apart_content_and_version() -> None:
    doc = {"_version": 3, "_source": {"post_id": 1, "live": False}}
    assert doc_digest(doc) == doc_digest({"_source": {"live": False, "post_id": 1}, "_version": 3})
    assert doc_digest(doc) != doc_digest({**doc, "_version": 4})
    assert doc_digest(doc) != doc_digest({**doc, "_source": {"post_id": 1, "live": True}})


async def _stream(items: Iterable[tuple[int, str]]) -> AsyncIterator[tuple[int, str]]:
    for item in items:
        yield item


@pytest.mark.parametrize(
    ("a", "b", "differing"),
    [
        ([], [], []),
        ([(1, "x"), (2, "y")], [(1, "x"), (2, "y")], []),
        ([(1, "x"), (2, "y")], [(1, "x"), (2, "z")], [2]),
        ([(1, "x"), (3, "y")], [(2, "x"), (3, "y"), (4, "w")], [1, 2, 4]),
        ([(5, "x"), (6, "x")], [], [5, 6]),
    ],
)
async def test_merge_diff_yields_ids_missing_on_one_side_or_changed(
    a: list[tuple[int, str]], b: list[tuple[int, str]], differing: list[int]
) -> None:
    assert [i async for i in merge_diff(_stream(a), _stream(b))] == differing
