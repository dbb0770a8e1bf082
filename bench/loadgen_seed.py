"""The read benchmarks' world, written the way production writes it: events appended to the log
and projected into Valkey by the real worker process, so the bench measures whatever storage the
projections use today. (Accounts and tokens: bench/loadgen_reads.py.)

About 14,000 events: the worker's projection speed (~1.5 ms of CPU per event) sets the seeding
time, so the world is as small as the figures allow. Viewers come in cohorts that follow the same
accounts (one walk of a cohort's feed yields cursors valid for all of its members). Each cohort
follows COHORT_FOLLOWS of the POOL authors and COHORT_CELEBRITIES celebrities: enough posts for
FEED_PAGES pages, deeper than the pushed feed keeps (MAX_FEED), so the last pages come from
timelines. One heavy viewer follows HEAVY_FOLLOWS accounts, CELEBRITIES of them celebrities.
Celebrities are real: FANS followers each, and the bench runs the worker with
`celebrity_threshold=FANS`, so the worker flags them itself. SHOWCASE posts carry comments and
likes (the comments page, their authors' notifications). `Arrivals` keeps posts coming during the
measurements.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from infra.kafka import KafkaEventLog
from infra.lag import probe_lag
from infra.settings import Settings
from infra.topics import USERS
from replay.reader import read_to_end
from schemas import events as ev
from schemas.ids import SnowflakeGenerator

PAGE = 20
FEED_PAGES = 50  # the cursor chain walked per cohort
COHORTS, COHORT_SIZE = 10, 10  # 100 viewers
POOL = 50  # authors the cohorts follow
COHORT_FOLLOWS = 26  # of POOL; * POSTS_PER_POOL_AUTHOR >= PAGE * FEED_PAGES (1,000 posts)
POSTS_PER_POOL_AUTHOR = 40
CELEBRITIES = 20
COHORT_CELEBRITIES = 3
POSTS_PER_CELEBRITY = 30
FANS = 50  # followers of every celebrity besides viewers; the bench's celebrity threshold
HEAVY_FOLLOWS = 2000  # the heavy viewer: all of POOL + TAIL + CELEBRITIES
TAIL = HEAVY_FOLLOWS - POOL - CELEBRITIES  # authors only the heavy viewer follows
POSTS_PER_TAIL_AUTHOR = 1
SHOWCASE = 20  # posts with comments and likes, one per author
COMMENTS_PER_SHOWCASE, LIKES_PER_SHOWCASE = 25, 30  # >= PAGE comments: a full comments page
SPACING_MS = 1000  # between seeded posts, ending now
SEED_WORKER_ID, ARRIVALS_WORKER_ID = 901, 902  # distinct snowflake workers: ids never collide
CAUGHT_UP_TIMEOUT_S = 240.0  # the worker projects ~40k events well within this on 2 cores
VARIANTS = ev.Variants(
    "v/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/thumbnail.jpg",
    "v/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/feed.jpg",
    "v/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/full.jpg",
)


@dataclass(slots=True)
class World:
    """Who is who in the seeded world (ids as the events carry them)."""

    cohorts: list[list[int]] = field(default_factory=list)
    heavy: int = 0
    pool: list[int] = field(default_factory=list)
    celebrities: list[int] = field(default_factory=list)
    posts: list[int] = field(default_factory=list)  # pool authors' posts
    showcase: list[tuple[int, int]] = field(default_factory=list)  # (post id, author id)

    @property
    def viewers(self) -> list[int]:
        return [v for cohort in self.cohorts for v in cohort]


class _Events:
    """Builds events with ids from one generator and times from one clock."""

    def __init__(self, seed: int, worker_id: int) -> None:
        self.ids = SnowflakeGenerator(worker_id)
        self.rng = random.Random(seed)

    def user(self, name: str) -> tuple[int, ev.UserRegistered]:
        uid = self.ids.next_id()
        return uid, ev.UserRegistered(
            event_id=self.ids.next_id(), occurred_at=_now(), actor_id=uid, username=name
        )

    def follow(self, who: int, whom: int) -> ev.UserFollowed:
        return ev.UserFollowed(
            event_id=self.ids.next_id(), occurred_at=_now(), actor_id=who, followee_id=whom
        )

    def post(self, author: int, at: datetime) -> ev.PostPublished:
        post = self.ids.next_id()
        return ev.PostPublished(
            event_id=self.ids.next_id(),
            occurred_at=at,
            actor_id=author,
            post_id=post,
            photo_id=post,
            caption=f"bench post {post} #bench #feed",
            tags=("bench", "feed"),
            variants=VARIANTS,
            width=1080,
            height=1350,
            blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj",
            alt_text="a benchmark photo",
        )


def build_world(seed: int = 7) -> tuple[World, list[ev.Event], list[ev.Event], list[ev.Event]]:
    """(the world, graph events, post events, engagement events), deterministic for `seed`."""
    e = _Events(seed, SEED_WORKER_ID)
    world = World()
    graph: list[ev.Event] = []

    def users(n: int, name: str) -> list[int]:
        made = [e.user(f"{name}{i}") for i in range(n)]
        graph.extend(event for _, event in made)
        return [uid for uid, _ in made]

    world.pool, tail = users(POOL, "author"), users(TAIL, "tail")
    world.celebrities, fans = users(CELEBRITIES, "celebrity"), users(FANS, "fan")
    world.cohorts = [users(COHORT_SIZE, f"viewer{c}_") for c in range(COHORTS)]
    world.heavy = users(1, "heavy")[0]
    for cohort in world.cohorts:
        followed = [
            *e.rng.sample(world.pool, COHORT_FOLLOWS),
            *e.rng.sample(world.celebrities, COHORT_CELEBRITIES),
        ]
        graph += [e.follow(v, a) for v in cohort for a in followed]
    graph += [e.follow(world.heavy, a) for a in [*world.pool, *tail, *world.celebrities]]
    graph += [e.follow(f, c) for f in fans for c in world.celebrities]
    authors = (
        [a for a in world.pool for _ in range(POSTS_PER_POOL_AUTHOR)]
        + [a for a in tail for _ in range(POSTS_PER_TAIL_AUTHOR)]
        + [c for c in world.celebrities for _ in range(POSTS_PER_CELEBRITY)]
    )
    e.rng.shuffle(authors)
    oldest = _now() - timedelta(milliseconds=SPACING_MS * len(authors))
    posts = [
        e.post(a, oldest + timedelta(milliseconds=SPACING_MS * i)) for i, a in enumerate(authors)
    ]
    pool = set(world.pool)
    world.posts = [p.post_id for p in posts if p.actor_id in pool]
    newest_by_author: dict[int, int] = {}
    for p in reversed(posts):
        if p.actor_id in pool and len(newest_by_author) < SHOWCASE:
            newest_by_author.setdefault(p.actor_id, p.post_id)
    world.showcase = [(post, author) for author, post in newest_by_author.items()]
    engagement: list[ev.Event] = []
    viewers = world.viewers
    for post, author in world.showcase:
        for fan in e.rng.sample(viewers, LIKES_PER_SHOWCASE):
            engagement.append(
                ev.PostLiked(
                    event_id=e.ids.next_id(),
                    occurred_at=_now(),
                    actor_id=fan,
                    post_id=post,
                    author_id=author,
                )
            )
        for n in range(COMMENTS_PER_SHOWCASE):
            engagement.append(
                ev.CommentAdded(
                    event_id=e.ids.next_id(),
                    occurred_at=_now(),
                    actor_id=e.rng.choice(viewers),
                    comment_id=e.ids.next_id(),
                    post_id=post,
                    author_id=author,
                    text=f"comment {n}: what a view, where was this taken?",
                )
            )
    return world, graph, list(posts), engagement


def project(settings: Settings, log: KafkaEventLog, events: list[ev.Event]) -> None:
    """Append `events` and wait until the worker has consumed every topic to its end."""
    for event in events:
        log.append_nowait(event)
    log.flush(60)
    wait_caught_up(settings)


def wait_caught_up(settings: Settings, timeout_s: float = CAUGHT_UP_TIMEOUT_S) -> None:
    """Until the worker group's committed offsets reach the log end on every topic."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lags = [row.lag for row in probe_lag(settings)]
        if lags and all(lag == 0 for lag in lags):
            return
        time.sleep(0.5)
    raise TimeoutError(f"the worker did not catch up within {timeout_s:.0f} s")


