"""The feeds projection group as pure logic: `(events, facts) -> writes`.

Facts are what other projections know when a batch is handled (an author's followers, the
celebrities, an author's newest posts); the sink loads them for the whole batch, then these
functions decide. Normal authors' posts are pushed into followers' feeds; celebrities' posts stay
in their timelines and are merged in at read time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from projections.event_time import event_ms
from projections.feeds.cards import post_card
from projections.feeds.ports import PostView
from projections.text import fold_tags, mention_entries, parse_mentions
from projections.writes import (
    FactHandler,
    FeedAdd,
    FeedRemove,
    MarkCelebrity,
    PutPost,
    SetPostTags,
    SetTimeline,
    Write,
)
from schemas import events as ev

MAX_FEED = 800  # >= 8 pages of the largest page (100); older history is pulled from timelines
BACKFILL = 50  # newest posts of a newly followed author copied into the follower's feed


@dataclass(frozen=True)
class FeedFacts:
    followers: Mapping[int, Sequence[int]] = field(default_factory=dict)  # author -> followers
    celebrities: frozenset[int] = frozenset()
    timelines: Mapping[int, Sequence[tuple[int, int]]] = field(default_factory=dict)  # newest first
    # a switch to public's event id -> the requesters it made followers (their feeds get its posts)
    approved_by: Mapping[int, Sequence[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class FactsNeeded:
    followers_of: frozenset[int]
    timelines_of: frozenset[int]
    requesters_before: frozenset[tuple[int, int]] = frozenset()  # (owner, switch to public)


def facts_needed(events: Sequence[ev.Event]) -> FactsNeeded:
    followers: set[int] = set()
    timelines: set[int] = set()
    switches: set[tuple[int, int]] = set()
    for e in events:
        if isinstance(e, ev.PostPublished | ev.PostDeleted | ev.CelebrityFlagged):
            followers.add(e.actor_id)
        elif isinstance(e, ev.UserFollowed | ev.UserUnfollowed):
            timelines.add(e.followee_id)
        elif isinstance(e, ev.UserBlocked):
            timelines |= {e.actor_id, e.blocked_id}
        elif isinstance(e, ev.FollowRequestResolved) and e.approved:
            timelines.add(e.actor_id)
        elif isinstance(e, ev.AccountPrivacyChanged) and not e.private:
            timelines.add(e.actor_id)
            switches.add((e.actor_id, e.event_id))
    return FactsNeeded(frozenset(followers), frozenset(timelines), frozenset(switches))


def on_published(e: ev.PostPublished, facts: FeedFacts) -> list[Write]:
    """The post, its card and its mentions (a page shows those of users who still exist), its
    author's timeline, its tags' timelines, and followers' feeds unless it is pulled."""
    ms = event_ms(e)
    tags = fold_tags(e.tags)
    mentions = mention_entries(e.caption, [(m.user_id, m.start, m.end) for m in e.mentions])
    fields = (
        ("author_id", str(e.actor_id)), ("caption", e.caption), ("tags", " ".join(tags)),
        ("thumbnail", e.variants.thumbnail), ("feed", e.variants.feed), ("full", e.variants.full),
        ("width", str(e.width)), ("height", str(e.height)), ("blurhash", e.blurhash),
        ("alt_text", e.alt_text or ""), ("published_ms", str(ms)),
        ("card", post_card(e.post_id, e.caption, tags, _variants(e.variants), e.width,
                           e.height, e.blurhash, e.alt_text, ms)),
        ("mentions", mentions),
    )  # fmt: skip
    writes: list[Write] = [
        PutPost(e.post_id, e.actor_id, fields, e.event_id),
        SetTimeline(e.actor_id, e.post_id, ms, True, e.event_id),
        SetPostTags(e.post_id, tags, ms, True, e.event_id),
    ]
    followers = tuple(facts.followers.get(e.actor_id, ()))
    if e.actor_id not in facts.celebrities and followers:
        writes.append(FeedAdd(followers, e.post_id, ms))
    return writes


def on_deleted(e: ev.PostDeleted, facts: FeedFacts) -> list[Write]:
    followers = facts.followers.get(e.actor_id, ())
    return [
        PutPost(e.post_id, e.actor_id, (("deleted", "1"),), e.event_id),
        SetTimeline(e.actor_id, e.post_id, 0, False, e.event_id),
        SetPostTags(e.post_id, (), 0, False, e.event_id),
        FeedRemove(tuple((f, e.post_id) for f in followers)),
    ]


