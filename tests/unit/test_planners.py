"""The worker's fact loading without I/O (streams/edges.py, streams/planners.py, the erasure's
durable facts): over small in-memory readers of the graph and feeds ports, every edge comes back
across page boundaries, the fan-out planner asks exactly for the facts a batch needs, and the
engagement planner drops only erased recipients' notices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from projections.feeds.ports import FeedState, FeedStore, PostView
from projections.graph.ports import Edge, GraphCounts, GraphReader
from projections.groups import Group, writes_for
from projections.ports import Page, Position
from projections.writes import FeedAdd, FeedRemove, SetComment, SetLike, Write
from schemas import events as ev
from streams.edges import all_edges, all_followers
from streams.erasure import read_durable_facts
from streams.planners import FactSources, engagement_planner, feeds_planner, planner
from tests.integration.helpers import IDS, followed, now, published, unfollowed

AUTHOR, FAN, OTHER = 10, 20, 30


class Graph:
    """(follower, followee, at_ms) edges; each side newest first (at_ms, then the other end's
    id, descending), paged like the adapters: after the clustering key of the last row.
    Records each page size asked for."""

    def __init__(
        self, edges: Iterable[tuple[int, int, int]],
        requesters: dict[tuple[int, int], list[int]] | None = None,
    ) -> None:  # fmt: skip
        self.edges = list(edges)
        self.asked: list[int] = []
        self.requesters = requesters or {}  # (owner, switch to public) -> whom it approved

    async def followers(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        return self._page([Edge(f, ms) for f, g, ms in self.edges if g == user_id], limit, after)

    async def following(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        return self._page([Edge(g, ms) for f, g, ms in self.edges if f == user_id], limit, after)

    def _page(self, edges: list[Edge], limit: int, after: Position | None) -> Page[Edge]:
        self.asked.append(limit)
        edges = sorted(edges, key=lambda e: (e.at_ms, e.user_id), reverse=True)
        if after is not None:
            edges = [e for e in edges if (e.at_ms, e.user_id) < (after.at_ms, after.id)]
        items = edges[:limit]
        more = len(edges) > limit
        return Page(items, Position(items[-1].at_ms, items[-1].user_id) if more else None)

    async def counts(self, ids: Sequence[int]) -> dict[int, GraphCounts]:
        raise AssertionError("planners do not read counts")

    async def follows(self, follower_id: int, candidates: Sequence[int]) -> set[int]:
        raise AssertionError("planners do not read membership")

    async def requesters_before(self, owner: int, seq: int) -> list[int]:
        return self.requesters.get((owner, seq), [])


class Feeds:
    """Author timelines ((post, ms) newest first) and the celebrity set; the rest of the port
    is what the read path uses, never a planner."""

    max_feed = 800

    def __init__(self, timelines: dict[int, list[tuple[int, int]]], celebs: set[int]) -> None:
        self.timelines, self.celebs = timelines, celebs
        self.asked: list[int] = []

    async def timeline_page(
        self, author_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]:
        self.asked.append(author_id)  # the erasure's read of one user's posts
        return self.timelines.get(author_id, [])[:limit]

    async def celebrities(self) -> set[int]:
        return set(self.celebs)

    async def posts(self, ids: Sequence[int]) -> dict[int, PostView]:
        raise AssertionError("not a planner's fact")

    async def timeline_pages(
        self, authors: Sequence[int], limit: int, after: Position | None
    ) -> dict[int, list[tuple[int, int]]]:
        self.asked += authors
        return {a: self.timelines.get(a, [])[:limit] for a in authors}

    async def post_counts(self, authors: Sequence[int]) -> dict[int, int]:
        raise AssertionError("not a planner's fact")

    async def feed_state(self, user_id: int) -> FeedState:
        raise AssertionError("not a planner's fact")

    async def feed_page(
        self, user_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]:
        raise AssertionError("not a planner's fact")

    async def fill_feed(self, user_id: int, rows: Sequence[tuple[int, int]]) -> None:
        raise AssertionError("not a planner's fact")

    async def tag_page(self, tag: str, limit: int, after: Position | None) -> list[tuple[int, int]]:
        raise AssertionError("not a planner's fact")


class Erased:
    def __init__(self, *erased: int) -> None:
        self.erased_ids = set(erased)
        self.asked: list[set[int]] = []

    async def erased(self, user_ids: Iterable[int]) -> set[int]:
        self.asked.append(set(user_ids))
        return self.erased_ids & set(user_ids)


def sources(graph: Graph, feeds: Feeds, erased: Erased | None = None) -> FactSources:
    async def current_graph() -> GraphReader:
        return graph

    async def current_feeds() -> FeedStore:
        return feeds

    return FactSources(current_graph, current_feeds, erased or Erased())


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 5000])
async def test_every_edge_comes_back_once_newest_first_across_pages(page_size: int) -> None:
    # two edges share a millisecond: the id breaks the tie, so none is lost at a page boundary
    edges = [(100 + i, AUTHOR, 1000 + i // 2) for i in range(7)]
    graph = Graph([*edges, (OTHER, FAN, 5)])
    expected = [f for f, _, _ in sorted(edges, key=lambda e: (-e[2], -e[0]))]
    assert await all_edges(graph.followers, AUTHOR, page_size) == expected
    assert graph.asked == [page_size] * max(1, -(-len(edges) // page_size))


async def test_both_sides_and_an_empty_side() -> None:
    graph = Graph([(FAN, AUTHOR, 1), (FAN, OTHER, 2)])
    assert await all_followers(graph, AUTHOR) == [FAN]
    assert await all_edges(graph.following, FAN) == [OTHER, AUTHOR]
    assert await all_edges(graph.followers, FAN) == []


async def test_fan_out_reads_the_followers_of_authors_who_post() -> None:
    graph = Graph([(FAN, AUTHOR, 1), (OTHER, AUTHOR, 2)])
    feeds = Feeds({}, set())
    post = published(AUTHOR)
    writes = await planner(Group.FEEDS, sources(graph, feeds))([post])
    [add] = [w for w in writes if isinstance(w, FeedAdd)]
    assert (set(add.owners), add.post_id) == ({FAN, OTHER}, post.post_id)
    assert feeds.asked == []  # no follow in the batch: no timeline is read


async def test_a_celebritys_post_is_not_pushed() -> None:
    graph = Graph([(FAN, AUTHOR, 1)])
    plan = planner(Group.FEEDS, sources(graph, Feeds({}, {AUTHOR})))
    assert [w for w in await plan([published(AUTHOR)]) if isinstance(w, FeedAdd)] == []


async def test_a_follow_backfills_and_an_unfollow_purges_from_the_timeline() -> None:
    timeline = [(3, 300), (2, 200), (1, 100)]
    feeds = Feeds({AUTHOR: timeline}, set())
    s = sources(Graph([]), feeds)
    plan = feeds_planner(s.graph, s.feeds)
    added = await plan([followed(FAN, AUTHOR)])
    assert added == [FeedAdd((FAN,), post, ms) for post, ms in timeline]
    removed = await plan([unfollowed(FAN, AUTHOR)])
    assert removed == [FeedRemove(tuple((FAN, post) for post, _ in timeline))]
    assert feeds.asked == [AUTHOR, AUTHOR]


def liked(liker: int, author: int) -> ev.PostLiked:
    return ev.PostLiked(
        event_id=IDS.next_id(), occurred_at=now(), actor_id=liker, post_id=IDS.next_id(),
        author_id=author,
    )  # fmt: skip


def commented(commenter: int, author: int) -> ev.CommentAdded:
    return ev.CommentAdded(
        event_id=IDS.next_id(), occurred_at=now(), actor_id=commenter, comment_id=IDS.next_id(),
        post_id=IDS.next_id(), author_id=author, text="nice",
    )  # fmt: skip


def notified(writes: Sequence[Write]) -> list[int]:
    return [w.author_id for w in writes if isinstance(w, SetLike | SetComment) and w.notify]


async def test_erased_recipients_get_no_notice_and_nothing_else_changes() -> None:
    events = [liked(FAN, AUTHOR), commented(FAN, OTHER), liked(OTHER, AUTHOR)]
    erased = Erased(AUTHOR)
    writes = await engagement_planner(erased)(events)
    assert notified(writes) == [OTHER]
    assert erased.asked == [{AUTHOR, OTHER}]
    pure = writes_for(Group.ENGAGEMENT, events)
    assert notified(pure) == [AUTHOR, OTHER, AUTHOR]
    assert [type(w) for w in writes] == [type(w) for w in pure]


async def test_groups_without_facts_plan_their_pure_handlers() -> None:
    events: list[ev.Event] = [followed(FAN, AUTHOR), published(AUTHOR)]
    plan = planner(Group.GRAPH, sources(Graph([]), Feeds({}, set())))
    assert await plan(events) == writes_for(Group.GRAPH, events)


async def test_durable_facts_are_both_sides_of_the_edges_and_every_post() -> None:
    graph = Graph([(FAN, AUTHOR, 1), (AUTHOR, OTHER, 2)])
    feeds = Feeds({AUTHOR: [(7, 70), (6, 60)]}, set())
    assert await read_durable_facts(graph, feeds, AUTHOR) == ([FAN], [OTHER], [7, 6])
