"""One fault run (`make fault-run`): steady comment traffic through the real gateway and worker
while faults are injected one after another, then an exact accounting.

Faults, in order: poison messages on the engagement topic; Valkey stopped; the broker stopped;
the worker process SIGKILLed (its supervisor restarts it); the worker stopped with SIGTERM and
started again. A client posts a uniquely numbered comment every LOAD_EVERY_S, retrying a failed
request (503, timeout) with the same Idempotency-Key until it is acknowledged or RETRY_FOR_S
passes. At the end every acknowledged comment must be on the post exactly once.

Printed: events sent, acknowledged, projected, dead-lettered, lost (must be 0), duplicated (must
be 0), phantoms (unacknowledged yet present: allowed, the client was told 503), and per fault the
time from its end until a comment sent then is visible. Exits 1 when anything was lost or
duplicated. Not part of `make bench`: it measures recovery, not speed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Producer

from bench.harness import bench_settings
from infra.kafka import KafkaEventLog, create_topics, producer_config
from infra.processes import ManagedProcess, ProcessSpec, wait_until
from infra.readiness import gateway_healthy, worker_joined
from infra.settings import Settings
from infra.stack import Stack
from infra.topics import ENGAGEMENT
from schemas import events as ev
from schemas.codec import default_codec
from schemas.ids import SnowflakeGenerator
from streams.deadletter_admin import read_letters

LOAD_EVERY_S = 0.05  # 20 comments/s: steady, well under what one worker applies
FAULT_S = 5.0  # how long each dependency stays down
STEADY_S = 4.0  # traffic between faults
RETRY_FOR_S = 60.0  # a client retries one comment this long (same Idempotency-Key)
VISIBLE_WITHIN_S = 120.0  # after the last fault, everything acknowledged must show within this
USERS = 20
IDS = SnowflakeGenerator(1022)


class Run:
    def __init__(self, settings: Settings, stack: Stack) -> None:
        self.settings, self.stack = settings, stack
        py = [sys.executable, "-m", "photofeed"]
        run, logs = settings.data_dir / "run", settings.data_dir / "logs"
        env = settings.to_env()
        self.worker = ManagedProcess(
            ProcessSpec("worker", [*py, "worker", "--supervised"], env), run, logs
        )
        self.gateway = ManagedProcess(ProcessSpec("gateway", [*py, "gateway"], env), run, logs)
        self.sent = 0
        self.acked: set[int] = set()
        self.failed: set[int] = set()
        self.api = httpx.AsyncClient(base_url=f"{settings.gateway_url}/api/v1", timeout=10)
        self.tokens: list[str] = []
        self.post = 0
        self.stop_load = asyncio.Event()

    async def setup(self) -> None:
        self.worker.start()
        self.gateway.start()
        assert wait_until(lambda: gateway_healthy(self.settings), 90), self.gateway.log_tail()
        pid = self.worker.pid()
        assert pid is not None
        assert wait_until(lambda: worker_joined(self.settings, pid), 90), self.worker.log_tail()
        for _ in range(USERS):
            name = f"f{uuid.uuid4().hex[:10]}"
            body = {"username": name, "password": "correct horse"}
            uid = (await self.api.post("/users", json=body)).json()["user_id"]
            self.tokens.append((await self.api.post("/sessions", json=body)).json()["token"])
        log = KafkaEventLog(self.settings.bootstrap, default_codec())
        post = ev.PostPublished(
            event_id=IDS.next_id(), occurred_at=_now(), actor_id=int(uid), post_id=IDS.next_id(),
            photo_id=IDS.next_id(), caption="faults", tags=(), width=10, height=10,
            variants=ev.Variants("v/a", "v/b", "v/c"), blurhash="LEHV6nWB2yk8",
        )  # fmt: skip
        await log.append(post)
        log.close()
        self.post = post.post_id
        await _until(lambda: self._post_exists(), 60)

    async def _post_exists(self) -> bool:
        return (await self.api.get(f"/posts/{self.post}")).status_code == 200

    async def comment(self, seq: int) -> float | None:
        """Post comment `seq` until acknowledged (same key); the time it took, or None."""
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {self.tokens[seq % USERS]}",
                   "Idempotency-Key": f"c-{seq}"}  # fmt: skip
        while time.monotonic() - started < RETRY_FOR_S:
            try:
                r = await self.api.post(
                    f"/posts/{self.post}/comments", json={"text": f"c-{seq}"}, headers=headers
                )
                if r.status_code == 201:
                    self.acked.add(seq)
                    return time.monotonic() - started
                if r.status_code not in {409, 429, 503}:
                    raise RuntimeError(f"comment {seq}: {r.status_code} {r.text}")
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
        self.failed.add(seq)
        return None

    async def load(self) -> None:
        pending: set[asyncio.Task[float | None]] = set()
        while not self.stop_load.is_set():
            self.sent += 1
            task = asyncio.create_task(self.comment(self.sent))
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(LOAD_EVERY_S)
        await asyncio.gather(*pending)

    async def visible(self) -> Counter[int]:
        seen: Counter[int] = Counter()
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
            auth = {"Authorization": f"Bearer {self.tokens[0]}"}
            r = await self.api.get(f"/posts/{self.post}/comments", params=params, headers=auth)
            body = r.json()
            seen.update(int(c["text"][2:]) for c in body["comments"] if c["text"][:2] == "c-")
            cursor = body.get("next_cursor")
            if not body.get("has_more"):
                return seen

    async def recovery(self) -> float:
        """From now until a new comment is acknowledged and visible."""
        started = time.monotonic()
        self.sent += 1
        seq = self.sent
        await self.comment(seq)
        await _until(lambda: self._shows(seq), VISIBLE_WITHIN_S)
        return time.monotonic() - started

    async def _shows(self, seq: int) -> bool:
        try:
            return (await self.visible())[seq] > 0
        except (httpx.HTTPError, ValueError, KeyError):
            return False


def poison(settings: Settings) -> int:
    producer = Producer(producer_config(settings.bootstrap))
    values: list[bytes | None] = [None, b"", b"garbage", b"\xc3\x01" + b"\x07" * 8 + b"x"]
    for value in values:
        producer.produce(ENGAGEMENT.name, value=value, key=b"fault")
    assert producer.flush(10) == 0
    return len(values)


async def faults(run: Run) -> dict[str, float]:
    s = run.stack
    recovery: dict[str, float] = {}

    async def fault(name: str, start: Callable[[], Any], end: Callable[[], Any]) -> None:
        await asyncio.sleep(STEADY_S)
        await asyncio.to_thread(start)
        await asyncio.sleep(FAULT_S)
        await asyncio.to_thread(end)
        recovery[name] = await run.recovery()
        print(f"  {name:<16} recovered in {recovery[name]:6.2f} s", flush=True)

    await fault("poison", lambda: poison(run.settings), lambda: None)
    await fault("valkey stopped", lambda: s.services["valkey"].process.stop(), s.up)
    await fault("broker stopped", lambda: s.services["tansu"].process.stop(), s.up)
    await fault("worker SIGKILL", lambda: _kill_worker_child(run.worker), lambda: None)
    await fault("worker SIGTERM", run.worker.stop, run.worker.start)
    return recovery


def _kill_worker_child(supervised: ManagedProcess) -> None:
    """SIGKILL the worker under its supervisor (the supervisor must bring it back)."""
    parent = supervised.pid()
    assert parent is not None
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    os.kill(int(children[0]), signal.SIGKILL)


async def main_async(settings: Settings, stack: Stack) -> int:
    run = Run(settings, stack)
    await run.setup()
    started = time.monotonic()
    load = asyncio.create_task(run.load())
    print("faults:", flush=True)
    recovery = await faults(run)
    await asyncio.sleep(STEADY_S)
    run.stop_load.set()
    await load
    seen = await _until_value(run.visible, lambda c: run.acked <= set(c), VISIBLE_WITHIN_S)
    letters = sum(1 for d in read_letters(settings.bootstrap) if d.source_topic == ENGAGEMENT.name)
    lost = run.acked - set(seen)
    duplicated = {k for k, n in seen.items() if n > 1}
    phantoms = set(seen) - run.acked
    print(f"run: {time.monotonic() - started:.0f} s")
    for label, value in [
        ("events sent", run.sent), ("acknowledged", len(run.acked)),
        ("never acknowledged", len(run.failed)), ("projected", len(seen)),
        ("dead-lettered", letters), ("lost", len(lost)), ("duplicated", len(duplicated)),
        ("phantoms (503 yet present)", len(phantoms)),
    ]:  # fmt: skip
        print(f"  {label:<28} {value}")
    for name, secs in recovery.items():
        print(f"  recovery after {name:<16} {secs:.2f} s")
    await run.api.aclose()
    run.gateway.stop()
    run.worker.stop()
    return 1 if lost or duplicated else 0


async def _until(probe: Callable[[], Awaitable[bool]], timeout_s: float) -> None:
    await _until_value(probe, bool, timeout_s)


async def _until_value(
    probe: Callable[[], Awaitable[Any]], accept: Callable[[Any], bool], timeout_s: float
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if accept(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(tz=UTC).replace(microsecond=0)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="photofeed-faults-") as tmp:
        settings = bench_settings(Path(tmp), "s3", 3, outage_budget_s=30.0)
        stack = Stack(settings)
        stack.up()
        try:
            create_topics(settings.bootstrap, partitions=settings.topic_partitions)
            code = asyncio.run(main_async(settings, stack))
        finally:
            stack.down()
    raise SystemExit(code)


if __name__ == "__main__":
    main()
