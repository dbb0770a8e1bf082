"""The feeds projection group as pure logic: `(events, facts) -> writes`.

Facts are what other projections know when a batch is handled (an author's followers, the
celebrities, an author's newest posts); the sink loads them for the whole batch, then these
functions decide. Normal authors' posts are pushed into followers' feeds; celebrities' posts stay
in their timelines and are merged in at read time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from projections.cards import post_card
from projections.event_time import event_ms
from projections.writes import (
    FeedAdd,
    FeedRemove,
    MarkCelebrity,
    PutPost,
    SetTimeline,
    Write,
)
from schemas import events as ev

MAX_FEED = 800  # >= 8 pages of the largest page (100); older history is pulled from timelines
BACKFILL = 50  # newest posts of a newly followed author copied into the follower's feed
FEED_EVENTS: frozenset[type[ev.Event]] = frozenset(
    {ev.PostPublished, ev.PostDeleted, ev.UserFollowed, ev.UserUnfollowed, ev.CelebrityFlagged}
)


@dataclass(frozen=True)
class FeedFacts:
    followers: Mapping[int, Sequence[int]] = field(default_factory=dict)  # author -> followers
    celebrities: frozenset[int] = frozenset()
    timelines: Mapping[int, Sequence[tuple[int, int]]] = field(default_factory=dict)  # newest first


@dataclass(frozen=True)
class FactsNeeded:
    followers_of: frozenset[int]
    timelines_of: frozenset[int]


def facts_needed(events: Sequence[ev.Event]) -> FactsNeeded:
    followers: set[int] = set()
    timelines: set[int] = set()
    for e in events:
        if isinstance(e, ev.PostPublished | ev.PostDeleted | ev.CelebrityFlagged):
            followers.add(e.actor_id)
        elif isinstance(e, ev.UserFollowed | ev.UserUnfollowed):
            timelines.add(e.followee_id)
    return FactsNeeded(frozenset(followers), frozenset(timelines))


def feed_writes(events: Sequence[ev.Event], facts: FeedFacts) -> list[Write]:
    celebrities = set(facts.celebrities)
    out: list[Write] = []
    for e in events:
        if isinstance(e, ev.CelebrityFlagged):
            celebrities.add(e.actor_id)
            out.append(MarkCelebrity(e.actor_id))
        elif isinstance(e, ev.PostPublished):
            out += _published(e, facts, e.actor_id in celebrities)
        elif isinstance(e, ev.PostDeleted):
            followers = facts.followers.get(e.actor_id, ())
            out += [
                PutPost(e.post_id, e.actor_id, (("deleted", "1"),), e.event_id),
                SetTimeline(e.actor_id, e.post_id, 0, False, e.event_id),
                FeedRemove(tuple((f, e.post_id) for f in followers)),
            ]
        elif isinstance(e, ev.UserFollowed) and e.actor_id != e.followee_id:
            if e.followee_id not in celebrities:
                recent = facts.timelines.get(e.followee_id, ())[:BACKFILL]
                out += [FeedAdd((e.actor_id,), post, ms) for post, ms in recent]
        elif isinstance(e, ev.UserUnfollowed):
            posts = facts.timelines.get(e.followee_id, ())
            out.append(FeedRemove(tuple((e.actor_id, post) for post, _ in posts)))
    return out


def _published(e: ev.PostPublished, facts: FeedFacts, celebrity: bool) -> list[Write]:
    ms = event_ms(e)
    fields = (
        ("author_id", str(e.actor_id)), ("caption", e.caption), ("tags", " ".join(e.tags)),
        ("thumbnail", e.variants.thumbnail), ("feed", e.variants.feed), ("full", e.variants.full),
        ("width", str(e.width)), ("height", str(e.height)), ("blurhash", e.blurhash),
        ("alt_text", e.alt_text or ""), ("published_ms", str(ms)),
        ("card", post_card(e.post_id, e.caption, e.tags, _variants(e.variants), e.width,
                           e.height, e.blurhash, e.alt_text, ms)),
    )  # fmt: skip
    writes: list[Write] = [
        PutPost(e.post_id, e.actor_id, fields, e.event_id),
        SetTimeline(e.actor_id, e.post_id, ms, True, e.event_id),
    ]
    followers = tuple(facts.followers.get(e.actor_id, ()))
    if not celebrity and followers:
        writes.append(FeedAdd(followers, e.post_id, ms))
    return writes


def _variants(v: ev.Variants) -> dict[str, str]:
    return {"thumbnail": v.thumbnail, "feed": v.feed, "full": v.full}