def wait_celebrities(settings: Settings, count: int, timeout_s: float = 60.0) -> None:
    """Until the worker appended `count` CelebrityFlagged events (it flags at the threshold)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        flagged = {
            logged.event.actor_id
            for logged in read_to_end(settings.bootstrap, [USERS.name])
            if isinstance(logged.event, ev.CelebrityFlagged)
        }
        if len(flagged) >= count:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the worker flagged fewer than {count} celebrities in {timeout_s:.0f} s")


class Arrivals:
    """Posts by pool authors and celebrities appended at `per_s` while the block runs (a thread;
    the bench's main thread only waits on its load generators meanwhile)."""

    def __init__(self, settings: Settings, log: KafkaEventLog, world: World, per_s: float) -> None:
        self._log, self._world, self._interval = log, world, 1 / per_s
        self._events = _Events(int(time.time()), ARRIVALS_WORKER_ID)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arrivals", daemon=True)
        self.appended = 0

    def _authors(self) -> Iterator[int]:
        authors = [*self._world.pool, *self._world.celebrities]
        while True:
            yield self._events.rng.choice(authors)

    def _run(self) -> None:
        authors = self._authors()
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self._log.append_nowait(self._events.post(next(authors), _now()))
            self.appended += 1
            next_at += self._interval

    def __enter__(self) -> Arrivals:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._log.flush(30)


def _now() -> datetime:
    return datetime.now(tz=UTC)
