"""The projection groups: one typed registry that the worker, replay, audit, erasure and the
gateway all read.

A group is rebuilt and swapped as one unit (its keys carry its version). Each has its home in
`projections/<group>/`: its pure handlers, its ports, its key scheme and one adapter module per
backend. `HANDLERS` maps every group to its handlers; the feeds group's take the facts its
planner loads (followers, celebrities, timelines) beside the event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from projections.engagement.logic import ENGAGEMENT_HANDLERS
from projections.feeds.logic import FEED_HANDLERS, FeedFacts, feed_writes
from projections.graph.handlers import GRAPH_HANDLERS
from projections.photos.handlers import PHOTO_HANDLERS
from projections.search.logic import SEARCH_HANDLERS
from projections.writes import Write
from schemas import events as ev


class Group(StrEnum):
    """A projection group's name: its keys' prefix, its consumer group's suffix, its replay unit."""

    GRAPH = "graph"  # users, the follow graph, counts, celebrity flags
    PHOTOS = "photos"  # upload status, the content-addressed media index
    FEEDS = "feeds"  # posts, author timelines, home feeds (needs facts: see FEED_HANDLERS)
    ENGAGEMENT = "engagement"  # likes, comments, counts, notifications
    SEARCH = "search"  # captions, tags, usernames


# group -> {event type -> handler}; pure handlers take the event, the feeds group's take the
# event and the FeedFacts loaded for its batch
HANDLERS: dict[Group, Mapping[type[ev.Event], Any]] = {
    Group.GRAPH: GRAPH_HANDLERS,
    Group.PHOTOS: PHOTO_HANDLERS,
    Group.FEEDS: FEED_HANDLERS,
    Group.ENGAGEMENT: ENGAGEMENT_HANDLERS,
    Group.SEARCH: SEARCH_HANDLERS,
}
NEEDS_FACTS = frozenset({Group.FEEDS})  # whose planner loads facts before its handlers run


def group_events() -> dict[Group, frozenset[type[ev.Event]]]:
    """Every projection group and the event types it consumes."""
    return {group: frozenset(table) for group, table in HANDLERS.items()}


def writes_for(
    group: str, events: Sequence[ev.Event], facts: FeedFacts | None = None
) -> list[Write]:
    """All writes of one projection group for a batch of events, in event order (the feeds group
    needs the batch's facts; a KeyError names an unknown group)."""
    try:
        g = Group(group)
    except ValueError:
        raise KeyError(group) from None
    if g in NEEDS_FACTS:
        if facts is None:
            raise ValueError(f"the {g} group needs the facts its planner loads")
        return feed_writes(events, facts)
    table = HANDLERS[g]
    out: list[Write] = []
    for event in events:
        handler = table.get(type(event))
        if handler is not None:
            out.extend(handler(event))
    return out
