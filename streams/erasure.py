"""The account-erasure workflow: durable, resumable, with a receipt per store.

Driven by `AccountErasureRequested`: once the users topic's projections applied the batch, the
request is recorded (the user's erasure record and the pending set, `ErasureKeys.PENDING`) before
the batch is acknowledged. The erasure itself runs beside the agents (`run_pending`, a task of
every worker), so a store that takes seconds to forget holds up no sign-up or profile edit on the
users topic. A worker runs an erasure under a lease (`ErasureKeys.lease`, renewed while it runs):
two workers never run the same one at once, and one killed mid-way leaves it to the next worker
to look (within LEASE_S + POLL_S). The steps run in order; each records a receipt (`done <time>`
or `skipped: <why>`) in the user's erasure record, and a step with a receipt is never run again:
a resumed erasure starts at the first step without a receipt, and every step is idempotent, so
one cut short is simply run again. A step that fails (a store down) leaves the erasure pending,
its error in the record (`photofeed erasure status`); it is tried again after a backoff. A worker
that cannot renew its lease cuts its run short before the lease could pass to another.

1. facts        — what the erasure must reach, read before anything is removed (kept in the record)
2. keys         — destroy the data key, mark the user erased: their sealed data in the log is
                  noise from now on, and every consumer (live agents, replays) drops their events
3. account      — credentials and username (the command side)
4. uploads      — upload sessions, open or completed (caption, alt text, location in plain text)
5. graph, feeds, engagement, photos — every Valkey projection version being served or built
6. search       — every search version; the SQLite files are scrubbed too (index merged, file
                  rebuilt, WAL truncated: projections/search/sqlite.py)
7. media        — originals, avatars and no-longer-referenced variants on S3 (on the local
                  SeaweedFS their needles are deleted at once, not a second later by the
                  filer's queue)
8. volumes      — compact the local SeaweedFS volumes holding deleted bytes (skipped on another S3:
                  reclaiming deleted objects' storage is the provider's business)
9. cassandra    — the durable projections on Cassandra, when configured
10. valkey_files — rewrite Valkey's append-only file and snapshot, last: until then they still
                  hold every deleted value and the destroyed data key's bytes

How long each store takes to forget (measured here; the steps run while the erasure runs):
Valkey files 0.2 s on the test stack, 7 s for a 1.1 GB dataset (rewrite 3.8 s + snapshot 3.2 s);
search files 0.4 s per 200,000 posts; SeaweedFS volumes 0.2 s on the test stack, 5 s per full
(240 MB) volume holding deleted bytes. What stays longer: upload sessions written before the
owner index existed (their TTL, 24 h); on Cassandra, tombstoned rows until compaction after
gc_grace_seconds; on Elasticsearch, deleted documents until their segments merge; on a
provider's S3, its own policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

import structlog
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from projections.erasure import redis as erase
from projections.erasure.redis import ErasureFacts
from projections.feeds.ports import PostReader
from projections.graph.ports import GraphReader
from projections.groups import Group
from projections.photos.ports import PhotoIndex
from projections.search.ports import SearchVersions
from projections.versions.ports import VersionRegistry
from schemas import events as ev
from schemas.media import VARIANTS, avatar_prefix, variant_key
from streams.edges import all_edges
from streams.keys import ErasureKeys

log = structlog.get_logger("photofeed.erasure")
STEPS = ("keys", "account", "uploads", "graph", "feeds", "engagement", "photos", "search",
         "media", "volumes", "cassandra", "valkey_files")  # fmt: skip
# valkey_files comes last: every step before it may still write to Valkey
ALL_POSTS = 1_000_000  # one timeline page that holds every post of any user
POLL_S = 5.0  # how often a worker looks for erasures recorded elsewhere or left by a dead worker
LEASE_S = 10.0  # a running erasure's lease, renewed every RENEW_S: a dead worker's expires
RENEW_S = 2.0
RETRY_FIRST_S, RETRY_MAX_S = 5.0, 300.0  # a failed erasure is tried again after this, doubling


class LeaseLost(RuntimeError):
    """An erasure's lease could not be kept; the run was cut short (it stays pending)."""


