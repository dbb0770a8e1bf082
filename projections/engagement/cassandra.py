"""Cassandra adapter of the durable part of the engagement group: comments and notifications
(writer for SetComment, PostMentions, SetLike, SetFollowNotice, ReadNotifications and PostGone;
CommentReader and NotificationReader). Like counts, likers and comment counts stay in Redis: a
SetLike only writes its notification here.

Comments (infra/cassandra/engagement.cql): `comments` by id is also the state of each comment's
row in `comments_by_post`, a post's live comments oldest first, keyset-paged by (created_ms,
comment_id); a deletion carries no creation time, so the writer reads it there (see
cassandra_base). A deleted comment keeps no body.

Notifications are computed at read time from one row per notifying event
(`notification_events`: recipient | post, subject, actor, event -> at_ms), so no write ever reads:
- a like, comment or follow inserts its row at its event's timestamp;
- an unlike, comment deletion or unfollow is one range delete of (post, subject, actor) at its
  event's timestamp: it hides exactly that actor's older rows, in whatever order they arrive;
- a post deletion range-deletes all of the post's rows and records the post in
  `notification_gone`, so engagement that raced the deletion notifies nobody;
- the read mark is written at timestamp = the mark, so last-write-wins keeps the largest;
- a mention inserts a row per user it tells (subject mention:<post> for a caption,
  mention:<post>:<comment> for a comment); a comment keeps its mentions (`mentions`), so its
  deletion range-deletes the rows of each user it names. A post's deletion names nobody and
  this keyspace does not know whom its caption named: those rows stay (in the recipients'
  partitions, within the 90-day TTL), and the readers drop notifications of a deleted post.
`notices` then groups the rows exactly as the Redis adapter's scripts maintain them: an actor's
contribution is its oldest row since its last retraction (a repeated like does not renew the
notification); groups are like:<post>, comment:<post>:<comment> and, for follows, the UTC day of
the follow; a group's time and id are its newest actor's; groups sort by (time, group) descending.
The recipient's partition is read whole per request: it is bounded by the table's 90-day TTL and
the newest MAX_NOTIFICATIONS groups are served (Redis trims to the same number on write).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from projections.backends.cassandra import (
    MAX_TIMESTAMP,
    CassandraStore,
    CassandraVersions,
    KeyspaceAdapter,
    Row,
    in_order,
    membership,
    write_timestamp,
)
from projections.engagement.logic import (
    MAX_NOTIFICATIONS,
    SHOWN_ACTORS,
    comment_bundle,
    follow_bundle,
    like_bundle,
    mention_bundle,
)
from projections.engagement.ports import CommentView, Notice, NoticePage, comments_page
from projections.ports import Position
from projections.text import mentioned_users, parse_mentions
from projections.writes import (
    PostGone,
    PostMentions,
    ReadNotifications,
    SetComment,
    SetFollowNotice,
    SetLike,
    Write,
)

GROUP = "engagement"
SCHEMA = "engagement.cql"
FOLLOW_SUBJECT = "follow"  # the subject of follow rows; their group is the day of the follow
NO_POST = 0  # the post of follow rows

COMMENT_STATE = (
    "SELECT deleted, WRITETIME(deleted) AS deleted_ts, created_ms, "
    "WRITETIME(created_ms) AS created_ms_ts, mentions FROM {ks}.comments WHERE comment_id = ?"
)
ADD_COMMENT = (
    "UPDATE {ks}.comments USING TIMESTAMP ? SET post_id = ?, commenter_id = ?, body = ?, "
    "created_ms = ?, deleted = false, mentions = ? WHERE comment_id = ?"
)
DELETE_COMMENT = (
    "UPDATE {ks}.comments USING TIMESTAMP ? SET post_id = ?, commenter_id = ?, body = null, "
    "deleted = true, mentions = null WHERE comment_id = ?"
)
INSERT_BY_POST = (
    "INSERT INTO {ks}.comments_by_post (post_id, created_ms, comment_id) VALUES (?, ?, ?) "
    "USING TIMESTAMP ?"
)
DELETE_BY_POST = (
    "DELETE FROM {ks}.comments_by_post USING TIMESTAMP ? "
    "WHERE post_id = ? AND created_ms = ? AND comment_id = ?"
)
COMMENT = (
    "SELECT comment_id, post_id, commenter_id, body, created_ms, deleted, mentions "
    "FROM {ks}.comments WHERE comment_id = ?"
)
COMMENTS_FIRST = "SELECT comment_id FROM {ks}.comments_by_post WHERE post_id = ? LIMIT ?"
COMMENTS_AFTER = (
    "SELECT comment_id FROM {ks}.comments_by_post "
    "WHERE post_id = ? AND (created_ms, comment_id) > (?, ?) LIMIT ?"
)
NOTIFY = (
    "INSERT INTO {ks}.notification_events (recipient_id, post_id, subject, actor_id, event_id, "
    "at_ms) VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
RETRACT_ACTOR = (
    "DELETE FROM {ks}.notification_events USING TIMESTAMP ? "
    "WHERE recipient_id = ? AND post_id = ? AND subject = ? AND actor_id = ?"
)
RETRACT_POST = (
    "DELETE FROM {ks}.notification_events USING TIMESTAMP ? WHERE recipient_id = ? AND post_id = ?"
)
POST_GONE = (
    "INSERT INTO {ks}.notification_gone (recipient_id, post_id, gone_id) VALUES (?, ?, ?) "
    "USING TIMESTAMP ?"
)
READ_UP_TO = "INSERT INTO {ks}.notification_reads (user_id, up_to) VALUES (?, ?) USING TIMESTAMP ?"
EVENTS = (
    "SELECT post_id, subject, actor_id, event_id, at_ms FROM {ks}.notification_events "
    "WHERE recipient_id = ?"
)
GONE = "SELECT post_id FROM {ks}.notification_gone WHERE recipient_id = ?"
READ_MARK = "SELECT up_to FROM {ks}.notification_reads WHERE user_id = ?"
STATEMENTS = (
    COMMENT_STATE, ADD_COMMENT, DELETE_COMMENT, INSERT_BY_POST, DELETE_BY_POST, COMMENT,
    COMMENTS_FIRST, COMMENTS_AFTER, NOTIFY, RETRACT_ACTOR, RETRACT_POST, POST_GONE, READ_UP_TO,
    EVENTS, GONE, READ_MARK,
)  # fmt: skip


def versions(
    store: CassandraStore, replication: int = 1, prefix: str = "photofeed"
) -> CassandraVersions:
    """The comments/notifications keyspaces of the engagement group (photofeed_engagement_v<N>)."""
    return CassandraVersions(store, GROUP, SCHEMA, replication, prefix)


# --- rows -> views (pure) ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Contribution:
    """One row of notification_events: `actor` did `subject` to the recipient at `at_ms`."""

    post_id: int
    subject: str
    actor_id: int
    event_id: int
    at_ms: int


def contribution(row: Row) -> Contribution:
    return Contribution(int(row["post_id"]), row["subject"], int(row["actor_id"]),
                        int(row["event_id"]), int(row["at_ms"]))  # fmt: skip


def notices(
    rows: Iterable[Contribution],
    gone: Collection[int],
    read_up_to: int,
    cap: int = MAX_NOTIFICATIONS,
) -> list[Notice]:
    """A recipient's notifications, newest activity first, from its rows (see the module doc)."""
    joined: dict[tuple[str, int], Contribution] = {}
    for c in rows:
        if c.post_id != NO_POST and c.post_id in gone:
            continue
        key = (c.subject, c.actor_id)
        if key not in joined or c.event_id < joined[key].event_id:
            joined[key] = c  # the actor's oldest row since its last retraction
    groups: dict[str, list[Contribution]] = {}
    for c in joined.values():
        group = follow_bundle(c.at_ms) if c.subject == FOLLOW_SUBJECT else c.subject
        groups.setdefault(group, []).append(c)
    out = []
    for group, actors in groups.items():
        # newest first; equal times as Redis orders equal scores (member bytes, descending)
        actors.sort(key=lambda c: (c.at_ms, str(c.actor_id)), reverse=True)
        newest = actors[0]
        out.append(
            Notice(group, newest.event_id, newest.at_ms,
                   [c.actor_id for c in actors[:SHOWN_ACTORS]], len(actors),
                   newest.event_id <= read_up_to)
        )  # fmt: skip
    out.sort(key=lambda n: (n.at_ms, n.bundle), reverse=True)
    return out[:cap]


