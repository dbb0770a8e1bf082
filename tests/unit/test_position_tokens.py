"""Read-your-writes position tokens (infra/positions.py) and the route table that says which
projection groups each route reads (gateway/consistency.py): pure."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.app import API
from gateway.consistency import READS, SETTLED, consumed_topics
from infra.positions import (
    MAX_OFFSET,
    MAX_POSITIONS,
    MAX_TOKEN_CHARS,
    InvalidPosition,
    LogPosition,
    decode_token,
    encode_token,
    merge,
)
from infra.topics import CATALOGUE, DEAD_LETTER
from projections.groups import group_events

positions = st.lists(
    st.builds(
        LogPosition,
        st.sampled_from([t.name for t in CATALOGUE]),
        st.integers(0, 63),
        st.integers(0, MAX_OFFSET),
    ),
    max_size=40,
)


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


@given(positions)
def test_a_token_decodes_to_the_newest_offset_of_each_partition(found: list[LogPosition]) -> None:
    decoded = decode_token(encode_token(found))
    newest = {(p.topic, p.partition): max(q.offset for q in found if q[:2] == p[:2]) for p in found}
    assert {(p.topic, p.partition): p.offset for p in decoded} == newest
    assert len(decoded) == len(newest)  # one entry per partition


@given(positions, positions)
def test_tokens_sent_together_read_as_their_merge(
    a: list[LogPosition], b: list[LogPosition]
) -> None:
    joined = f"{encode_token(a)}, {encode_token(b)}"
    assert decode_token(joined) == merge(a, b) == decode_token(encode_token(a + b))


def test_a_token_is_url_safe_and_short() -> None:
    token = encode_token(
        [LogPosition("photofeed.follows", 3, 1234), LogPosition("photofeed.posts", 0, 7)]
    )
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(token) < 80
    assert decode_token(token) == [
        LogPosition("photofeed.follows", 3, 1234),
        LogPosition("photofeed.posts", 0, 7),
    ]


def test_merge_keeps_the_newest_offset_per_partition() -> None:
    old, new = LogPosition("photofeed.users", 1, 5), LogPosition("photofeed.users", 1, 9)
    other = LogPosition("photofeed.users", 2, 1)
    assert merge([new, other], [old]) == [new, other]


@pytest.mark.parametrize(
    "header",
    [
        "not a token!",
        "%%%",
        b64("2|photofeed.users:0:1"),  # a version this code never wrote
        b64("1|photofeed.users:0"),  # no offset
        b64("1|photofeed.users:x:1"),
        b64("1|photofeed.users:0:-1"),
        b64("1|bad topic:0:1"),
        b64("1|:0:1"),
        b64(f"1|photofeed.users:0:{MAX_OFFSET + 1}"),
        b64(f"1|photofeed.users:{2**31}:1"),
        b64("1|photofeed.users:0:1") + ",",  # an empty token in a list
        "A" * (MAX_TOKEN_CHARS + 1),
        base64.urlsafe_b64encode(b"1|\xff:0:1").decode().rstrip("="),  # not ASCII
    ],
)
def test_anything_the_codec_did_not_write_is_refused(header: str) -> None:
    with pytest.raises(InvalidPosition):
        decode_token(header)


def test_a_token_with_too_many_positions_is_refused() -> None:
    many = [LogPosition("photofeed.users", p, 1) for p in range(MAX_POSITIONS + 1)]
    token = encode_token(many)
    assert len(token) <= MAX_TOKEN_CHARS  # refused for its count, not its length
    with pytest.raises(InvalidPosition, match="more than"):
        decode_token(token)


def test_every_route_declares_the_projection_groups_it_reads() -> None:
    routes = {(method, path) for method, path, _, _ in API}
    assert set(READS) == routes  # a new route must say what it reads; none is left over
    assert set().union(*READS.values()) <= set(group_events())
    assert set(SETTLED) <= routes
    assert all(groups for (method, _), groups in READS.items() if method == "GET")


def test_reads_of_posts_wait_for_posts_and_writes_of_follows_reach_feeds_and_graph() -> None:
    """Spot checks of consumed_topics against the catalogue: a follow (follows topic) is waited
    for by graph and feeds (a follow backfills the feed), a post (posts topic) by feeds."""
    topics = consumed_topics()
    assert {g for g, t in topics.items() if "photofeed.follows" in t} >= {"graph", "feeds"}
    assert {g for g, t in topics.items() if "photofeed.posts" in t} >= {"feeds", "photos"}
    assert {g for g, t in topics.items() if "photofeed.engagement" in t} == {"engagement"}
    assert all(DEAD_LETTER.name not in t for t in topics.values())
    assert set(topics) == set(group_events())
