"""Like events/s per agent process (decode + engagement projection writes) vs a bare fastavro decode
loop over the same bytes, in the same run.

~100k pre-encoded PostLiked/PostUnliked events (90% likes, 10% unlikes of earlier likes, a few
self-likes) from 20k users over 2k posts by 200 authors, Zipf-skewed so a few posts are hot.
1. `likes_pipeline`: in this process, what the agent does per batch of BATCH_MAX messages:
   `codec.decode` each, then `ProjectionSink(Group.ENGAGEMENT, ...).apply(events)` on the Valkey.
2. `likes_worker`: the same events appended to Kafka, then a real `photofeed worker` started;
   timed from its group join until its applied offsets reach the log's end (`wait_applied`).
The baseline of both is `fastavro.schemaless_reader` over the same message bodies (writer schema
chosen by fingerprint, no dataclasses, no Redis). Counts are checked against the generated events.
Run: make bench-likes
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import fastavro
from redis.asyncio import Redis

from bench.harness import isolated_stack, report
from infra.clients import make_redis
from infra.kafka import KafkaEventLog, partitions_of
from infra.lag import log_ends
from infra.processes import ManagedProcess, ProcessSpec, wait_until
from infra.readiness import worker_joined
from infra.settings import Settings
from infra.topics import ENGAGEMENT
from photofeed.stores import make_stores, writer_factory
from projections.backends.positions import RedisAppliedOffsets
from projections.engagement.redis import RedisEngagement
from projections.groups import Group
from projections.versions.redis import RedisVersions
from projections.writes import SEQ_WIDTH, seq_key
from schemas import events as ev
from schemas.codec import HEADER_LEN, default_codec
from schemas.ids import SnowflakeGenerator
from streams.app import BATCH_MAX
from streams.sink import ProjectionSink

EVENTS = 100_000
USERS = 20_000
POSTS = 2_000
AUTHORS = 200  # the first AUTHORS users own the posts
UNLIKE_SHARE = 0.10  # of events: an unlike of a like still standing
SELF_LIKE_SHARE = 0.01  # of likes: the post's author likes it (notifies nobody)
ZIPF_S = 1.0  # post popularity ~ 1 / rank**s: the hottest post gets ~12% of the likes
WARMUP_EVENTS = 20_000  # decoded and applied first (then the store is flushed)
STATS_PAGE = 200  # posts per stats() call when verifying
MAX_PIPELINE_S = 300.0  # a pass slower than this is a failure, not a figure
JOIN_TIMEOUT_S = 120.0  # Faust start-up and group join
APPLY_TIMEOUT_S = 300.0  # worker: from join to every event applied
LOG_END_TIMEOUT_S = 30.0  # each partition's log end, from a fetch response (infra/lag.py)
POLL_S = 0.01  # worker progress poll: one HMGET of the group's applied offsets (a poll that read
# every post, 2,000 HGETs each 0.1 s, took ~20% of a core from the worker it was timing)
GOAL = 0.2  # issue "likes": >= 20% of the bare decode loop
LogEnds = dict[tuple[str, int], int]  # (topic, partition) -> the offset after its last event
SCHEMA_FILES = {ev.PostLiked: "post_liked.v1.avsc", ev.PostUnliked: "post_unliked.v1.avsc"}


@dataclass(frozen=True)
class Workload:
    events: list[ev.Event]
    messages: list[bytes]  # default_codec().encode of each event, in order
    expected: dict[int, int]  # post -> like count once every event is applied
    last: dict[int, tuple[int, int]]  # post -> (actor, event id) of the post's last event


def workload() -> Workload:
    rng = random.Random(1)
    ids = SnowflakeGenerator(13)
    users = [ids.next_id() for _ in range(USERS)]
    posts = [ids.next_id() for _ in range(POSTS)]
    author_of = {p: rng.choice(users[:AUTHORS]) for p in posts}
    popularity = list(itertools.accumulate(1 / (rank + 1) ** ZIPF_S for rank in range(POSTS)))
    state: dict[tuple[int, int], bool] = {}  # (post, user) -> liked, as of the last event
    standing: list[tuple[int, int]] = []  # pairs liked right now: what an unlike may retract
    last: dict[int, tuple[int, int]] = {}
    events: list[ev.Event] = []
    now = datetime.now(tz=UTC)
    for _ in range(EVENTS):
        if standing and rng.random() < UNLIKE_SHARE:
            i = rng.randrange(len(standing))
            standing[i], standing[-1] = standing[-1], standing[i]
            post, user = standing.pop()
            kind: type[ev.PostLiked | ev.PostUnliked] = ev.PostUnliked
        else:
            post = rng.choices(posts, cum_weights=popularity)[0]
            self_like = rng.random() < SELF_LIKE_SHARE
            user = author_of[post] if self_like else rng.choice(users)
            if not state.get((post, user)):
                standing.append((post, user))
            kind = ev.PostLiked
        state[(post, user)] = kind is ev.PostLiked
        event = kind(event_id=ids.next_id(), occurred_at=now, actor_id=user, post_id=post,
                     author_id=author_of[post])  # fmt: skip
        last[post] = (user, event.event_id)
        events.append(event)
    expected = dict.fromkeys(posts, 0)
    for (post, _), liked in state.items():
        expected[post] += liked
    codec = default_codec()
    return Workload(events, [codec.encode(e) for e in events], expected, last)


def bare_schemas(messages: Sequence[bytes]) -> dict[bytes, Any]:
    """Fingerprint -> fastavro-parsed writer schema, from the .avsc files and sample messages."""
    folder = resources.files("schemas") / "avro"
    codec = default_codec()
    out: dict[bytes, Any] = {}
    for kind, filename in SCHEMA_FILES.items():
        sample = next(m for m in messages if isinstance(codec.decode(m), kind))
        out[sample[2:HEADER_LEN]] = fastavro.parse_schema(
            json.loads((folder / filename).read_text("utf-8"))
        )
    return out


def bare_decode(messages: Sequence[bytes], schemas: dict[bytes, Any]) -> float:
    """Records/s of a plain fastavro loop over the message bodies."""
    reader = fastavro.schemaless_reader
    started = time.perf_counter()
    for m in messages:
        reader(io.BytesIO(m[HEADER_LEN:]), schemas[m[2:HEADER_LEN]])
    return len(messages) / (time.perf_counter() - started)


async def apply_all(sink: ProjectionSink, messages: Sequence[bytes]) -> None:
    """The agent's per-batch work: decode BATCH_MAX messages, then apply them to the sink."""
    codec = default_codec()
    deadline = time.perf_counter() + MAX_PIPELINE_S
    for start in range(0, len(messages), BATCH_MAX):
        await sink.apply([codec.decode(m) for m in messages[start : start + BATCH_MAX]])
        if time.perf_counter() > deadline:
            raise RuntimeError(f"pipeline pass exceeded {MAX_PIPELINE_S} s")