def notice_page(items: Sequence[Notice], limit: int, after: tuple[int, str] | None) -> NoticePage:
    """The notifications strictly after `after` (a (ms, group) cursor), at most `limit`."""
    rest = list(items) if after is None else [n for n in items if (n.at_ms, n.bundle) < after]
    page = rest[: max(limit, 0)]
    nxt = (page[-1].at_ms, page[-1].bundle) if len(rest) > limit and page else None
    return NoticePage(page, nxt)


def comment_view(comment_id: int, row: Row | None) -> CommentView | None:
    """A comments row as a CommentView; None when unknown or deleted."""
    if row is None or row.get("deleted") or row.get("body") is None:
        return None
    if row.get("post_id") is None or row.get("commenter_id") is None:
        return None
    return CommentView(comment_id, int(row["post_id"]), int(row["commenter_id"]), row["body"],
                       int(row.get("created_ms") or 0),
                       parse_mentions(row.get("mentions") or ""))  # fmt: skip


def mention_rows(
    post_id: int, comment_id: int | None, actor: int, told: Sequence[int], at_ms: int, seq: int
) -> list[tuple[int, int, str, int, int, int]]:
    """The notification_events rows (recipient, post, subject, actor, event, at_ms) of a text's
    mentions, one per user it tells (no comment: the post's caption)."""
    subject = mention_bundle(post_id, comment_id)
    return [(r, post_id, subject, actor, seq, at_ms) for r in told]


