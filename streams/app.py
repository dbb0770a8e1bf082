"""The Faust app factory and its agents.

Each source topic has one agent: it takes a batch of messages, decodes them, and runs the batch
through its steps (open sealed fields, every interested projection sink, the topic's after-batch
step) under the failure policy (streams/guard.py): a message that cannot be decoded or that makes
a step fail is dead-lettered with its source and the error, and the partition moves on; an outage
is retried for a bounded budget, then dead-lettered too. Offsets are acknowledged only after the
batch was applied or set aside (at-least-once); projections are idempotent, so a redelivered
batch changes nothing. A crashed agent is restarted with backoff; one that keeps crashing makes
the worker exit non-zero so its process manager restarts it from the committed offsets.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import faust
import structlog

from infra.event_log import EventLog
from infra.settings import Settings
from infra.topics import CATALOGUE, DEAD_LETTER, PHOTOS, TopicSpec
from projections.groups import group_events
from schemas.codec import Codec
from schemas.events import Event, PhotoRejected, PhotoUploaded
from streams.batches import drained
from streams.deadletters import Consumed, headers_for
from streams.failures import Failure, RetryPolicy
from streams.guard import Guard
from streams.health import AgentHealth, WorkDone, supervise
from streams.media_agent import MediaAgent
from streams.sink import ProjectionSink
from streams.transport import App, FetchWaits

BATCH_MAX = 1000  # most messages per projection batch: one Redis pipeline per sink and version
MEDIA_BATCH_MAX = 8  # uploads taken at a time (what is queued): each takes ~0.1-0.5 s of CPU
HOUSEKEEPING_S = 900.0  # abandoned-upload cleanup; cheap (one listing of originals)
HEALTH_EVERY_S = 2.0  # health snapshot published this often; < HEALTH_TTL_S / 2
HEALTH_TTL_S = 10  # a worker that stops publishing disappears from `photofeed status`
GIVE_UP_EXIT = 70  # the worker's exit status when an agent keeps crashing (EX_SOFTWARE)

log = structlog.get_logger("photofeed.worker")


class AppliedOffsets(Protocol):
    """Records that projection groups applied a batch (projections/backends/positions.py)."""

    async def record(
        self, groups: Iterable[str], next_offsets: Mapping[tuple[str, int], int]
    ) -> None: ...


Background = Callable[[Callable[[int], None]], Awaitable[None]]


@dataclass(frozen=True)
class WorkerDeps:
    codec: Codec
    sinks: Sequence[ProjectionSink]
    on_assigned: Callable[[int], Awaitable[None]] | None = None  # partitions assigned -> signal
    media: MediaAgent | None = None
    log: EventLog | None = None  # where the media agent appends its results
    housekeeping: Callable[[], Awaitable[None]] | None = None  # run every HOUSEKEEPING_S
    # name -> work that runs beside the agents for the worker's life (e.g. account erasures),
    # supervised as an agent is (restarted on a crash, shown in the health snapshot); it is
    # given `done(n)`, which counts n items completed as the agent's processed
    background: Mapping[str, Background] = field(default_factory=dict)
    # topic name -> step run after the topic's sinks applied a batch (e.g. the celebrity flag)
    after_batch: Mapping[str, Callable[[Sequence[Event]], Awaitable[None]]] = field(
        default_factory=dict
    )
    # decoded batch -> what projections may see (personal data opened, erased users gone);
    # raises for an event whose seal does not open (it is dead-lettered)
    open_events: Callable[[Sequence[Event]], Awaitable[list[Event]]] | None = None
    # the health snapshot, published every HEALTH_EVERY_S (for `photofeed status`)
    publish_health: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    # where each group's applied offsets go, right after a batch's projection writes, so the
    # gateway can tell when a client's own writes are visible (read-your-writes)
    applied: AppliedOffsets | None = None


def faust_settings(settings: Settings) -> dict[str, Any]:
    """Faust options that work against Tansu (no idempotent producer, fast group joins), with
    SASL credentials when another Kafka is configured with a user (Settings.kafka_security)."""
    security = settings.kafka_security()
    credentials = {}
    if security:
        credentials["broker_credentials"] = faust.SASLCredentials(
            username=security["sasl.username"], password=security["sasl.password"],
            mechanism=security["sasl.mechanism"],
            ssl_context=ssl.create_default_context()
            if security["security.protocol"] == "SASL_SSL" else None,
        )  # fmt: skip
    return {
        **credentials,
        "broker": f"kafka://{settings.bootstrap}",
        "value_serializer": "raw",
        "key_serializer": "raw",
        "processing_guarantee": "at_least_once",
        "producer_acks": -1,
        "broker_rebalance_timeout": 5,
        "broker_session_timeout": 6,
        "broker_heartbeat_interval": 1,
        # commit each second (or after this many acks, each a bundle of up to BUNDLE_MAX
        # records: streams/bundles.py; in practice the second comes first): a crash redoes at
        # most that much (the projections are idempotent), and a commit costs a broker round
        # trip. 10, 100 and 1,000 measured the same within noise (bench_likes)
        "broker_commit_every": 1000,
        "broker_commit_interval": 1.0,
        # every record a fetch brought, in one hand-over: 500 (aiokafka's usual cap) halved the
        # rate (5.5k vs 12.6k/s, measured with bench_likes before bundles)
        "broker_max_poll_records": None,
        # bundles queued per agent (<= 128k records, packed: ~13 MB of likes); past it the
        # partition pauses, so memory stays bounded. Measured (bench_likes, likes_worker, 3 runs
        # each): 32 -> 14.1-17.1k/s, 256 -> 17.0-18.2k, 4,096 -> 17.1-18.2k; a fetch brings up
        # to ~20 full bundles per partition, which a small queue makes wait
        "stream_buffer_maxsize": 256,
        # a rebalance waits until the batches in hand are applied and acknowledged, so their
        # offsets are committed and the partition's next owner does not apply them again
        "stream_wait_empty": True,
        "consumer_auto_offset_reset": "earliest",
        "topic_disable_leader": True,
        "topic_allow_declare": False,
        "web_enabled": False,
        "store": "memory://",
        "datadir": str(settings.data_dir / "faust"),
    }


def sinks_for(spec: TopicSpec, sinks: Sequence[ProjectionSink]) -> list[ProjectionSink]:
    wanted, groups = set(spec.events), group_events()
    return [s for s in sinks if wanted & groups[s.group]]


class _Runtime:
    """What every agent of one worker shares: the failure policy, dead letters, health."""

    def __init__(self, app: faust.App, settings: Settings, codec: Codec) -> None:
        self.app = app
        self.codec = codec
        self.health = AgentHealth()
        self.work = WorkDone()  # counters for the worker's /metrics
        self.policy = RetryPolicy(settings.outage_budget_s)
        self.endpoint: object = None  # the worker's health HTTP server, once started

    def guard(self, agent: str) -> Guard:
        return Guard(self.policy, _FaustDeadLetters(self.app, agent, self.health))

    def highwater(self, topic: str, partition: int) -> int | None:
        try:
            tp = next(t for t in self.app.consumer.assignment() if t == (topic, partition))
            return int(self.app.consumer.highwater(tp))
        except (StopIteration, Exception):
            return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "at": time.time(),
            "agents": self.health.snapshot(self.highwater),
        }

    async def decode(self, guard: Guard, batch: Sequence[Consumed]) -> list[Consumed]:
        """The batch as Consumed items with their events; undecodable ones are dead-lettered."""
        out: list[Consumed] = []
        decode = self.codec.decode
        for m in batch:
            try:
                event = decode(m.value)
            except Exception as exc:  # DecodeError, or anything a hostile value provokes
                await guard.dead_letter([m], Failure("bad_input", exc, 1, "decode"))
            else:
                out.append(Consumed(m.topic, m.partition, m.offset, m.key, m.value, event))
        return out

    def done(self, agent: str, batch: Sequence[Consumed], applied: int) -> None:
        positions = {(m.topic, m.partition): m.offset + 1 for m in batch}
        self.health.batch_done(agent, positions, applied, time.time())

    def give_up(self, reason: str) -> None:
        log.error("worker_giving_up", reason=reason, exit_status=GIVE_UP_EXIT)
        os._exit(GIVE_UP_EXIT)  # no commit: everything unacknowledged is redelivered


class _FaustDeadLetters:
    """Dead letters through the worker's producer, acknowledged before the source offset is."""

    def __init__(self, app: faust.App, agent: str, health: AgentHealth) -> None:
        self._app, self._agent, self._health = app, agent, health
        self._policy = RetryPolicy(budget_s=float("inf"))  # nothing else may be skipped

    async def send(self, item: Consumed, failure: Failure) -> None:
        headers = headers_for(item, failure, self._agent, int(time.time() * 1000))

        async def produce() -> None:
            await self._app.producer.send_and_wait(
                DEAD_LETTER.name, item.key, item.value, None, None, headers
            )

        await self._policy.run("dead letter", produce)
        self._health.dead_lettered(self._agent, item.topic, failure.kind)


