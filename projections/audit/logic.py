"""Counter audit as pure logic: what each counter should be, given its source sets.

Every count photofeed shows is derived from a set: followers/following are the sizes of the two
sides of the graph, comments the size of a post's comment set, and a like count is changed in the
same atomic step that flips the like on the liker's side. They cannot drift by redelivery or
replay. They can drift when a store loses part of a write (a Redis Cluster splitting one batch
across shards, a restore from mismatched snapshots, a hand edit) — the audit finds and repairs
that, recomputing each counter from the sets it is derived from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LIKE_COUNT, FOLLOWER_COUNT, FOLLOWING_COUNT = "like_count", "follower_count", "following_count"


@dataclass(frozen=True, order=True, slots=True)
class Drift:
    counter: str
    entity: int  # the post or user whose counter is off
    stored: int  # what readers see
    expected: int  # what the source sets say

    @property
    def delta(self) -> int:
        return self.expected - self.stored


def count_drift(
    counter: str, stored: Mapping[int, int], expected: Mapping[int, int]
) -> list[Drift]:
    """Every entity whose stored count differs from the expected one (missing counts are 0)."""
    entities = stored.keys() | expected.keys()
    return sorted(
        Drift(counter, e, stored.get(e, 0), expected.get(e, 0))
        for e in entities
        if stored.get(e, 0) != expected.get(e, 0)
    )


def confirmed(first: Iterable[Drift], second: Iterable[Drift]) -> list[Drift]:
    """Drifts seen by two consecutive passes with the same delta. A live write landing between a
    pass's reads can fake a difference once; it cannot fake the same one twice."""
    again = {(d.counter, d.entity): d.delta for d in second}
    return sorted(d for d in first if again.get((d.counter, d.entity)) == d.delta)


def expected_likes(entries: Iterable[tuple[int, bool]]) -> dict[int, int]:
    """Like counts from the likers' side: (post, liked) entries, one per (liker, post)."""
    out: dict[int, int] = {}
    for post, liked in entries:
        if liked:
            out[post] = out.get(post, 0) + 1
    return out


@dataclass(frozen=True, slots=True)
class EdgeSide:
    """One side's record of the edge follower -> followee: in the zset or not, and the version
    (zero-padded event id) of the last event that side applied."""

    present: bool
    version: str
    at_ms: int = 0


Edge = tuple[int, int]  # (follower, followee)


def edge_truth(
    following: Mapping[Edge, EdgeSide], followers: Mapping[Edge, EdgeSide]
) -> dict[Edge, EdgeSide]:
    """Each edge as the side that applied the newer event records it."""
    out: dict[Edge, EdgeSide] = {}
    for edge in following.keys() | followers.keys():
        a, b = following.get(edge), followers.get(edge)
        if b is None or (a is not None and a.version >= b.version):
            assert a is not None
            out[edge] = a
        else:
            out[edge] = b
    return out


def graph_counts(truth: Mapping[Edge, EdgeSide]) -> tuple[dict[int, int], dict[int, int]]:
    """(followers per user, following per user) of the true edges."""
    followers: dict[int, int] = {}
    following: dict[int, int] = {}
    for (a, b), side in truth.items():
        if side.present:
            following[a] = following.get(a, 0) + 1
            followers[b] = followers.get(b, 0) + 1
    return followers, following


def stale_sides(
    following: Mapping[Edge, EdgeSide], followers: Mapping[Edge, EdgeSide]
) -> list[tuple[str, Edge, EdgeSide]]:
    """(side, edge, truth) for each side that disagrees with the truth: the repairs to make."""
    out = []
    for edge, truth in edge_truth(following, followers).items():
        for name, sides in (("following", following), ("followers", followers)):
            side = sides.get(edge)
            if (side is None and truth.present) or (side and side.present != truth.present):
                out.append((name, edge, truth))
    return sorted(out)