# --- the adapter ---------------------------------------------------------------------------------
class CassandraEngagement(KeyspaceAdapter):
    """One version of comments and notifications."""

    # --- writes ----------------------------------------------------------------------------------
    async def apply(self, writes: Sequence[Write]) -> None:
        """Notification rows concurrently (their timestamps order them); each comment's writes in
        order, comments concurrently."""
        rows: list[tuple[str, Sequence[object]]] = []
        comments: dict[int, list[SetComment]] = {}
        captions: list[PostMentions] = []
        for w in writes:
            if isinstance(w, SetLike):
                if w.notify:
                    rows.append(self._notice(w.author_id, w.post_id, like_bundle(w.post_id),
                                             w.liker_id, w.liked, w.at_ms, w.seq))  # fmt: skip
            elif isinstance(w, SetComment):
                comments.setdefault(w.comment_id, []).append(w)
                if w.notify:
                    group = comment_bundle(w.post_id, w.comment_id)
                    rows.append(self._notice(w.author_id, w.post_id, group, w.commenter_id,
                                             w.present, w.at_ms, w.seq))  # fmt: skip
            elif isinstance(w, SetFollowNotice):
                rows.append(self._notice(w.followee_id, NO_POST, FOLLOW_SUBJECT, w.follower_id,
                                         w.present, w.at_ms, w.seq))  # fmt: skip
            elif isinstance(w, ReadNotifications):
                if w.up_to_id > 0:  # a client's id: the largest 63-bit one is no timestamp
                    ts = write_timestamp(min(w.up_to_id, MAX_TIMESTAMP - 1))
                    rows.append((self._q(READ_UP_TO), (w.user_id, w.up_to_id, ts)))
            elif isinstance(w, PostMentions):
                captions.append(w)
            elif isinstance(w, PostGone):
                ts = write_timestamp(w.seq)
                rows.append((self._q(RETRACT_POST), (ts, w.author_id, w.post_id)))
                rows.append((self._q(POST_GONE), (w.author_id, w.post_id, w.seq, ts)))
        await asyncio.gather(self._s.run(rows), in_order(comments.values(), self._set_comment))
        for m in captions:
            await self._tell(m.post_id, None, m.author_id, m.notify, m.at_ms, m.seq)

    def _notice(
        self, recipient: int, post: int, subject: str, actor: int, present: bool, at_ms: int,
        version: int,
    ) -> tuple[str, Sequence[object]]:  # fmt: skip
        ts = write_timestamp(version)
        if present:
            return self._q(NOTIFY), (recipient, post, subject, actor, version, at_ms, ts)
        return self._q(RETRACT_ACTOR), (ts, recipient, post, subject, actor)

    async def _set_comment(self, w: SetComment) -> None:
        ts = write_timestamp(w.seq)
        row = await self._s.one(self._q(COMMENT_STATE), (w.comment_id,))
        moved = await self._move(
            membership(row, "deleted", "created_ms", negate=True), w.present, w.at_ms, ts,
            lambda old: [(self._q(DELETE_BY_POST), (ts, w.post_id, old, w.comment_id))],
            lambda new: [(self._q(INSERT_BY_POST), (w.post_id, new, w.comment_id, ts))],
        )  # fmt: skip
        if not moved:
            return  # an older or redelivered write
        if w.present:  # the state last: an interrupted write is redone whole
            await self._tell(w.post_id, w.comment_id, w.commenter_id, w.notify_mentions,
                             w.at_ms, w.seq)  # fmt: skip
            added = (ts, w.post_id, w.commenter_id, w.text, w.at_ms, w.mentions or None,
                     w.comment_id)  # fmt: skip
            await self._s.execute(self._q(ADD_COMMENT), added)
        else:  # retract what it told: whom its row names (a deletion's write names nobody)
            mentioned = mentioned_users(
                [(m.user_id, m.start, m.end) for m in parse_mentions(row.get("mentions") or "")]
                if row is not None else [], w.commenter_id,
            )  # fmt: skip
            subject = mention_bundle(w.post_id, w.comment_id)
            retract = self._q(RETRACT_ACTOR)
            await self._s.run([(retract, (ts, r, w.post_id, subject, w.commenter_id))
                               for r in mentioned])  # fmt: skip
            deleted = (ts, w.post_id, w.commenter_id, w.comment_id)
            await self._s.execute(self._q(DELETE_COMMENT), deleted)

    async def _tell(
        self, post: int, comment: int | None, actor: int, told: Sequence[int], at_ms: int, seq: int
    ) -> None:
        """The notification rows of a text's mentions (see `mention_rows`)."""
        ts = write_timestamp(seq)
        rows = mention_rows(post, comment, actor, told, at_ms, seq)
        await self._s.run([(self._q(NOTIFY), (*r, ts)) for r in rows])

    # --- reads -----------------------------------------------------------------------------------
    async def comment(self, comment_id: int) -> CommentView | None:
        """A live comment; deleted and unknown ones are None."""
        return comment_view(comment_id, await self._s.one(self._q(COMMENT), (comment_id,)))

    async def comments_by_id(self, ids: Sequence[int]) -> dict[int, CommentView]:
        """Live comments by id; deleted and unknown ids are absent."""
        return await self._by_id(COMMENT, ids, comment_view)

    async def comments(
        self, post_id: int, limit: int, after: Position | None
    ) -> tuple[list[CommentView], Position | None]:
        """A page of a post's comments, oldest first, strictly after `after`."""
        if after is None:
            rows = await self._s.execute(self._q(COMMENTS_FIRST), (post_id, limit + 1))
        else:
            params = (post_id, after.at_ms, after.id, limit + 1)
            rows = await self._s.execute(self._q(COMMENTS_AFTER), params)
        ids = [int(r["comment_id"]) for r in rows]
        return await comments_page(ids, limit, self.comments_by_id)

    async def notifications(
        self, user_id: int, limit: int, after: tuple[int, str] | None
    ) -> NoticePage:
        """The user's notifications, newest activity first, strictly after `after`."""
        events, gone, mark = await asyncio.gather(
            self._s.execute(self._q(EVENTS), (user_id,)),
            self._s.execute(self._q(GONE), (user_id,)),
            self._s.one(self._q(READ_MARK), (user_id,)),
        )
        read_up_to = int(mark["up_to"]) if mark is not None and mark["up_to"] is not None else 0
        found = notices(
            (contribution(r) for r in events), {int(r["post_id"]) for r in gone}, read_up_to
        )
        return notice_page(found, limit, after)