async def verify(redis: Redis, work: Workload) -> None:
    """Every post's like count in the active version equals the count the events imply."""
    engagement = RedisEngagement(redis, await RedisVersions(redis).active(Group.ENGAGEMENT))
    posts = list(work.expected)
    got: dict[int, int] = {}
    for start in range(0, len(posts), STATS_PAGE):
        page = posts[start : start + STATS_PAGE]
        got.update({p: s.likes for p, s in (await engagement.stats(page, None)).items()})
    wrong = {p: (got[p], work.expected[p]) for p in posts if got[p] != work.expected[p]}
    if wrong:
        sample = list(wrong.items())[:5]
        raise RuntimeError(f"{len(wrong)} posts have wrong like counts (got, want): {sample}")
    hottest = max(posts, key=lambda p: work.expected[p])
    user, _ = work.last[hottest]
    viewer = (await engagement.stats([hottest], user))[hottest].liked_by_viewer
    if viewer != _liked(work.events, hottest, user):
        raise RuntimeError(f"liked_by_viewer of post {hottest} by {user} is {viewer}")


def _liked(events: Sequence[ev.Event], post: int, user: int) -> bool:
    mine = [e for e in events if isinstance(e, ev.PostLiked | ev.PostUnliked)
            and e.post_id == post and e.actor_id == user]  # fmt: skip
    return bool(mine) and isinstance(mine[-1], ev.PostLiked)


async def through_pipeline(settings: Settings, work: Workload) -> float:
    """Events/s of decode + ProjectionSink.apply in this process, on a fresh store."""
    stores = make_stores(settings)  # as the worker builds them; likes touch only Valkey
    redis = stores.redis
    sink = ProjectionSink(
        Group.ENGAGEMENT, RedisVersions(redis), writer_factory(stores, Group.ENGAGEMENT)
    )
    await apply_all(sink, work.messages[:WARMUP_EVENTS])  # warm-up: script cache, connections
    await redis.flushdb()
    started = time.perf_counter()
    await apply_all(sink, work.messages)
    rate = len(work.messages) / (time.perf_counter() - started)
    await verify(redis, work)
    await redis.flushdb()  # the worker figure starts from an empty store too
    await redis.aclose()
    return rate


