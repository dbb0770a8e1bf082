"""Pages in one server-side call: the Redis adapter of the read library (pages.lua beside it).

Built once per process and set of active versions (graph, feeds, engagement); each page is one
FCALL_RO whose reply is the page's JSON, ready to send once the URL base is put in
(projections/feeds/cards.py). A post projected before cards existed makes the call answer `legacy`:
the caller then serves that page through the per-group readers until a feeds replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from projections.backends.keys import template
from projections.engagement.keys import EngagementKeys
from projections.feeds.keys import FeedKeys
from projections.graph.keys import GraphKeys
from projections.pages.channel import channel_of
from projections.ports import Position

DEEP_STEP = 100  # rows of merged history materialized at a time when scrolling past the feed
# rows of followed celebrities' posts a viewer's pull cache keeps (~25 pages of them; older pages
# merge the timelines directly). It holds up to twice that, within zset-max-listpack-entries
# (1,024, infra/stack.py), so it stays a listpack: measured 20 KB for 1,000 rows, where 2,000
# (up to 4,000 rows, a skiplist) took 326 KB per viewer following prolific celebrities
PULL_WINDOW = 500
PULL_MIN_ROWS = 20  # the fewest rows a whole read takes of one celebrity (a page of them)
Session = tuple[str, str, int]  # the account hash, the session's revocation key, the token epoch
TAILS_KEPT = 4096  # viewers whose call arguments (`RedisPages._tail`) are kept ready


@dataclass(frozen=True, slots=True)
class PageReply:
    """`status` is 'ok' (then `posts` is a JSON array), 'legacy', 'none' (no such post),
    'private' (a private account's the viewer may not see), or a session verdict ('revoked',
    'gone')."""

    status: str
    posts: bytes = b"[]"
    next: Position | None = None
    missing: bool = False  # the pushed feed does not exist: the caller may rebuild it
    next_key: tuple[int, str] | None = None  # a notifications page's next (ms, group)


class _Calls:
    """`fcall` / `fcall_ro` of the read library: on the client's page channel when it has one
    (projections/pages/channel.py: the same replies and errors at a third of redis-py's CPU),
    else through redis-py."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._channel = channel_of(redis)

    async def fcall(self, function: str, numkeys: int, *keys_and_args: Any) -> Any:
        if self._channel is None:
            return await self._redis.fcall(function, numkeys, *keys_and_args)
        return await self._channel.call("FCALL", function, numkeys, *keys_and_args)

    async def fcall_ro(self, function: str, numkeys: int, *keys_and_args: Any) -> Any:
        if self._channel is None:
            return await self._redis.fcall_ro(function, numkeys, *keys_and_args)
        return await self._channel.call("FCALL_RO", function, numkeys, *keys_and_args)


class RedisPages:
    def __init__(
        self, redis: Redis, graph: int, feeds: int, engagement: int, deep_step: int = DEEP_STEP,
        pull_window: int = PULL_WINDOW, pull_min_rows: int = PULL_MIN_ROWS,
    ) -> None:  # fmt: skip
        self._r = _Calls(redis)
        self._deep_step = deep_step
        self._pull_window = pull_window
        self._pull_min_rows = pull_min_rows
        self.versions = (graph, feeds, engagement)
        self.graph, self.feeds, self.engagement = (
            GraphKeys(graph), FeedKeys(feeds), EngagementKeys(engagement)
        )  # fmt: skip
        self._templates = (
            template(self.feeds.timeline), template(self.feeds.post), template(self.graph.user),
            template(self.engagement.post), template(self.engagement.comments),
            template(self.engagement.comment),
        )  # fmt: skip
        self._tails: dict[int | None, tuple[str | int, ...]] = {}
        self._stamp = template(self.feeds.timeline_stamp)

    def _tail(self, viewer: int | None) -> tuple[str | int, ...]:
        """The templates, then the viewer and their blocks, blocked_by, mutes and following
        zsets ('' when anonymous): what pages.lua `templates` reads (the rules of
        projections/graph/relations.py and projections/graph/visibility.py). Kept per viewer
        (TAILS_KEPT of them, the oldest dropped): the same strings on every page."""
        found = self._tails.get(viewer)
        if found is not None:
            return found
        if viewer is None:
            found = (*self._templates, "", "", "", "", "")
        else:
            g = self.graph
            found = (*self._templates, viewer, g.blocks(viewer), g.blocked_by(viewer),
                     g.mutes(viewer), g.following(viewer))  # fmt: skip
        if len(self._tails) >= TAILS_KEPT:
            del self._tails[next(iter(self._tails))]
        self._tails[viewer] = found
        return found

    async def feed(
        self, viewer: int, session: Session, limit: int, after: Position | None
    ) -> PageReply:
        """The viewer's home feed page; the session is checked in the same call."""
        g, f = self.graph, self.feeds
        keys = (
            session[0],
            session[1],
            f.feed(viewer),
            f.feed_trimmed(viewer),
            g.following(viewer),
            g.celebrities_followed(viewer),
            self.engagement.liked(viewer),
            f.frontier(viewer),
            f.deep_meta(viewer),
            f.deep(viewer),
            f.pull(viewer),
            f.pull_meta(viewer),
        )
        reply = await self._r.fcall(  # it may write its caches (deep scroll, pulled celebrities)
            "feed_page", len(keys), *keys, session[2], limit, *_position(after), self._deep_step,
            *self._tail(viewer), self._pull_window, self._stamp, self._pull_min_rows,
        )  # fmt: skip
        return _page(reply)

    async def grid(
        self, author: int, viewer: int | None, session: Session | None, limit: int,
        after: Position | None,
    ) -> PageReply:  # fmt: skip
        """An author's posts, newest first ('none': no such author, or one blocked either way);
        the session, when there is one, is checked in the same call."""
        keys = [*_session_keys(session), self.feeds.timeline(author), self.graph.user(author)]
        if viewer is not None:
            keys.append(self.engagement.liked(viewer))
        reply = await self._r.fcall_ro(
            "grid_page", len(keys), *keys, _epoch(session), limit, *_position(after),
            *self._tail(viewer), author,
        )  # fmt: skip
        return _page(reply)

    async def tag(
        self, tag: str, viewer: int | None, session: Session | None, limit: int,
        after: Position | None,
    ) -> PageReply:  # fmt: skip
        """A tag's posts (a normalised tag), newest first; the session, when there is one, is
        checked in the same call."""
        keys = [*_session_keys(session), self.feeds.tag(tag)]
        if viewer is not None:
            keys.append(self.engagement.liked(viewer))
        reply = await self._r.fcall_ro(
            "tag_page", len(keys), *keys, _epoch(session), limit, *_position(after),
            *self._tail(viewer),
        )  # fmt: skip
        return _page(reply)

    async def post(self, post_id: int, viewer: int | None, session: Session | None) -> PageReply:
        """One post as a JSON object in `posts`, or status 'none'."""
        keys = _session_keys(session)
        if viewer is not None:
            keys.append(self.engagement.liked(viewer))
        reply = await self._r.fcall_ro(
            "post_card", len(keys), *keys, _epoch(session), post_id, *self._tail(viewer)
        )
        return _page(reply)

    async def cards(
        self, post_ids: Sequence[int], viewer: int | None, session: Session | None
    ) -> PageReply:
        """Cards of the given posts in order (deleted ones left out), as a JSON array."""
        keys = _session_keys(session)
        if viewer is not None:
            keys.append(self.engagement.liked(viewer))
        reply = await self._r.fcall_ro(
            "post_cards", len(keys), *keys, _epoch(session), len(post_ids), *post_ids,
            *self._tail(viewer),
        )  # fmt: skip
        return _page(reply)

    async def comments(
        self, post_id: int, session: Session | None, limit: int, after: Position | None,
        viewer: int | None = None,
    ) -> PageReply:  # fmt: skip
        """A post's comments, oldest first, as a JSON array in `posts` ('none': no such post,
        or one whose author is blocked either way)."""
        keys = [*_session_keys(session), self.engagement.comments(post_id)]
        start = ("-inf", "") if after is None else (str(after.at_ms), str(after.id))
        reply = await self._r.fcall_ro(
            "comments_page", len(keys), *keys, _epoch(session), post_id, limit, *start,
            *self._tail(viewer),
        )  # fmt: skip
        return _page(reply, key_cursor=False)

    async def notifications(
        self, viewer: int, session: Session | None, limit: int, after: tuple[int, str] | None,
        shown_actors: int,
    ) -> PageReply:  # fmt: skip
        """The viewer's notifications as a JSON array in `posts`; `next_key` is the cursor."""
        e = self.engagement
        keys = [*_session_keys(session), e.inbox(viewer), e.inbox_meta(viewer)]
        start = ("+inf", "") if after is None else (str(after[0]), after[1])
        reply = await self._r.fcall_ro(
            "notifications_page", len(keys), *keys, _epoch(session), limit, *start,
            shown_actors, e.bundle_prefix(viewer), *self._tail(viewer),
        )  # fmt: skip
        return _page(reply, key_cursor=True)


def _session_keys(session: Session | None) -> list[str]:
    return ["", ""] if session is None else [session[0], session[1]]


def _epoch(session: Session | None) -> str | int:
    return "" if session is None else session[2]


def _position(after: Position | None) -> tuple[str, str]:
    return ("+inf", "") if after is None else (str(after.at_ms), str(after.id))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _page(reply: list[Any], key_cursor: bool = False) -> PageReply:
    """A page function's reply: its status, then the page's JSON in one string (pages.lua
    `reply`) and where the next page starts."""
    status = _text(reply[0])
    if status != "ok":
        return PageReply(status)
    posts = _bytes(reply[1])
    nxt, next_key = None, None
    if len(reply) > 3 and reply[2] not in (b"", ""):
        at_ms = int(float(_text(reply[2])))
        if key_cursor:
            next_key = (at_ms, _text(reply[3]))
        else:
            nxt = Position(at_ms, int(_text(reply[3])))
    missing = len(reply) > 4 and _text(reply[4]) == "missing"
    return PageReply(status, posts, nxt, missing, next_key)
