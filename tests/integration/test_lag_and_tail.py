"""Operating the log on the real stack: `topics tail` decodes every event type (and shows garbage
as undecodable), follows from the true end, opens sealed fields for an operator; the lag probe
sees a stopped group fall behind by exactly what was appended and catch up once its worker
runs; `status`, `top --once` and `topics list` print their tables."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import subprocess
import sys
import typing
import uuid
from datetime import datetime
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog, producer_config
from infra.keystore import RedisKeyStore
from infra.lag import PartitionLag, lag_metrics, lag_topics, probe_lag
from infra.readiness import worker_health
from infra.settings import Settings
from infra.stack import Stack
from infra.topics import FOLLOWS, USERS, topic_of
from photofeed.tail_json import event_fields
from photofeed.topics_cli import tail
from replay.reader import read_to_end
from schemas import events as ev
from schemas.sealing import is_sealed, seal_event
from tests.fixtures import app_process, eventually
from tests.integration.helpers import IDS, followed, now, registered

pytestmark = pytest.mark.stack
APPENDED = 7  # follows appended while the private group is stopped


def sample(cls: type[ev.Event]) -> ev.Event:
    """An event of `cls` with every field set (optional ones None), ids fresh."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if f.name == "occurred_at":
            values[f.name] = now()
        elif typing.get_origin(hint) is typing.Union or isinstance(hint, type(int | None)):
            values[f.name] = None
        elif hint is bool:
            values[f.name] = True
        elif hint is int:
            values[f.name] = IDS.next_id() if f.name.endswith("_id") or f.name == "phash" else 321
        elif hint is str:
            values[f.name] = "image/jpeg" if f.name == "content_type" else f"{f.name}-x"
        elif hint == tuple[str, ...]:
            values[f.name] = ("tail", "test")
        elif hint is ev.Variants:
            values[f.name] = ev.Variants("v/t.jpg", "v/f.jpg", "v/u.jpg")
        elif hint == tuple[ev.Mention, ...]:
            values[f.name] = (ev.Mention(IDS.next_id(), 0, 5),)
        else:
            raise AssertionError(f"no sample for {cls.__name__}.{f.name}: {hint}")
    return cls(**values)


async def tail_rows(settings: Settings, topic: str, **options: Any) -> list[dict[str, Any]]:
    """`topics tail --from-beginning` in this process (in a thread: it blocks, and --open runs
    an event loop of its own), parsed."""
    out = io.StringIO()
    args = {"from_beginning": True, "follow": False, "partition": None, "open_sealed": False,
            "limit": None, **options}  # fmt: skip
    await asyncio.to_thread(tail, settings, topic, out=out, **args)
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photofeed", *args], env={**settings.to_env(), "COLUMNS": "160"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def by_topic_lag(rows: list[PartitionLag], topic: str) -> int:
    lags = [r.lag for r in rows if r.topic == topic]
    assert lags, rows
    assert all(lag is not None for lag in lags), rows
    return sum(lag or 0 for lag in lags)


async def test_lag_rises_while_the_group_is_stopped_and_drains_when_its_worker_runs(
    settings: Settings, event_log: KafkaEventLog
) -> None:
    private = settings.with_(
        worker_group=f"lag-{uuid.uuid4().hex[:8]}", redis_db=6, worker_port=0, worker_appends=False
    )
    await event_log.append(registered(f"lag{uuid.uuid4().hex[:8]}"))
    before = await asyncio.to_thread(probe_lag, private)
    assert {r.topic for r in before} == set(lag_topics())
    assert all(r.committed is None for r in before), "a group that never ran committed nothing"
    assert by_topic_lag(before, USERS.name) >= 1
    # the end is the true end: one past the last offset a reader finds in each partition
    last: dict[tuple[str, int], int] = {}
    for logged in read_to_end(settings.bootstrap, [USERS.name]):
        last[(logged.topic, logged.partition)] = logged.offset
    for r in before:
        if r.topic == USERS.name:
            assert r.end == last.get((r.topic, r.partition), -1) + 1

    async def caught_up() -> list[PartitionLag]:
        return await asyncio.to_thread(probe_lag, private)

    def drained(rows: list[PartitionLag]) -> bool:
        return all(r.lag == 0 for r in rows)

    proc = app_process(private, f"lag-worker-{private.worker_group}", "worker")
    redis = Redis.from_url(private.redis)
    try:
        proc.start()
        await eventually(caught_up, drained, timeout_s=150, interval_s=0.5)

        async def health() -> list[dict[str, Any]]:
            return await asyncio.to_thread(worker_health, private)

        await eventually(health, timeout_s=30, interval_s=0.2)  # what status and top show
        status = cli(private, "status")
        assert status.returncode == 0, status.stderr
        assert f"consumer group {private.worker_group}" in status.stdout
        assert "project_follows" in status.stdout
        assert "running" in status.stdout
        top = cli(private, "top", "--once")
        assert top.returncode == 0, top.stderr
        for text in ("agents", "events/s", f"lag of {private.worker_group}", "dead letters"):
            assert text in top.stdout, top.stdout
        assert all(name in top.stdout for name in lag_topics())
        proc.stop()
        settled = await caught_up()
        assert drained(settled), "a stopped worker leaves its offsets committed"
        fans = [followed(IDS.next_id(), IDS.next_id()) for _ in range(APPENDED)]
        await event_log.append(*fans)
        stopped = await caught_up()
        assert by_topic_lag(stopped, FOLLOWS.name) == APPENDED
        committed = {(r.topic, r.partition): r.committed for r in settled}
        assert {(r.topic, r.partition): r.committed for r in stopped} == committed
        gauges = {m.name: m for m in lag_metrics(private)}
        lag_samples = [s for s in gauges["photofeed_group_lag"].samples
                       if s.labels["topic"] == FOLLOWS.name]  # fmt: skip
        assert sum(s.value for s in lag_samples) == APPENDED
        listed = cli(private, "topics", "list")
        assert listed.returncode == 0, listed.stderr
        assert all(name in listed.stdout for name in [*lag_topics(), "photofeed.deadletter"])
        proc.start()
        await eventually(caught_up, drained, timeout_s=90, interval_s=0.5)
    finally:
        proc.stop()
        await redis.flushdb()
        await redis.aclose()


