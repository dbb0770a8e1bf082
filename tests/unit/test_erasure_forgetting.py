"""Erasure's forgetting without I/O: the media agent and erased owners, Valkey's persistence
rewrite (waiting for jobs started after the deletions), the failure policy's view of the new
errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from infra.objectstore import (
    ObjectInfo,
    S3Store,
    SeaweedUnavailable,
    VolumesNotCompacted,
    _volume_servers,
)
from projections.erasure.redis import PersistenceNotRewritten, rewrite_persistence
from projections.photos.ports import ContentView
from projections.search.sqlite import WalBusy
from schemas import events as ev
from schemas.ids import SnowflakeGenerator
from schemas.media import VARIANTS, variant_key
from streams.failures import kind_of
from streams.media_agent import MediaAgent, MediaLimits
from tests import samples
from tests.integration.helpers import now

JPEG = samples.jpeg(samples.quadrants(64, 48))
SHA = hashlib.sha256(JPEG).hexdigest()
VARIANT_KEYS = sorted(variant_key(SHA, n) for n in VARIANTS)


class Store:
    """An S3 holding one original; records every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.puts: list[str] = []
        self.deletes: list[str] = []

    async def stat(self, key: str) -> ObjectInfo:
        self.calls.append("stat")
        return ObjectInfo(len(JPEG), "image/jpeg")

    async def read(self, key: str, limit: int, if_match: str = "") -> bytes:
        self.calls.append("read")
        return JPEG

    async def put(self, key: str, data: bytes, *_: Any) -> None:
        self.puts.append(key)

    async def delete(self, key: str) -> None:
        self.deletes.append(key)


class Owners:
    """Erased from the `after`-th question on."""

    def __init__(self, after: int) -> None:
        self.after, self.asked = after, 0

    async def erased(self, user_ids: Iterable[int]) -> set[int]:
        self.asked += 1
        return set(user_ids) if self.asked > self.after else set()


class Index:
    """The content index: unknown at first, then `later` (another photo published it)."""

    def __init__(self, later: ContentView | None) -> None:
        self.later, self.asked = later, 0

    async def content(self, sha256: str) -> ContentView | None:
        self.asked += 1
        return None if self.asked == 1 else self.later

    async def unreferenced(self, sha256: str) -> bool:
        return self.later is None or self.later.references == 0


class NoBlocklist:
    async def entries(self) -> dict[int, str]:
        return {}


def agent(store: Store, owners: Owners, index: Index) -> MediaAgent:
    async def current() -> Index:
        return index

    limits = MediaLimits(10_000_000, 50_000_000, 8)
    return MediaAgent(cast(S3Store, store), current, NoBlocklist(), SnowflakeGenerator(7), limits,
                      owners)  # fmt: skip


def upload() -> ev.PhotoUploaded:
    return ev.PhotoUploaded(
        event_id=1, occurred_at=now(), actor_id=42, photo_id=2, object_key="o/42/2",
        content_type="image/jpeg", size_bytes=len(JPEG), caption="", tags=(),
    )  # fmt: skip


def outcome(events: list[ev.Event]) -> list[tuple[str, str]]:
    return [(type(e).__name__, getattr(e, "reason_code", "")) for e in events]


async def test_an_upload_of_an_erased_owner_touches_no_object() -> None:
    store = Store()
    events = await agent(store, Owners(after=0), Index(None)).handle(upload())
    assert outcome(events) == [("PhotoRejected", "owner_erased")]
    assert (store.calls, store.puts, store.deletes) == ([], [], [])


async def test_an_owner_erased_while_processing_leaves_no_variants() -> None:
    store = Store()
    events = await agent(store, Owners(after=1), Index(None)).handle(upload())
    assert outcome(events) == [("PhotoRejected", "owner_erased")]
    assert sorted(store.puts) == sorted(store.deletes) == VARIANT_KEYS


async def test_variants_another_photo_references_by_then_stay() -> None:
    shared = ContentView(SHA, {}, 64, 48, "LEHV6nWB2yk8", 0, references=1)
    store = Store()
    events = await agent(store, Owners(after=1), Index(shared)).handle(upload())
    assert outcome(events) == [("PhotoRejected", "owner_erased")]
    assert (sorted(store.puts), store.deletes) == (VARIANT_KEYS, [])