def on_followed(e: ev.UserFollowed, facts: FeedFacts) -> list[Write]:
    if e.actor_id == e.followee_id or e.followee_id in facts.celebrities:
        return []
    recent = facts.timelines.get(e.followee_id, ())[:BACKFILL]
    return [FeedAdd((e.actor_id,), post, ms) for post, ms in recent]


def on_unfollowed(e: ev.UserUnfollowed, facts: FeedFacts) -> list[Write]:
    posts = facts.timelines.get(e.followee_id, ())
    return [FeedRemove(tuple((e.actor_id, post) for post, _ in posts))]


def on_blocked(e: ev.UserBlocked, facts: FeedFacts) -> list[Write]:
    """A block is the two unfollows it implies (projections/graph/handlers.py): each one's posts
    leave the other's feed. (A mute purges nothing: the read path leaves the muted author out,
    and an unmute shows their posts again.)"""
    a, b = e.actor_id, e.blocked_id
    if a == b:
        return []
    entries = [(a, post) for post, _ in facts.timelines.get(b, ())]
    entries += [(b, post) for post, _ in facts.timelines.get(a, ())]
    return [FeedRemove(tuple(entries))] if entries else []


def on_request_resolved(e: ev.FollowRequestResolved, facts: FeedFacts) -> list[Write]:
    """An approved request is a follow: the owner's newest posts into the requester's feed (an
    approval of a request withdrawn meanwhile adds rows the read path leaves out: it shows only
    authors the viewer follows)."""
    if not e.approved or e.actor_id == e.requester_id or e.actor_id in facts.celebrities:
        return []
    recent = facts.timelines.get(e.actor_id, ())[:BACKFILL]
    return [FeedAdd((e.requester_id,), post, ms) for post, ms in recent]


def on_privacy_changed(e: ev.AccountPrivacyChanged, facts: FeedFacts) -> list[Write]:
    """Going public approves every pending request: each requester gets the newest posts as a
    follower does (the graph group's registers say whom: GraphReader.requesters_before)."""
    requesters = tuple(facts.approved_by.get(e.event_id, ()))
    if e.private or not requesters or e.actor_id in facts.celebrities:
        return []
    recent = facts.timelines.get(e.actor_id, ())[:BACKFILL]
    return [FeedAdd(requesters, post, ms) for post, ms in recent]


def on_celebrity_flagged(e: ev.CelebrityFlagged, facts: FeedFacts) -> list[Write]:
    return [MarkCelebrity(e.actor_id)]  # the user's later posts stay in their timeline


FEED_HANDLERS: dict[type[ev.Event], FactHandler[FeedFacts]] = {
    ev.PostPublished: on_published,
    ev.PostDeleted: on_deleted,
    ev.UserFollowed: on_followed,
    ev.UserUnfollowed: on_unfollowed,
    ev.UserBlocked: on_blocked,
    ev.FollowRequestResolved: on_request_resolved,
    ev.AccountPrivacyChanged: on_privacy_changed,
    ev.CelebrityFlagged: on_celebrity_flagged,
}
FEED_EVENTS = frozenset(FEED_HANDLERS)


def feed_writes(events: Sequence[ev.Event], facts: FeedFacts) -> list[Write]:
    """The writes of a batch, in event order; a user flagged celebrity in the batch is one for
    the events after the flag."""
    out: list[Write] = []
    for e in events:
        handler = FEED_HANDLERS.get(type(e))
        if handler is not None:
            out += handler(e, facts)
        if isinstance(e, ev.CelebrityFlagged):
            facts = replace(facts, celebrities=facts.celebrities | {e.actor_id})
    return out


def _variants(v: ev.Variants) -> dict[str, str]:
    return {"thumbnail": v.thumbnail, "feed": v.feed, "full": v.full}


def post_view(post_id: int, fields: Mapping[str, str]) -> PostView | None:
    """The view of a post's stored fields (those `on_published` writes); None for a tombstone
    or a post nothing but its deletion is known of."""
    if not fields or fields.get("deleted") == "1" or "author_id" not in fields:
        return None
    return PostView(
        post_id=post_id, author_id=int(fields["author_id"]), caption=fields.get("caption", ""),
        tags=tuple(fields["tags"].split()) if fields.get("tags") else (),
        variants={n: fields[n] for n in ("thumbnail", "feed", "full") if n in fields},
        width=int(fields.get("width", 0)), height=int(fields.get("height", 0)),
        blurhash=fields.get("blurhash", ""), alt_text=fields.get("alt_text") or None,
        published_ms=int(fields.get("published_ms", 0)),
        mentions=parse_mentions(fields.get("mentions", "")),
    )  # fmt: skip
