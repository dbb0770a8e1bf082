"""`photofeed topics`: create the catalogue's topics, list what the broker holds, tail a topic.

`tail` prints one JSON object per message on stdout (see `message_json`); it starts at the true
log end (from a fetch response, never ListOffsets: ../shared/ARCHITECTURE.md, "Tansu facts")
unless asked to start at the beginning, and without --follow stops at the end seen at start.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import IO, Any

import orjson
import structlog
import typer
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from rich.console import Console
from rich.table import Table

from infra.consumers import consumer_config
from infra.lag import (
    PROBE_TIMEOUT_S,
    LagProbeError,
    PartitionLag,
    lag_topics,
    log_ends,
    probe_consumer,
    probe_lag,
)
from infra.logs import configure_logging
from infra.settings import Settings, load_settings
from infra.topics import CATALOGUE, TopicSpec
from photofeed.lag_views import by_topic, fmt
from photofeed.tail_json import event_fields, message_json
from schemas.codec import default_codec
from schemas.events import Event

topics_app = typer.Typer(
    help="The topics: create the catalogue's, list what the broker holds, tail one as JSON.",
    no_args_is_help=True,
)
console = Console(stderr=True)
log = structlog.get_logger("photofeed.topics")
BATCH = 500  # messages taken per consume(); one Valkey round trip per batch with --open
POLL_S = 0.2  # consume() wait; a following tail shows a new message within this + fetch wait
TAIL_FETCH_WAIT_MS = 100  # the broker holds an empty fetch this long (Tansu sleeps through it)


def _settings() -> Settings:
    s = load_settings()
    configure_logging(s.log_level, s.log_json)
    return s


@topics_app.command("create")
def topics_create() -> None:
    """Create every catalogue topic that is missing (idempotent)."""
    from infra.kafka import create_topics

    s = _settings()
    for name, state in create_topics(s.bootstrap, partitions=s.topic_partitions).items():
        console.print(f"{state:>8}  {name}")


@topics_app.command("list")
def topics_list(
    catalogue: bool = typer.Option(
        False, "--catalogue", help="Print the catalogue as Markdown (the README's table)."
    ),
    partitions: bool = typer.Option(False, "--partitions", help="One row per partition."),
) -> None:
    """Topics on the broker beside the catalogue: partitions, true ends, the worker's lag.

    End offsets come from fetch responses; committed offsets and lag are the worker group's
    (PHOTOFEED_WORKER_GROUP)."""
    if catalogue:
        from infra.topics import catalogue_markdown

        print(catalogue_markdown())
        return
    s = _settings()
    try:
        table = topics_table(s, per_partition=partitions)
    except (KafkaException, LagProbeError) as exc:
        console.print(f"[red]the broker at {s.bootstrap} did not answer:[/] {exc}")
        raise typer.Exit(1) from None
    Console().print(table)


def topics_table(settings: Settings, per_partition: bool) -> Table:
    """Every catalogue topic and every topic on the broker (internal `__` ones aside): its place
    in the catalogue, partitions, and (for the topics the worker reads) the worker group's
    committed offsets, the true log ends and the lag; one row per topic, or per partition."""
    consumer = probe_consumer(settings, None, PROBE_TIMEOUT_S)
    try:
        meta = consumer.list_topics(timeout=PROBE_TIMEOUT_S)
    finally:
        consumer.close()
    on_broker = {t for t in meta.topics if not t.startswith("__")}
    lags = probe_lag(settings, topics=sorted(on_broker))
    consumed, specs = set(lag_topics()), {spec.name: spec for spec in CATALOGUE}
    table = Table(
        "topic", "catalogue: key · kept", "part", "end", "committed", "lag",
        title=f"topics on {settings.bootstrap}; committed and lag of {settings.worker_group}",
    )  # fmt: skip
    rows: dict[str, list[PartitionLag]] = {}
    for row in lags:
        rows.setdefault(row.topic, []).append(row)
    for name in sorted(on_broker | set(specs)):
        spec = specs.get(name)
        about = f"{spec.key_field or 'original key'} · {retention(spec)}" if spec else "no"
        if name not in on_broker:
            table.add_row(name, about, "missing: run `photofeed topics create`", "", "", "")
            continue
        reads = name in consumed
        if not per_partition:
            t = by_topic(rows.get(name, []))
            total = t[0] if t else None
            table.add_row(
                name, about, str(len(meta.topics[name].partitions)),
                fmt(total.end if total else None),
                fmt(total.committed if total and reads else None),
                fmt(total.lag if total and reads else None),
            )  # fmt: skip
            continue
        for i, r in enumerate(rows.get(name, [])):
            table.add_row(
                name if i == 0 else "", about if i == 0 else "", str(r.partition), fmt(r.end),
                fmt(r.committed if reads else None), fmt(r.lag if reads else None),
            )  # fmt: skip
    return table


def retention(spec: TopicSpec) -> str:
    ms = int(spec.config.get("retention.ms", "-1"))
    return "forever" if ms < 0 else f"{ms / 86_400_000:g} days"


@topics_app.command("tail")
def topics_tail(
    topic: str = typer.Argument(..., help="e.g. photofeed.posts (see `photofeed topics list`)"),
    from_beginning: bool = typer.Option(
        False, "--from-beginning", help="Start at the first offset, not the end."
    ),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new messages."),
    partition: int = typer.Option(None, help="Only this partition."),
    open_: bool = typer.Option(
        False, "--open", help="Open sealed personal fields with the users' data keys (operators)."
    ),
    limit: int = typer.Option(None, min=1, help="Stop after this many messages."),
) -> None:
    """Print a topic's messages as JSON lines, from its true end or its beginning.

    One object per message: topic, partition, offset, key, timestamp, type and the event's
    fields (ids as decimal strings, times RFC 3339); a value no schema reads as {..., undecodable
    (base64), error}."""
    s = _settings()

    def started(starts: dict[int, int]) -> None:
        if follow:
            at = " ".join(f"{p}:{o}" for p, o in sorted(starts.items()))
            console.print(f"following {topic} from offsets {at} (partition:offset); Ctrl-C stops")

    try:
        printed = tail(
            s, topic, from_beginning, follow, partition, open_, limit, sys.stdout, started
        )
    except (LookupError, KafkaException) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    except BrokenPipeError:  # `... | head`: the reader is gone
        sys.stderr.close()
        raise typer.Exit(0) from None
    if printed == 0 and not from_beginning and not follow:
        console.print("nothing new since the end; use --follow or --from-beginning")


def tail(
    settings: Settings,
    topic: str,
    from_beginning: bool,
    follow: bool,
    partition: int | None,
    open_sealed: bool,
    limit: int | None,
    out: IO[str],
    on_start: Callable[[dict[int, int]], None] = lambda starts: None,
) -> int:
    """Write `topic`'s messages to `out` as JSON lines; return how many. `on_start(partition ->
    first offset to print)` is called once the consumer is placed: a message appended after it
    is printed when following. Without `follow`, stops at the log end seen at start. Raises
    LookupError for an unknown topic or partition, or when the broker reports no log end in
    time."""
    consumer = Consumer(
        consumer_config(
            settings,
            {
                "group.id": f"photofeed-tail-{uuid.uuid4().hex}",  # never committed
                "auto.offset.reset": "earliest",
                "enable.partition.eof": True,  # the end reached, even past gaps in offsets
                "fetch.wait.max.ms": TAIL_FETCH_WAIT_MS,
                "log_level": 0,  # broker trouble is reported below, once, not per reconnect
            },
        )
    )
    opener = _Opening(settings) if open_sealed else None
    try:
        parts = _partitions(consumer, topic, partition)
        ends = log_ends(settings, [(topic, p) for p in parts])
        if missing := [p for p in parts if (topic, p) not in ends]:
            raise LookupError(f"no log end for {topic} partitions {missing} within the bound")
        starts = {p: (ends[(topic, p)][0] or 0) if from_beginning else ends[(topic, p)][1]
                  for p in parts}  # fmt: skip
        stops = {p: ends[(topic, p)][1] for p in parts}
        pending = {p for p in parts if follow or starts[p] < stops[p]}
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in sorted(pending)])
        on_start(starts)
        printed, warned = 0, set[int]()
        while pending and (limit is None or printed < limit):
            batch = []
            for msg in consumer.consume(BATCH, POLL_S):
                err, p, offset = msg.error(), msg.partition() or 0, msg.offset() or 0
                if err is not None and err.code() == KafkaError._PARTITION_EOF:
                    if not follow:  # the end now is at or past the end seen at start
                        pending.discard(p)
                    continue
                if err is not None:
                    _broker_trouble(err, warned)
                    continue
                if p not in pending or (not follow and offset >= stops[p]):
                    continue
                batch.append(msg)
                if not follow and offset + 1 >= stops[p]:
                    pending.discard(p)
                    consumer.pause([TopicPartition(topic, p)])
            batch = batch[: None if limit is None else limit - printed]
            _write(batch, opener, out)
            printed += len(batch)
        return printed
    finally:
        consumer.close()
        if opener is not None:
            opener.close()


def _broker_trouble(err: KafkaError, warned: set[int]) -> None:
    """A fatal consumer error ends the tail; a passing one (the broker restarting) is logged
    once per kind and the tail waits for the broker to come back."""
    if err.fatal():
        raise KafkaException(err)
    if err.code() not in warned:
        warned.add(err.code())
        log.warning("broker_trouble", error=err.str())


def _partitions(consumer: Consumer, topic: str, only: int | None) -> list[int]:
    meta = consumer.list_topics(timeout=PROBE_TIMEOUT_S)  # all topics: never auto-creates one
    if topic not in meta.topics or meta.topics[topic].error is not None:
        raise LookupError(f"no topic {topic!r} on the broker (see `photofeed topics list`)")
    parts = sorted(meta.topics[topic].partitions)
    if only is not None and only not in parts:
        raise LookupError(f"{topic} has partitions {parts[0]}..{parts[-1]}, not {only}")
    return parts if only is None else [only]


def _write(batch: Sequence[Message], opener: _Opening | None, out: IO[str]) -> None:
    codec = default_codec()
    rows = [message_json(m, codec) for m in batch]
    if opener is not None:
        opener.apply(rows)
    for row, _event in rows:
        out.write(orjson.dumps(row).decode() + "\n")
    out.flush()


class _Opening:
    """Opens sealed fields through streams/opener.py with the keys in Valkey; an event the
    opener drops (its user was erased, or its seal does not open) stays sealed and says so."""

    def __init__(self, settings: Settings) -> None:
        from infra.clients import make_redis
        from infra.keystore import RedisKeyStore
        from streams.opener import Opener

        self._runner = asyncio.Runner()
        self._redis = make_redis(settings)
        self._opener = Opener(RedisKeyStore(self._redis))

    def apply(self, rows: Sequence[tuple[dict[str, Any], Event | None]]) -> None:
        events = [event for _row, event in rows if event is not None]
        opened = {e.event_id: e for e in self._runner.run(self._opener.open(events))}
        for row, event in rows:
            if event is None:
                continue
            readable = opened.get(event.event_id)
            if readable is not None:
                row.update(event_fields(readable))
            row["opened"] = readable is not None

    def close(self) -> None:
        self._runner.run(self._redis.aclose())
        self._runner.close()