class KeyShredder(Protocol):
    async def erase(self, user_id: int) -> None: ...


class Accounts(Protocol):
    async def forget(self, user_id: int) -> None: ...


class UploadSessions(Protocol):
    async def forget_owner(self, owner_id: int) -> int: ...


class ObjectStore(Protocol):
    async def delete(self, key: str) -> None: ...

    async def list_older(self, prefix: str, before: datetime) -> list[str]: ...


class Volumes(Protocol):
    """The object store's own disk (infra.objectstore.SeaweedAdmin): where an object's bytes
    lie, deleting them there at once, compacting them out of the volume files."""

    async def chunk_ids(self, key: str) -> list[str]: ...

    async def delete_chunks(self, file_ids: Sequence[str]) -> int: ...

    async def compact(self) -> int: ...


DurableFacts = tuple[list[int], list[int], list[int]]  # followers, following, posts


async def read_durable_facts(graph: GraphReader, posts: PostReader, user: int) -> DurableFacts:
    """The user's live edges (both sides) and posts, read through the ports: with Cassandra
    configured, Valkey holds neither, so the facts Valkey gives are completed from these."""
    followers = await all_edges(graph.followers, user)
    following = await all_edges(graph.following, user)
    timeline = await posts.timeline_page(user, ALL_POSTS, None)
    return followers, following, [p for p, _ in timeline]


@dataclass(frozen=True)
class ErasureStatus:
    user_id: int
    requested: str | None
    receipts: dict[str, str]  # step -> receipt, in step order; missing steps are pending
    last_error: str | None = None  # the last failed run's time and error, if any

    @property
    def complete(self) -> bool:
        return all(step in self.receipts for step in STEPS)