def create_app(settings: Settings, deps: WorkerDeps) -> faust.App:
    waits = FetchWaits(
        settings.fetch_wait_ms, settings.fetch_idle_wait_ms, settings.fetch_idle_after_s
    )
    # the media agent takes MEDIA_BATCH_MAX uploads at a time, each ~0.1-0.5 s of CPU: a bundle
    # of its topic is no more, so one acknowledged (and committed) covers no more than that
    app = App(settings.worker_group, fetch_waits=waits, bundle_max={PHOTOS.name: MEDIA_BATCH_MAX},
              **faust_settings(settings))  # fmt: skip
    runtime = _Runtime(app, settings, deps.codec)
    for spec in CATALOGUE:
        targets = sinks_for(spec, deps.sinks)
        if targets:
            _add_agent(app, spec, targets, deps, runtime)
    if deps.media is not None and deps.log is not None:
        _add_media_agent(app, deps.media, deps.log, runtime)
    if deps.housekeeping is not None:
        app.timer(interval=HOUSEKEEPING_S, name="housekeeping")(deps.housekeeping)
    for name, work in deps.background.items():
        _add_background(app, name, work, runtime)
    _add_health(app, settings, deps, runtime)
    if deps.on_assigned is not None:
        notify = deps.on_assigned

        async def announce(_sender: Any, /, *args: Any, signal: Any, **_kwargs: Any) -> None:
            await notify(len(args[0]) if args else 0)  # args[0]: the set of assigned partitions

        app.on_partitions_assigned.connect(announce)
    return app


