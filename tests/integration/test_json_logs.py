"""Every process logs one JSON object per line (event, level, timestamp): the worker (Faust and
mode included, start to shutdown), the gateway (uvicorn included), and whatever a CLI process
meets: libvips warnings, librdkafka's own log, Python warnings, an uncaught exception."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import KafkaError, Message, Producer
from redis.asyncio import Redis

from infra.kafka import producer_config
from infra.settings import Settings
from infra.stack import Stack
from infra.topics import FOLLOWS
from tests.fixtures import app_process, await_worker_ready, eventually

REQUIRED = {"event", "level", "timestamp"}


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of `text` as a JSON object with REQUIRED keys; fails naming the first other."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"line {number} is not JSON: {line!r}") from None
        assert isinstance(obj, dict), f"line {number}: {line!r}"
        assert obj.keys() >= REQUIRED, f"line {number} lacks {REQUIRED - obj.keys()}: {line!r}"
        assert not str(obj["event"]).startswith("{"), f"a dict repr at line {number}: {line!r}"
        out.append(obj)
    return out


def produce_garbage(settings: Settings, key: bytes) -> tuple[int, int]:
    """A value no schema reads, on the follows topic; its (partition, offset)."""
    where: list[tuple[int, int]] = []

    def delivered(err: KafkaError | None, msg: Message) -> None:
        assert err is None, err
        where.append((msg.partition() or 0, msg.offset() or 0))

    producer = Producer(producer_config(settings.bootstrap))
    producer.produce(FOLLOWS.name, value=b"not avro", key=key, on_delivery=delivered)
    assert producer.flush(10) == 0
    return where[0]


@pytest.mark.stack
async def test_every_line_the_worker_logs_is_a_json_object(
    settings: Settings, stack: Stack
) -> None:
    private = settings.with_(
        worker_group=f"jsonlog-{uuid.uuid4().hex[:8]}",
        redis_db=7,
        worker_port=0,
        worker_appends=False,
    )
    partition, offset = produce_garbage(private, f"jsonlog-{uuid.uuid4().hex}".encode())
    proc = app_process(private, f"jsonlog-worker-{private.worker_group}", "worker")
    redis = Redis.from_url(private.redis)
    try:
        proc.start()
        await_worker_ready(private, proc)

        async def logged() -> str:
            return proc.logfile.read_text(errors="replace")

        def set_aside(text: str) -> bool:  # the worker's own structlog warning for our garbage
            return any(
                obj.get("event") == "dead_letter" and obj.get("offset") == offset
                and obj.get("partition") == partition
                for obj in map(json.loads, text.splitlines())
            )  # fmt: skip

        await eventually(logged, set_aside, timeout_s=120, interval_s=0.2)
    finally:
        proc.stop()
        await redis.flushdb()
        await redis.aclose()
    lines = json_lines(proc.logfile.read_text(errors="replace"))
    events = [obj["event"] for obj in lines]
    assert "worker_ready" in events
    assert any(obj.get("logger") for obj in lines), "Faust/mode records come through too"
    assert any("Stopping" in e for e in events), "shutdown is logged as JSON as well"


@pytest.mark.stack
async def test_every_line_the_gateway_logs_is_a_json_object(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    assert (await api.get("/users/1")).status_code == 404
    log = settings.data_dir / "logs" / "gateway.log"
    lines = json_lines(log.read_text(errors="replace"))
    assert any(obj.get("logger", "").startswith("uvicorn") for obj in lines)


SCRIPT = """
import logging, warnings
import pyvips, structlog
from confluent_kafka import Consumer
from infra.consumers import consumer_config
from infra.logs import configure_logging

configure_logging("INFO", True)
structlog.get_logger("photofeed.test").warning("structured", answer=42)
logging.getLogger("faust.like").error("a standard-library record: %s", {"a": 1})
jpeg = pyvips.Image.black(64, 64).write_to_buffer(".jpg")
try:  # libvips warns about the truncated file through GLib
    pyvips.Image.new_from_buffer(jpeg[: len(jpeg) // 2], "", fail_on="none").avg()
except pyvips.Error:
    pass
warnings.warn("a Python warning")
consumer = Consumer(consumer_config("127.0.0.1:9", {"group.id": "g"}))
consumer.poll(1.5)  # nothing listens on port 9: librdkafka logs the refused connection
consumer.close()
raise RuntimeError("uncaught at the end")
"""


def test_a_process_logs_library_warnings_and_crashes_as_json(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)], cwd=root, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    lines = json_lines(done.stderr)
    loggers = {obj.get("logger") for obj in lines}
    assert {"pyvips", "py.warnings", "librdkafka"} <= loggers, done.stderr
    assert any(o["event"] == "structured" and o.get("answer") == 42 for o in lines)
    crash = [o for o in lines if o["event"] == "uncaught_exception"]
    assert crash, done.stderr
    assert "uncaught at the end" in crash[0]["exception"]
    assert crash[0]["level"] == "critical"