async def test_a_live_owner_is_published() -> None:
    store = Store()
    events = await agent(store, Owners(after=99), Index(None)).handle(upload())
    assert outcome(events) == [("PhotoProcessed", ""), ("PostPublished", "")]
    assert (sorted(store.puts), store.deletes) == (VARIANT_KEYS, [])


class Valkey:
    """INFO persistence of a Valkey whose background jobs finish after `ticks` INFO reads;
    `running` says a rewrite started before the call is still going."""

    def __init__(self, *, save: str = "300 1", running: bool = False, refuse: bool = False,
                 fail: bool = False, ticks: int = 2) -> None:  # fmt: skip
        self.save, self.refuse, self.fail, self.ticks = save, refuse, fail, ticks
        self.jobs: dict[str, list[int]] = {"aof": [ticks] if running else [], "rdb": []}
        self.started = {"aof": 1 if running else 0, "rdb": 0}
        self.commands: list[str] = []

    async def info(self, section: str) -> dict[str, Any]:
        for left in self.jobs.values():
            left[:] = [n - 1 for n in left if n > 1]
        return {
            "aof_enabled": 1, "aof_rewrites": self.started["aof"],
            "aof_rewrite_in_progress": int(bool(self.jobs["aof"])), "aof_rewrite_scheduled": 0,
            "aof_last_bgrewrite_status": "err" if self.fail else "ok",
            "rdb_saves": self.started["rdb"], "rdb_bgsave_in_progress": int(bool(self.jobs["rdb"])),
            "rdb_last_bgsave_status": "ok",
        }  # fmt: skip

    async def config_get(self, name: str) -> dict[str, str]:
        return {"save": self.save}

    async def bgrewriteaof(self) -> bool:
        return self._start("aof", "BGREWRITEAOF")

    async def bgsave(self, schedule: bool = True) -> bool:
        return self._start("rdb", "BGSAVE")

    def _start(self, kind: str, command: str) -> bool:
        self.commands.append(command)
        if self.refuse:
            raise ResponseError(f"unknown command '{command}'")
        if self.jobs[kind]:
            raise ResponseError("Background append only file rewriting already in progress")
        self.jobs[kind].append(self.ticks)
        self.started[kind] += 1
        return True


async def test_rewrites_wait_for_a_job_started_after_the_call() -> None:
    valkey = Valkey(running=True)
    done = await rewrite_persistence(cast(Redis, valkey), timeout_s=5)
    assert done.startswith("append-only file rewritten in ")
    assert ", snapshot saved in " in done
    assert valkey.commands == ["BGREWRITEAOF", "BGSAVE"]  # not started while one was running
    assert valkey.started == {"aof": 2, "rdb": 1}


async def test_no_snapshot_when_snapshots_are_off() -> None:
    valkey = Valkey(save="")
    assert "snapshot" not in await rewrite_persistence(cast(Redis, valkey), timeout_s=5)


async def test_a_refusing_valkey_is_reported_and_a_failing_one_retried() -> None:
    refused = await rewrite_persistence(cast(Redis, Valkey(refuse=True)), timeout_s=5)
    assert refused.startswith("BGREWRITEAOF refused by Valkey")
    with pytest.raises(PersistenceNotRewritten):
        await rewrite_persistence(cast(Redis, Valkey(fail=True)), timeout_s=5)
    with pytest.raises(PersistenceNotRewritten):
        await rewrite_persistence(cast(Redis, Valkey(ticks=10**9)), timeout_s=0.2)


def test_stores_that_did_not_forget_yet_are_outages_to_retry() -> None:
    errors = [PersistenceNotRewritten("x"), WalBusy("x"), VolumesNotCompacted("x"),
              SeaweedUnavailable("x")]  # fmt: skip
    assert [kind_of(e) for e in errors] == ["outage"] * 4


def test_volume_servers_are_read_from_every_rack() -> None:
    topology = {"DataCenters": [
        {"Racks": [{"DataNodes": [{"Url": "a:1"}, {"Url": "b:2"}]}, {"DataNodes": None}]},
        {"Racks": [{"DataNodes": [{"Url": "c:3"}]}]},
    ]}  # fmt: skip
    assert _volume_servers(topology) == ["a:1", "b:2", "c:3"]