async def test_tail_decodes_every_event_type_with_its_fields(
    settings: Settings, event_log: KafkaEventLog
) -> None:
    events = [sample(cls) for cls in ev.EVENT_TYPES]
    await event_log.append(*events)
    by_id: dict[str, dict[str, Any]] = {}
    for topic in sorted({topic_of(type(e)).name for e in events}):
        rows = await tail_rows(settings, topic)
        assert all(r["topic"] == topic for r in rows)
        by_id |= {r["event_id"]: r for r in rows if "event_id" in r}
    for event in events:
        row = by_id[str(event.event_id)]
        assert row["type"] == type(event).__name__
        assert {k: row[k] for k in event_fields(event)} == event_fields(event)
        assert row["key"] == str(getattr(event, topic_of(type(event)).key_field))
        assert isinstance(row["offset"], int)
        assert datetime.fromisoformat(row["timestamp"]).tzinfo is not None


async def test_tail_shows_garbage_as_undecodable(settings: Settings, stack: Stack) -> None:
    key = f"garbage-{uuid.uuid4().hex}".encode()
    garbage = b"\xc3\x01\x00\x00\x00\x00\x00\x00\x00\x00 no such schema"
    producer = Producer(producer_config(settings.bootstrap))
    producer.produce(USERS.name, value=garbage, key=key, partition=1)
    assert producer.flush(10) == 0
    done = cli(settings, "topics", "tail", USERS.name, "--from-beginning", "--partition", "1")
    assert done.returncode == 0, done.stderr
    rows = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert {r["partition"] for r in rows} == {1}
    mine = [r for r in rows if r["key"] == key.decode()]
    assert len(mine) == 1
    assert base64.b64decode(mine[0]["undecodable"]) == garbage
    assert "unknown schema fingerprint" in mine[0]["error"]
    assert "type" not in mine[0]


async def test_tail_opens_sealed_fields_only_when_asked(
    settings: Settings, event_log: KafkaEventLog, redis: Redis
) -> None:
    plain = registered(f"sealed{uuid.uuid4().hex[:8]}")
    key = await RedisKeyStore(redis).key_for(plain.actor_id)
    sealed = seal_event(plain, key)
    await event_log.append(sealed)
    rows = await tail_rows(settings, USERS.name)
    shut = [r for r in rows if r.get("event_id") == str(plain.event_id)]
    assert len(shut) == 1
    assert is_sealed(shut[0]["username"])
    assert "opened" not in shut[0]
    rows = await tail_rows(settings, USERS.name, open_sealed=True)
    opened = [r for r in rows if r.get("event_id") == str(plain.event_id)]
    assert opened[0]["username"] == plain.username
    assert opened[0]["opened"] is True


async def test_tail_follow_starts_at_the_true_end(
    settings: Settings, event_log: KafkaEventLog
) -> None:
    await event_log.append(followed(IDS.next_id(), IDS.next_id()))  # history it must skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "photofeed", "topics", "tail", FOLLOWS.name, "--follow",
        "--limit", "1", env=settings.to_env(), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    assert proc.stdout is not None
    stderr = proc.stderr
    try:

        async def placed() -> bytes:
            return await stderr.readline()

        await eventually(placed, lambda line: b"following" in line or not line, timeout_s=30)
        event = followed(IDS.next_id(), IDS.next_id())
        await event_log.append(event)
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert orjson.loads(line)["event_id"] == str(event.event_id)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