def _add_background(app: faust.App, name: str, work: Background, rt: _Runtime) -> None:
    def done(n: int) -> None:
        rt.health.batch_done(name, {}, n, time.time())

    async def background() -> None:
        await supervise(name, lambda: work(done), rt.health, rt.give_up)

    background.__name__ = name
    app.task(background)


def _add_health(app: faust.App, settings: Settings, deps: WorkerDeps, runtime: _Runtime) -> None:
    publish = deps.publish_health
    if publish is not None:

        async def publish_health() -> None:
            try:
                await publish(runtime.snapshot())
            except Exception as exc:  # Valkey down: status goes stale, the worker goes on
                log.warning("health_publish_failed", error=repr(exc)[:200])

        app.timer(interval=HEALTH_EVERY_S, name="publish_health")(publish_health)
    if settings.worker_port:
        from streams.health_http import serve

        async def health_endpoint() -> None:
            try:  # the runner is kept: it owns the listening socket until the process ends
                runtime.endpoint = await serve(
                    runtime.snapshot, runtime.work, settings.host, settings.worker_port
                )
            except OSError as exc:  # port taken (a second worker on this machine): no endpoint
                log.warning(
                    "health_endpoint_unavailable", port=settings.worker_port, error=str(exc)
                )

        app.task(health_endpoint)