class ErasureWorkflow:
    def __init__(
        self,
        redis: Redis,
        versions: VersionRegistry,
        keys: KeyShredder,
        accounts: Accounts,
        search: SearchVersions,
        store: ObjectStore,
        *,
        photos: Callable[[int], PhotoIndex],
        uploads: UploadSessions,
        volumes: Volumes | None = None,
        cassandra: Callable[[int, ErasureFacts], Awaitable[None]] | None = None,
        durable_facts: Callable[[int], Awaitable[DurableFacts]] | None = None,
        pause_s: float = 0.0,
    ) -> None:
        """`photos(version)` is that version's content index (which variants no photo uses);
        `volumes` is the local SeaweedFS's disk (None on any other S3); `cassandra` erases the
        user from the Cassandra projections and `durable_facts` reads their edges and posts
        there (read_durable_facts), when Cassandra is configured (Valkey then holds neither);
        `pause_s` waits between steps (only for tests that kill a worker mid-erasure)."""
        self._r = redis
        self._versions = versions
        self._keys = keys
        self._accounts = accounts
        self._search = search
        self._store = store
        self._photos = photos
        self._uploads = uploads
        self._volumes = volumes
        self._cassandra = cassandra
        self._durable_facts = durable_facts
        self._pause_s = pause_s
        self._wake = asyncio.Event()  # a request was recorded here: look now, not at POLL_S
        self._failures: dict[int, int] = {}  # user -> failed runs in a row (this worker)
        self._retry_at: dict[int, float] = {}  # user -> monotonic time of the next try

    async def after_users(self, events: Sequence[ev.Event]) -> None:
        """Record the batch's erasure requests (before it is acknowledged) and wake the runner."""
        users = [e.actor_id for e in events if isinstance(e, ev.AccountErasureRequested)]
        if users:
            await self.request(users)
            self._wake.set()

    async def request(self, users: Sequence[int]) -> None:
        """Record erasure requests: each user's record and the pending set (a request recorded
        before, redelivered, keeps its first time)."""
        at, ms = _now(), time.time_ns() // 1_000_000
        pipe = self._r.pipeline(transaction=False)
        for user in users:
            pipe.hsetnx(ErasureKeys.record(user), "requested", at)
            pipe.zadd(ErasureKeys.PENDING, {str(user): ms}, nx=True)
        await pipe.execute()

    async def run_pending(self, done: Callable[[int], None] = lambda _n: None) -> None:
        """Forever: run the pending erasures (`done(n)`: n more completed), then wait for a
        request or POLL_S."""
        while True:
            self._wake.clear()
            try:
                completed = await self.run_due()
                if completed:
                    done(completed)
            except Exception as exc:  # Valkey unreachable: look again later
                log.warning("erasures_unreadable", error=repr(exc)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)

    async def run_due(self) -> int:
        """Run every pending erasure no other worker holds, oldest request first; return how
        many completed. One that fails stays pending: its error goes to the log and the record
        (`erasure status` shows it), it is tried again after a backoff (RETRY_FIRST_S doubling
        to RETRY_MAX_S, per worker), and the next is run."""
        completed = 0
        pending = await self._r.zrange(ErasureKeys.PENDING, 0, -1)
        for user in [int(raw) for raw in cast(list[bytes], pending)]:
            if self._retry_at.get(user, 0.0) > time.monotonic():
                continue
            lease = self._r.lock(ErasureKeys.lease(user), timeout=LEASE_S, blocking=False)
            if not await lease.acquire():
                continue  # another worker runs it
            try:
                if (await self._leased(user, lease)).complete:
                    await self._r.zrem(ErasureKeys.PENDING, user)  # still under the lease
                    completed += 1
                self._failures.pop(user, None)
                self._retry_at.pop(user, None)
            except Exception as exc:
                await self._failed(user, exc)
            finally:
                with contextlib.suppress(RedisError):  # not held any more: it expires anyway
                    await lease.release()
        return completed

    async def _failed(self, user: int, exc: Exception) -> None:
        failures = self._failures[user] = self._failures.get(user, 0) + 1
        wait_s = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (failures - 1))
        self._retry_at[user] = time.monotonic() + wait_s
        error = repr(exc)[:300]
        log.warning("erasure_failed", user_id=user, failures=failures, retry_in_s=wait_s,
                    error=error)  # fmt: skip
        with contextlib.suppress(RedisError):
            await self._r.hset(ErasureKeys.record(user), "last_error", f"{_now()} {error}")

    async def _leased(self, user: int, lease: Lock) -> ErasureStatus:
        """Run the erasure while its lease is kept; when the lease cannot be kept (taken over
        after it expired, or not renewed for LEASE_S - RENEW_S), the run is cut short and
        LeaseLost raised: another worker may run it by then, never both at once."""
        run = asyncio.create_task(self.run(user), name=f"erasure-{user}")
        keeper = asyncio.create_task(_keep(lease, run, user), name=f"erasure-lease-{user}")
        try:
            return await run
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                run.cancel()
                raise  # the worker stops
            raise LeaseLost(f"the lease of {user}'s erasure was lost; it stays pending") from None
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def status(self, user_id: int) -> ErasureStatus:
        record = await self._r.hgetall(ErasureKeys.record(user_id))
        raw = {_text(k): _text(v) for k, v in record.items()}
        receipts = {s: raw[s] for s in STEPS if s in raw}
        return ErasureStatus(user_id, raw.get("requested"), receipts, raw.get("last_error"))

    async def run(self, user_id: int) -> ErasureStatus:
        """Run (or resume) the erasure to the end; return its receipts."""
        key = ErasureKeys.record(user_id)
        await self._r.hsetnx(key, "requested", _now())
        facts = await self._facts(user_id)
        done = await self.status(user_id)
        for step in STEPS:
            if step in done.receipts:
                continue
            receipt = await self._step(step, user_id, facts)
            await self._r.hset(key, step, receipt)
            log.info("erasure_step", user_id=user_id, step=step, receipt=receipt)
            if self._pause_s:
                await asyncio.sleep(self._pause_s)
        return await self.status(user_id)

    async def _facts(self, user_id: int) -> ErasureFacts:
        key = ErasureKeys.record(user_id)
        stored = await self._r.hget(key, "facts")
        if stored is not None:
            return ErasureFacts(**json.loads(stored))
        v = self._versions
        facts = await erase.gather_facts(
            self._r, user_id, await v.active(Group.GRAPH), await v.active(Group.FEEDS),
            await v.active(Group.PHOTOS), await v.active(Group.ENGAGEMENT),
        )  # fmt: skip
        if self._durable_facts is not None:
            followers, following, posts = await self._durable_facts(user_id)
            facts = dataclasses.replace(
                facts, followers=sorted({*facts.followers, *followers}),
                following=sorted({*facts.following, *following}),
                posts=sorted({*facts.posts, *posts}),
            )  # fmt: skip
        await self._r.hsetnx(key, "facts", json.dumps(asdict(facts)))
        return await self._facts(user_id)  # whichever worker stored them first

    async def _step(self, step: str, user: int, facts: ErasureFacts) -> str:
        if step == "keys":
            await self._keys.erase(user)
        elif step == "account":
            await self._accounts.forget(user)
        elif step == "uploads":
            return f"done {_now()}: {await self._uploads.forget_owner(user)} sessions deleted"
        elif step in erase.ERASERS:
            group = Group(step)
            for version in await self._versions.targets(group):
                await erase.ERASERS[group](self._r, version, user, facts)
        elif step == Group.SEARCH:
            for version in await self._versions.targets(Group.SEARCH):
                await self._search.at(version).erase(user, facts.posts)
        elif step == "media":
            return await self._media(user, facts)
        elif step == "volumes":
            return await self._compact()
        elif step == "cassandra":
            if self._cassandra is None:
                return "skipped: Cassandra is not configured"
            await self._cassandra(user, facts)
        elif step == "valkey_files":
            return f"done {_now()}: {await erase.rewrite_persistence(self._r)}"
        return f"done {_now()}"

    async def _media(self, user: int, facts: ErasureFacts) -> str:
        """Originals under the user's prefix; every avatar square under theirs (no one else's,
        whatever they show: schemas/media.py avatar_key); variants of content no photo
        references now; on the local SeaweedFS, their bytes' needles too (read before the
        objects go)."""
        later = datetime.now(tz=UTC) + timedelta(days=1)
        keys = await self._store.list_older(f"o/{user}/", later)
        keys += await self._store.list_older(avatar_prefix(user), later)
        photos = self._photos(await self._versions.active(Group.PHOTOS))
        for sha in facts.contents:
            if await photos.unreferenced(sha):
                keys += [variant_key(sha, name) for name in VARIANTS]
        disk = self._volumes
        chunks = [c for k in keys for c in await disk.chunk_ids(k)] if disk is not None else []
        await asyncio.gather(*(self._store.delete(k) for k in keys))
        if disk is not None:  # the filer's own queue would mark them deleted only later
            await disk.delete_chunks(chunks)
        return f"done {_now()}: {len(keys)} objects deleted"

    async def _compact(self) -> str:
        """Compact the volumes still holding deleted bytes (the media step's, and older ones)."""
        if self._volumes is None:
            return "skipped: not the local SeaweedFS; deleted objects are the provider's to reclaim"
        started = time.monotonic()
        compacted = await self._volumes.compact()
        return f"done {_now()}: {compacted} volumes compacted in {time.monotonic() - started:.2f} s"


async def _keep(lease: Lock, run: asyncio.Task[Any], user: int) -> None:
    """Renew `lease` every RENEW_S while `run` goes on; cancel `run` once the lease is lost:
    taken over (it expired), or not renewed for LEASE_S - RENEW_S (Valkey unreachable), so it
    is cut short before another worker could take the lease."""
    renewed = time.monotonic()
    while True:
        await asyncio.sleep(RENEW_S)
        try:
            await lease.reacquire()
            renewed = time.monotonic()
            continue
        except LockError as exc:  # not ours any more
            error: Exception = exc
        except RedisError as exc:  # unreachable: keep trying while the lease may still stand
            if time.monotonic() - renewed < LEASE_S - RENEW_S:
                continue
            error = exc
        log.warning("erasure_lease_lost", user_id=user, error=repr(error)[:200])
        run.cancel()
        return


def _now() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="milliseconds")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
