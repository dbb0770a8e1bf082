"""The planners of the projection groups whose writes need facts from other projections.

A planner turns a decoded batch into writes (streams/sink.py: `Planner`; most groups' HANDLERS
are pure: `pure_planner`). Two groups load facts first, through ports, then run pure logic:

- feeds (fan-out on write): every follower of each author who posted or was flagged celebrity,
  the celebrity set, the timelines of authors just followed (backfill), and whom an account's
  going public approved (backfill too), read from the active graph and feeds versions
  (projections/feeds/logic.py says which it needs);
- engagement: which users it would notify were erased (no notice is written for them).

The live agents and `photofeed replay` use the same planners, so a rebuild plans as they did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from projections.engagement.logic import notice_recipients, without_notices_to
from projections.feeds.logic import MAX_FEED, FeedFacts, facts_needed, feed_writes
from projections.feeds.ports import FeedStore
from projections.graph.ports import GraphReader
from projections.groups import Group, writes_for
from projections.writes import Write
from schemas.events import Event
from streams.edges import all_followers
from streams.opener import ErasedUsers
from streams.sink import Planner, pure_planner


@dataclass(frozen=True)
class FactSources:
    """Where planners read their facts: each call of `graph` / `feeds` answers the version
    serving reads then (a replay may swap it between batches)."""

    graph: Callable[[], Awaitable[GraphReader]]
    feeds: Callable[[], Awaitable[FeedStore]]
    erased: ErasedUsers


def planner(group: Group, facts: FactSources) -> Planner:
    """The planner of `group`."""
    if group == Group.FEEDS:
        return feeds_planner(facts.graph, facts.feeds)
    if group == Group.ENGAGEMENT:
        return engagement_planner(facts.erased)
    return pure_planner(group)


def feeds_planner(
    graph: Callable[[], Awaitable[GraphReader]], feeds: Callable[[], Awaitable[FeedStore]]
) -> Planner:
    """Fan-out: the facts a batch needs, then projections/feeds/logic.py's pure writes."""

    async def plan(events: Sequence[Event]) -> list[Write]:
        need = facts_needed(events)
        g, f = await graph(), await feeds()
        followers = {a: await all_followers(g, a) for a in need.followers_of}
        timelines = await f.timeline_pages(sorted(need.timelines_of), MAX_FEED, None)
        approved = {seq: await g.requesters_before(owner, seq)
                    for owner, seq in need.requesters_before}  # fmt: skip
        facts = FeedFacts(followers, frozenset(await f.celebrities()), timelines, approved)
        return feed_writes(events, facts)

    return plan


def engagement_planner(erased: ErasedUsers) -> Planner:
    """The pure HANDLERS' writes, without the notices of erased recipients."""

    async def plan(events: Sequence[Event]) -> list[Write]:
        writes = writes_for(Group.ENGAGEMENT, events)
        return without_notices_to(await erased.erased(notice_recipients(writes)), writes)

    return plan