def _add_agent(
    app: faust.App, spec: TopicSpec, sinks: list[ProjectionSink], deps: WorkerDeps, rt: _Runtime
) -> None:
    topic = app.topic(spec.name, value_type=bytes, key_type=bytes)
    after, open_events = deps.after_batch.get(spec.name), deps.open_events
    name = f"project_{spec.name.replace('.', '_')}"
    guard = rt.guard(name)
    handled, wrote = group_events(), functools.partial(rt.work.wrote, name)  # for /metrics

    async def project(items: Sequence[Consumed]) -> None:
        events = [i.event for i in items if i.event is not None]
        if open_events is not None:
            events = await open_events(events)
        for sink in sinks:
            await sink.apply(events, wrote)
            rt.work.applied(name, sink.group, events, handled[sink.group])
        if deps.applied is not None:
            await deps.applied.record([s.group for s in sinks], next_offsets(items))
        if after is not None:
            await after(events)

    async def consume(stream: faust.StreamT[bytes]) -> None:
        # what is queued (streams/batches.py); closed at once if this loop raises, so the batch
        # in hand goes back to the channel before the agent is restarted
        async with contextlib.aclosing(drained(stream, BATCH_MAX)) as batches:
            async for batch in batches:
                items = await rt.decode(guard, batch)
                dead = await guard.run("project", items, project)
                rt.done(name, batch, len(items) - dead)

    async def agent(stream: faust.StreamT[bytes]) -> None:
        await supervise(name, functools.partial(consume, stream), rt.health, rt.give_up)

    agent.__name__ = name
    # One actor for all of a worker's partitions of the topic: its batches run one after another,
    # so the worker waits while Valkey applies each (one worker draining likes: ~50% of a core,
    # Valkey ~43%). Faust's `isolated_partitions=True` (an actor per partition) measured +20-29%
    # likes/s (14.8-16.7k -> 18.3-20.8k, alternating runs) but failed
    # tests/integration/test_worker_crash.py twice out of two (the followers differ after the
    # restart), so it is not used until that is understood.
    app.agent(topic, name=name)(agent)


def next_offsets(items: Sequence[Consumed]) -> dict[tuple[str, int], int]:
    """(topic, partition) -> the offset after the newest of `items` there."""
    out: dict[tuple[str, int], int] = {}
    for i in items:
        out[(i.topic, i.partition)] = max(out.get((i.topic, i.partition), 0), i.offset + 1)
    return out


def _add_media_agent(app: faust.App, media: MediaAgent, event_log: EventLog, rt: _Runtime) -> None:
    """PhotoUploaded -> variants -> PhotoProcessed + PostPublished (or PhotoRejected).

    The results are appended before the upload's offset is acknowledged; a crash in between
    redelivers the upload, and reprocessing yields the same keys and the same post id. Each
    upload is its own unit under the failure policy: one bad upload never holds up the next.
    """
    topic = app.topic(PHOTOS.name, value_type=bytes, key_type=bytes)
    name = "media_process_uploads"
    guard = rt.guard(name)

    async def process(items: Sequence[Consumed]) -> None:
        for item in items:
            if isinstance(item.event, PhotoUploaded):
                started = time.perf_counter()
                results = await media.handle(item.event)
                await event_log.append(*results)
                outcome = "rejected" if isinstance(results[0], PhotoRejected) else "published"
                rt.work.media_done(outcome, time.perf_counter() - started)
                log.info(
                    "photo_handled", photo_id=item.event.photo_id,
                    outcome=type(results[0]).__name__,
                )  # fmt: skip

    async def consume(stream: faust.StreamT[bytes]) -> None:
        # what is queued, as the projection agents take it (streams/batches.py): a lone upload
        # goes at once, and an idle agent sleeps on its queue (take_events' `within` woke it
        # every 5 ms: half the idle worker's CPU)
        async with contextlib.aclosing(drained(stream, MEDIA_BATCH_MAX)) as batches:
            async for batch in batches:
                dead = 0
                items = await rt.decode(guard, batch)
                media.expect([i.event for i in items if isinstance(i.event, PhotoUploaded)])
                for item in items:  # the next upload's original is read while one is processed
                    if await guard.run("media", [item], process):
                        dead += 1
                        if isinstance(item.event, PhotoUploaded):
                            rt.work.media_done("dead_lettered", None)
                            reject = functools.partial(_reject, media, event_log, item.event)
                            await guard.run("media rejection", [item], reject)
                rt.done(name, batch, len(batch) - dead)

    async def agent(stream: faust.StreamT[bytes]) -> None:
        await supervise(name, functools.partial(consume, stream), rt.health, rt.give_up)

    app.agent(topic, name=name)(agent)


async def _reject(
    media: MediaAgent, event_log: EventLog, upload: PhotoUploaded, _items: Sequence[Consumed]
) -> None:
    """A dead-lettered upload still ends `rejected` for its owner."""
    await event_log.append(media.set_aside(upload))
