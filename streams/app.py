"""The Faust app factory and its agents.

Each source topic has one agent: it takes a batch of messages, decodes them (undecodable ones go
to the dead-letter topic with the error in headers), and hands the events to every projection
sink interested in them. Offsets are acknowledged only after the batch is written (at-least-once);
projections are idempotent, so a redelivered batch changes nothing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import faust
import structlog

from infra.settings import Settings
from infra.topics import CATALOGUE, DEAD_LETTER, PHOTOS, TopicSpec
from projections.handlers import group_events
from schemas.codec import Codec, DecodeError
from schemas.events import Event, PhotoUploaded
from streams.media_agent import MediaAgent
from streams.sink import ProjectionSink

BATCH_MAX = 1000  # messages per batch: one Redis pipeline per sink and version
MEDIA_BATCH_MAX = 8  # uploads taken at a time: each takes ~0.1-0.5 s of CPU
BATCH_WITHIN_S = 0.02  # the most a lone event waits for company; << the 1 s freshness aim
RETRY_MAX_S = 5.0  # backoff cap while a store is unreachable
HOUSEKEEPING_S = 900.0  # abandoned-upload cleanup; cheap (one listing of originals)

log = structlog.get_logger("photofeed.worker")


class EventLog(Protocol):
    """Appends events durably (acks=all), in order."""

    async def append(self, *events: Event) -> None: ...


@dataclass(frozen=True)
class WorkerDeps:
    codec: Codec
    sinks: Sequence[ProjectionSink]
    on_assigned: Callable[[int], Awaitable[None]] | None = None  # partitions assigned -> signal
    media: MediaAgent | None = None
    log: EventLog | None = None  # where the media agent appends its results
    housekeeping: Callable[[], Awaitable[None]] | None = None  # run every HOUSEKEEPING_S
    # topic name -> step run after the topic's sinks applied a batch (e.g. the celebrity flag)
    after_batch: Mapping[str, Callable[[Sequence[Event]], Awaitable[None]]] = field(
        default_factory=dict
    )
    # decoded batch -> what projections may see (personal data opened, erased users gone)
    open_events: Callable[[Sequence[Event]], Awaitable[list[Event]]] | None = None


def faust_settings(settings: Settings) -> dict[str, Any]:
    """Faust options that work against Tansu (no idempotent producer, fast group joins)."""
    return {
        "broker": f"kafka://{settings.bootstrap}",
        "value_serializer": "raw",
        "key_serializer": "raw",
        "processing_guarantee": "at_least_once",
        "producer_acks": -1,
        "broker_rebalance_timeout": 5,
        "broker_session_timeout": 6,
        "broker_heartbeat_interval": 1,
        "broker_commit_every": 1000,
        "broker_commit_interval": 1.0,
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


def create_app(settings: Settings, deps: WorkerDeps) -> faust.App:
    app = faust.App(settings.worker_group, **faust_settings(settings))
    dead_letter = app.topic(DEAD_LETTER.name, value_type=bytes, key_type=bytes)
    for spec in CATALOGUE:
        targets = sinks_for(spec, deps.sinks)
        if targets:
            _add_agent(app, spec, targets, deps, dead_letter)
    if deps.media is not None and deps.log is not None:
        _add_media_agent(app, deps.media, deps.log, deps.codec, dead_letter)
    if deps.housekeeping is not None:
        app.timer(interval=HOUSEKEEPING_S, name="housekeeping")(deps.housekeeping)
    if deps.on_assigned is not None:
        notify = deps.on_assigned

        async def announce(_sender: Any, /, *args: Any, signal: Any, **_kwargs: Any) -> None:
            await notify(len(args[0]) if args else 0)  # args[0]: the set of assigned partitions

        app.on_partitions_assigned.connect(announce)
    return app


def _add_agent(
    app: faust.App,
    spec: TopicSpec,
    sinks: list[ProjectionSink],
    deps: WorkerDeps,
    dead_letter: faust.TopicT,
) -> None:
    topic = app.topic(spec.name, value_type=bytes, key_type=bytes)
    after, open_events = deps.after_batch.get(spec.name), deps.open_events

    async def agent(stream: faust.StreamT[bytes]) -> None:
        batches = stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S)  # type: ignore[attr-defined]
        async for batch in batches:
            events = await decode_batch(deps.codec, batch, dead_letter)
            if open_events is not None:
                events = await _retrying_value(
                    "open events", functools.partial(open_events, events)
                )
            for sink in sinks:
                await apply_with_retry(sink, events)
            if after is not None:
                await _retrying(f"after {spec.name}", functools.partial(after, events))

    agent.__name__ = f"project_{spec.name.replace('.', '_')}"
    app.agent(topic, name=agent.__name__)(agent)


def _add_media_agent(
    app: faust.App, media: MediaAgent, event_log: EventLog, codec: Codec, dead_letter: Any
) -> None:
    """PhotoUploaded -> variants -> PhotoProcessed + PostPublished (or PhotoRejected).

    The results are appended before the upload's offset is acknowledged; a crash in between
    redelivers the upload, and reprocessing yields the same keys and the same post id.
    """
    topic = app.topic(PHOTOS.name, value_type=bytes, key_type=bytes)

    async def process_uploads(stream: faust.StreamT[bytes]) -> None:
        batches = stream.take_events(MEDIA_BATCH_MAX, within=BATCH_WITHIN_S)  # type: ignore[attr-defined]
        async for batch in batches:
            for event in await decode_batch(codec, batch, dead_letter):
                if isinstance(event, PhotoUploaded):
                    await _retrying(
                        f"media {event.photo_id}", functools.partial(_media_step, media,
                                                                     event_log, event)
                    )  # fmt: skip

    app.agent(topic, name="media_process_uploads")(process_uploads)


async def _media_step(media: MediaAgent, event_log: EventLog, upload: PhotoUploaded) -> None:
    results = await media.handle(upload)
    await event_log.append(*results)
    log.info("photo_handled", photo_id=upload.photo_id, outcome=type(results[0]).__name__)


async def _retrying(what: str, step: Callable[[], Awaitable[None]]) -> None:
    """Run `step` until it succeeds, backing off: an outage pauses the partition, drops nothing."""
    delay = 0.1
    while True:
        try:
            await step()
            return
        except Exception as exc:
            log.warning("step_failed", what=what, error=repr(exc), retry_s=delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_S)


async def _retrying_value(what: str, step: Callable[[], Awaitable[list[Event]]]) -> list[Event]:
    """`_retrying` for a step with a result."""
    box: list[list[Event]] = []

    async def run() -> None:
        box.append(await step())

    await _retrying(what, run)
    return box[-1]


async def decode_batch(codec: Codec, batch: Sequence[Any], dead_letter: Any) -> list[Event]:
    """Decode every message; forward the undecodable ones to the dead-letter topic."""
    events: list[Event] = []
    for item in batch:
        msg = item.message
        try:
            events.append(codec.decode(msg.value))
        except DecodeError as exc:
            log.warning(
                "dead_letter", topic=msg.topic, partition=msg.partition, offset=msg.offset,
                error=str(exc),
            )  # fmt: skip
            await dead_letter.send(
                key=msg.key,
                value=msg.value,
                headers={
                    "source_topic": msg.topic.encode(),
                    "source_partition": str(msg.partition).encode(),
                    "source_offset": str(msg.offset).encode(),
                    "error": str(exc).encode(),
                },
            )
    return events


async def apply_with_retry(sink: ProjectionSink, events: Sequence[Event]) -> None:
    """Apply until it succeeds: a store outage (or a bug) pauses the partition, never drops a
    batch. Handlers are pure and total, so a failure here is the store's."""
    await _retrying(f"projection {sink.group}", functools.partial(_apply, sink, events))


async def _apply(sink: ProjectionSink, events: Sequence[Event]) -> None:
    await sink.apply(events)