async def applied(redis: Redis, work: Workload) -> bool:
    """Whether each post's last event is in the active version (Kafka keeps a post's order)."""
    keys = RedisEngagement(redis, await RedisVersions(redis).active(Group.ENGAGEMENT)).keys
    async with redis.pipeline(transaction=False) as pipe:
        for post, (user, _) in work.last.items():
            pipe.hget(keys.liked(user), str(post))
        rows = await pipe.execute()
    return all(
        row is not None and row[1 : 1 + SEQ_WIDTH].decode() == seq_key(event_id)
        for row, (_, event_id) in zip(rows, work.last.values(), strict=True)
    )


async def wait_applied(settings: Settings, work: Workload, ends: LogEnds, started: float) -> float:
    """Seconds from `started` until the worker applied every event: the engagement group's
    applied offsets (projections/backends/positions.py, raised after each batch's writes) reach
    `ends` (what `append` returned) on every partition. Then each post's last event and every
    count are checked."""
    redis = make_redis(settings)
    offsets = RedisAppliedOffsets(redis)
    try:
        while True:
            got = (await offsets.applied({Group.ENGAGEMENT: list(ends)})).get(Group.ENGAGEMENT, {})
            if all(got.get(tp, 0) >= end for tp, end in ends.items()):
                break
            if time.perf_counter() - started > APPLY_TIMEOUT_S:
                raise RuntimeError(f"worker did not apply the events in {APPLY_TIMEOUT_S} s")
            await asyncio.sleep(POLL_S)
        elapsed = time.perf_counter() - started
        if not await applied(redis, work):
            raise RuntimeError("the applied offsets reached the log's end before the events")
        await verify(redis, work)
        return elapsed
    finally:
        await redis.aclose()


def append(settings: Settings, work: Workload) -> LogEnds:
    """The workload's events appended to the stack's log; the end of each of its partitions
    then (from fetch responses: infra/lag.py), which the worker is done when it reaches."""
    log = KafkaEventLog(settings.bootstrap, default_codec())
    for event in work.events:
        log.append_nowait(event)
    log.flush(120)
    log.close()
    n = partitions_of(settings.bootstrap, [ENGAGEMENT.name])[ENGAGEMENT.name]
    marks = log_ends(settings, [(ENGAGEMENT.name, p) for p in range(n)], LOG_END_TIMEOUT_S)
    if len(marks) < n:
        raise RuntimeError(f"no log end for {n - len(marks)} {ENGAGEMENT.name} partitions")
    return {tp: end for tp, (_, end) in marks.items()}


def through_worker(settings: Settings, work: Workload) -> float:
    """Events/s of a `photofeed worker` process draining the appended events."""
    ends = append(settings, work)
    spec = ProcessSpec("bench-worker", [sys.executable, "-m", "photofeed", "worker"],
                       settings.to_env())  # fmt: skip
    worker = ManagedProcess(spec, settings.data_dir / "run", settings.data_dir / "logs")
    pid = worker.start()

    def joined_or_dead() -> bool:
        return worker_joined(settings, pid) or worker.pid() is None

    try:
        if not wait_until(joined_or_dead, JOIN_TIMEOUT_S, 0.01) or worker.pid() is None:
            raise RuntimeError("worker did not join its group:\n" + worker.log_tail())
        started = time.perf_counter()
        try:
            elapsed = asyncio.run(wait_applied(settings, work, ends, started))
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{worker.log_tail()}") from exc
        return len(work.events) / elapsed
    finally:
        worker.stop()


def main() -> None:
    t = time.perf_counter()
    work = workload()
    print(f"generated and encoded {len(work.messages)} events in "
          f"{time.perf_counter() - t:.1f} s", flush=True)  # fmt: skip
    schemas = bare_schemas(work.messages)
    with isolated_stack("memory") as settings:
        bare_decode(work.messages, schemas)  # warm-up
        baseline = bare_decode(work.messages, schemas)
        rate = asyncio.run(through_pipeline(settings, work))
        report(
            "likes_pipeline",
            rate,
            baseline,
            GOAL,
            "events/s",
            better="higher",
            events=len(work.messages),
        )
        worker_rate = through_worker(settings, work)
        report(
            "likes_worker",
            worker_rate,
            baseline,
            GOAL,
            "events/s",
            better="higher",
            events=len(work.events),
        )


if __name__ == "__main__":
    main()
