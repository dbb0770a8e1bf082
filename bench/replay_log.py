"""A generated log holding every event the projection groups consume, for the replay benchmark.

The shape follows a photo-sharing site: accounts register, then, interleaved at random, follow
(Zipf-skewed: a few authors gather most followers; those passing CELEBRITY_AT get their
`CelebrityFlagged`), upload photos that are processed and published, like and comment (Zipf over
recency: the newest posts are hot), unlike, delete comments and posts, and mark notifications
read. One seeded pass builds the events in the order the gateway appends them, so each entity's
events keep their order on their partition, and `LogTruth` records what the log implies.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from schemas import events as ev
from schemas.ids import SnowflakeGenerator

T = TypeVar("T")
ZIPF_S = 1.0  # popularity ~ 1 / rank**s: followed authors by rank, liked posts by recency
SPAN = timedelta(days=20)  # occurred_at spreads over this: follow notices group per UTC day
UNFOLLOW_SHARE = 0.1  # of follow actions: an unfollow of a standing edge
UNLIKE_SHARE = 0.1  # of like actions: an unlike of a standing like
COMMENT_DELETE_SHARE = 0.05  # of comment actions: a deletion of a live comment
EARLY_POSTS = 0.05  # share of posts published before any other action, so likes have targets
TAGS = 31  # distinct tags (besides #sea, on every post)


@dataclass(frozen=True)
class LogShape:
    """How many of each action (a post is 3 events: uploaded, processed, published)."""

    users: int = 20_000
    authors: int = 2_000  # the first `authors` users are the ones who post and get followed
    follows: int = 150_000
    posts: int = 15_000
    likes: int = 700_000
    comments: int = 60_000
    reads: int = 10_000  # NotificationsRead
    post_deletions: int = 300
    celebrity_at: int = 5_000  # followers at which an author is flagged (about the top 3)

    def scaled(self, scale: float) -> LogShape:
        def n(x: int) -> int:
            return max(1, int(x * scale))

        return LogShape(
            n(self.users), n(self.authors), n(self.follows), n(self.posts), n(self.likes),
            n(self.comments), n(self.reads), n(self.post_deletions), n(self.celebrity_at),
        )  # fmt: skip


@dataclass
class LogTruth:
    """What the whole log implies once applied; the bench checks replays against it."""

    likes: dict[int, int] = field(default_factory=dict)  # post -> like count
    comments: dict[int, int] = field(default_factory=dict)  # post -> live comments
    followers: dict[int, int] = field(default_factory=dict)  # user -> follower count
    authors: dict[int, int] = field(default_factory=dict)  # every published post -> its author
    deleted_posts: set[int] = field(default_factory=set)
    usernames: dict[int, str] = field(default_factory=dict)


def tag_of(post_id: int) -> str:
    """The distinguishing tag of a generated post (about 1 post in TAGS has it)."""
    return f"tag{post_id % TAGS}"


class _Builder:
    def __init__(self, shape: LogShape, seed: int) -> None:
        self.shape = shape
        self.rng = random.Random(seed)
        self.ids = SnowflakeGenerator(11)
        actions = shape.follows + 3 * shape.posts + shape.likes + shape.comments + shape.reads
        self.clock = datetime.now(tz=UTC).replace(microsecond=0) - SPAN
        self.step = SPAN / max(1, actions + shape.users)
        self.users = [self.ids.next_id() for _ in range(shape.users)]
        ranks = (1 / (rank + 1) ** ZIPF_S for rank in range(max(shape.authors, shape.posts)))
        self.zipf = list(itertools.accumulate(ranks))  # cumulative weights by rank
        self.truth = LogTruth()
        self.edges: dict[tuple[int, int], bool] = {}
        self.standing_edges: list[tuple[int, int]] = []
        self.flagged: set[int] = set()
        self.posts: list[tuple[int, int]] = []  # (post, author), live, in publication order
        self.liked: dict[tuple[int, int], bool] = {}
        self.standing_likes: list[tuple[int, int, int]] = []  # (post, author, liker)
        self.live_comments: list[tuple[int, int, int, int]] = []  # comment, post, author, who

    def base(self, actor: int) -> dict[str, Any]:
        self.clock += self.step
        return {"event_id": self.ids.next_id(), "occurred_at": self.clock, "actor_id": actor}

    def rank(self, n: int) -> int:
        """A Zipf-distributed rank below n (0 the most popular)."""
        return bisect.bisect_left(self.zipf, self.rng.random() * self.zipf[n - 1], 0, n - 1)

    def register(self, i: int) -> ev.Event:
        self.truth.usernames[self.users[i]] = f"user{i}"
        return ev.UserRegistered(**self.base(self.users[i]), username=f"user{i}")

    def follow(self) -> list[ev.Event]:
        if self.standing_edges and self.rng.random() < UNFOLLOW_SHARE:
            a, b = _pop_random(self.rng, self.standing_edges)
            self.edges[(a, b)] = False
            self.truth.followers[b] -= 1
            return [ev.UserUnfollowed(**self.base(a), followee_id=b)]
        b = self.users[self.rank(self.shape.authors)]
        a = self.rng.choice(self.users)
        if a == b or self.edges.get((a, b)):
            return [ev.UserFollowed(**self.base(b), followee_id=b)]  # a self-follow: ignored
        self.standing_edges.append((a, b))
        self.edges[(a, b)] = True
        count = self.truth.followers[b] = self.truth.followers.get(b, 0) + 1
        out: list[ev.Event] = [ev.UserFollowed(**self.base(a), followee_id=b)]
        if count >= self.shape.celebrity_at and b not in self.flagged:
            self.flagged.add(b)
            out.append(ev.CelebrityFlagged(**self.base(b), follower_count=count))
        return out

    def publish(self) -> list[ev.Event]:
        author = self.rng.choice(self.users[: self.shape.authors])
        photo = self.ids.next_id()
        sha = f"{photo:064x}"
        variants = ev.Variants(*(f"v/{sha[:2]}/{sha}/{v}.jpg" for v in ("t", "f", "u")))
        caption, tags = f"sunset at the sea no {photo % 97}", (tag_of(photo), "sea")
        self.posts.append((photo, author))
        self.truth.authors[photo] = author
        self.truth.likes[photo] = self.truth.comments[photo] = 0
        return [
            ev.PhotoUploaded(**self.base(author), photo_id=photo, object_key=f"o/{author}/{photo}",
                             content_type="image/jpeg", size_bytes=2_000_000, caption=caption,
                             tags=tags),
            ev.PhotoProcessed(**self.base(author), photo_id=photo, variants=variants, width=1080,
                              height=810, blurhash="LEHV6nWB2yk8", phash=photo % (1 << 63),
                              content_sha256=sha),
            ev.PostPublished(**self.base(author), post_id=photo, photo_id=photo, caption=caption,
                             tags=tags, variants=variants, width=1080, height=810,
                             blurhash="LEHV6nWB2yk8"),
        ]  # fmt: skip

    def hot_post(self) -> tuple[int, int]:
        return self.posts[-1 - self.rank(len(self.posts))]

    def like(self) -> list[ev.Event]:
        if self.standing_likes and self.rng.random() < UNLIKE_SHARE:
            post, author, user = _pop_random(self.rng, self.standing_likes)
            self.liked[(post, user)] = False
            self.truth.likes[post] -= 1
            return [ev.PostUnliked(**self.base(user), post_id=post, author_id=author)]
        post, author = self.hot_post()
        user = self.rng.choice(self.users)
        if not self.liked.get((post, user)):
            self.standing_likes.append((post, author, user))
            self.truth.likes[post] += 1
        self.liked[(post, user)] = True
        return [ev.PostLiked(**self.base(user), post_id=post, author_id=author)]

    def comment(self) -> list[ev.Event]:
        if self.live_comments and self.rng.random() < COMMENT_DELETE_SHARE:
            comment, post, author, who = _pop_random(self.rng, self.live_comments)
            self.truth.comments[post] -= 1
            return [ev.CommentDeleted(**self.base(who), comment_id=comment, post_id=post,
                                      author_id=author, commenter_id=who)]  # fmt: skip
        post, author = self.hot_post()
        who, comment = self.rng.choice(self.users), self.ids.next_id()
        self.live_comments.append((comment, post, author, who))
        self.truth.comments[post] += 1
        return [ev.CommentAdded(**self.base(who), comment_id=comment, post_id=post,
                                author_id=author, text=f"nice one {comment % 1000}")]  # fmt: skip

    def read(self) -> list[ev.Event]:
        user = self.users[self.rng.randrange(self.shape.authors)]
        return [ev.NotificationsRead(**self.base(user), up_to_id=self.ids.next_id())]

    def delete_post(self) -> list[ev.Event]:
        post, author = _pop_random(self.rng, self.posts)
        self.truth.deleted_posts.add(post)
        return [ev.PostDeleted(**self.base(author), post_id=post)]


def generate(shape: LogShape, seed: int = 1) -> tuple[list[ev.Event], LogTruth]:
    """Every event of the log in append order, and what it implies."""
    b = _Builder(shape, seed)
    events = [b.register(i) for i in range(shape.users)]
    early = max(1, int(shape.posts * EARLY_POSTS))
    for _ in range(early):
        events += b.publish()
    for action in _actions(b.rng, shape, early):
        events += action(b)
    return events, b.truth


def _actions(rng: random.Random, shape: LogShape, early: int) -> Iterator[Any]:
    """The interleaved actions after the early posts: each kind as often as the shape says,
    deletions only in the last half (so most deleted posts gathered engagement first)."""
    kinds = [_Builder.follow] * shape.follows + [_Builder.publish] * (shape.posts - early)
    kinds += [_Builder.like] * shape.likes + [_Builder.comment] * shape.comments
    kinds += [_Builder.read] * shape.reads
    rng.shuffle(kinds)
    deletions = sorted(
        rng.randrange(len(kinds) // 2, len(kinds)) for _ in range(shape.post_deletions)
    )
    at = 0
    for i, kind in enumerate(kinds):
        while at < len(deletions) and deletions[at] == i:
            at += 1
            yield _Builder.delete_post
        yield kind


def _pop_random(rng: random.Random, items: list[T]) -> T:
    i = rng.randrange(len(items))
    items[i], items[-1] = items[-1], items[i]
    return items.pop()
