"""Account erasure end to end: every store forgets the user (receipts prove it), a worker killed
mid-erasure resumes, the log's copies of their personal data become unreadable, and a replay of
every projection afterwards reproduces nothing of them — and equals the live projections."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import uuid
from typing import Any

import fastavro
import httpx
import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.keystore import RedisKeyStore
from infra.processes import ManagedProcess, wait_until
from infra.readiness import worker_health
from infra.sealed_log import SealingLog
from infra.settings import Settings
from infra.topics import POSTS, USERS
from photofeed.bootstrap import erasure_workflow, s3_store
from photofeed.replay_cli import replay_group
from photofeed.stores import make_stores
from projections.groups import Group
from replay.reader import LogReader
from schemas.codec import default_codec
from schemas.media import original_key
from schemas.sealing import PREFIX
from streams.erasure import STEPS
from streams.keys import ErasureKeys
from tests import samples
from tests.e2e.test_photos_api import final_status, upload_and_complete
from tests.fixtures import await_worker_ready, bearer, eventually, register
from tests.integration.helpers import published

pytestmark = pytest.mark.stack
GROUPS = (Group.GRAPH, Group.PHOTOS, Group.FEEDS, Group.ENGAGEMENT, Group.SEARCH)


async def ok(api: httpx.AsyncClient, method: str, path: str, token: str, **kw: Any) -> Any:
    r = await api.request(method, path, headers=bearer(token), **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


def raw_records(settings: Settings, topic: str) -> list[dict[str, Any]]:
    """The topic as a data team reads it: plain fastavro with the writer schemas, no photofeed."""
    codec = default_codec()
    schemas = {v.fingerprint: v.schema for v in codec.versions()}
    out = []
    for batch in LogReader(settings.bootstrap, [topic]).batches():
        for record in batch:
            if record.value[2:10] not in schemas:
                continue  # not an event (a poison-message test's bytes): a data team skips it
            body = io.BytesIO(record.value[10:])
            try:
                decoded = fastavro.schemaless_reader(body, schemas[record.value[2:10]], None)
            except (EOFError, IndexError, ValueError, TypeError):
                continue  # a poison-message test's corrupt body: skipped, as the agents do
            assert isinstance(decoded, dict)
            out.append(decoded)
    return out


async def test_erasure_reaches_every_store_survives_a_crash_and_replays_to_nothing(
    api: httpx.AsyncClient, event_log: KafkaEventLog, redis: Redis, settings: Settings,
    worker: ManagedProcess,
) -> None:  # fmt: skip
    name = f"victim{uuid.uuid4().hex[:8]}"
    victim, token = await register(api, name)
    friend, friend_token = await register(api)
    fan, fan_token = await register(api)
    word = "zq" + uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))
    # the victim's world: a real upload, a second post, a deleted one, follows both ways, likes
    # and comments given and received, notifications read
    sealed_log = SealingLog(event_log, RedisKeyStore(redis))
    await ok(api, "POST", f"/follow/{friend}", token)
    await ok(api, "POST", f"/follow/{victim}", fan_token)
    photo = await upload_and_complete(api, token, samples.jpeg(samples.quadrants(320, 240)),
                                      "image/jpeg")  # fmt: skip
    assert (await final_status(api, token, photo))["status"] == "published"
    mine, gone = published(victim, f"{word} by the victim"), published(victim, f"{word} gone")
    theirs = published(friend, "the friend's post")
    await sealed_log.append(mine, gone, theirs)
    await eventually(lambda: api.get(f"/posts/{theirs.post_id}"), lambda r: r.status_code == 200)
    await eventually(lambda: api.get(f"/posts/{gone.post_id}"), lambda r: r.status_code == 200)
    await ok(api, "DELETE", f"/posts/{gone.post_id}", token)
    await ok(api, "POST", f"/likes/{theirs.post_id}", token)
    await ok(api, "POST", f"/posts/{theirs.post_id}/comments", token, json={"text": f"{word}!"})
    await ok(api, "POST", f"/likes/{mine.post_id}", fan_token)
    await ok(api, "POST", f"/posts/{mine.post_id}/comments", fan_token, json={"text": "nice"})
    rude = await ok(api, "POST", f"/posts/{mine.post_id}/comments", fan_token, json={"text": "meh"})
    await eventually(lambda: api.get(f"/posts/{mine.post_id}/comments"),
                     lambda r: len(r.json()["comments"]) == 2)  # fmt: skip
    await ok(api, "DELETE", f"/comments/{rude['comment_id']}", token)  # the author removes it
    await ok(api, "POST", "/notifications/read", token)

    def counts(r: httpx.Response) -> tuple[int, int]:
        return r.json()["like_count"], r.json()["comment_count"]

    await eventually(lambda: api.get(f"/posts/{theirs.post_id}"), lambda r: counts(r) == (1, 1))
    await eventually(lambda: ok(api, "GET", "/notifications", friend_token),
                     lambda b: len(b["notifications"]) == 3)  # follow, like, comment  # fmt: skip
    store = s3_store(settings)
    assert await store.stat(original_key(int(victim), int(photo))) is not None

    # erase; kill the worker after the first receipts, restart it: the erasure resumes
    r = await api.request(
        "DELETE", "/users/me", json={"password": "correct horse"}, headers=bearer(token)
    )
    assert (r.status_code, r.json()["status"]) == (202, "erasing")
    assert (await api.post("/sessions", json={"username": name, "password": "correct horse"})
            ).status_code == 401  # fmt: skip
    stores = make_stores(settings)
    flow = erasure_workflow(settings, stores)
    first = await eventually(lambda: flow.status(int(victim)), lambda s: "keys" in s.receipts,
                             timeout_s=30, interval_s=0.02)  # fmt: skip
    worker.kill()
    cut = await flow.status(int(victim))
    assert not cut.complete, "the kill must land mid-erasure"
    assert first.receipts.items() <= cut.receipts.items()
    worker.start()
    await_worker_ready(settings, worker)
    done = await eventually(lambda: flow.status(int(victim)), lambda s: s.complete, timeout_s=60)
    await stores.redis.aclose()
    assert done.receipts["cassandra"].startswith("skipped")
    assert all(done.receipts[s].startswith("done") for s in STEPS if s != "cassandra")
    command = [sys.executable, "-m", "photofeed", "erasure", "status", victim]
    status = await asyncio.to_thread(subprocess.run, command, env=settings.to_env(),
                                     capture_output=True, text=True, timeout=60)  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert "media" in status.stderr

    # every store forgot
    assert (await api.get(f"/users/{victim}")).status_code == 404
    assert (await api.get(f"/posts/{mine.post_id}")).status_code == 404
    assert victim not in [u["user_id"] for u in (await ok(api, "GET", f"/users/{friend}/followers",
                                                           friend_token))["users"]]  # fmt: skip
    assert (await ok(api, "GET", f"/users/{fan}", fan_token))["following_count"] == 0
    post = await ok(api, "GET", f"/posts/{theirs.post_id}", friend_token)
    assert (post["like_count"], post["comment_count"]) == (0, 0)
    assert (await ok(api, "GET", "/notifications", friend_token))["notifications"] == []
    assert (await ok(api, "GET", "/search", friend_token, params={"q": word}))["posts"] == []
    assert (await ok(api, "GET", "/search", friend_token, params={"q": f"@{name}"}))["users"] == []
    assert await store.stat(original_key(int(victim), int(photo))) is None
    assert (await ok(api, "GET", "/feed", fan_token))["posts"] == []

    # the log forgets: a data team's reader sees only sealed noise, and it can never be opened
    names = [r["username"] for r in raw_records(settings, USERS.name) if r.get("actor_id") ==
             int(victim) and "username" in r]  # fmt: skip
    assert names
    assert all(n.startswith(PREFIX) and name not in n for n in names)
    captions = [r["caption"] for r in raw_records(settings, POSTS.name)
                if r.get("post_id") == mine.post_id and "caption" in r]  # fmt: skip
    assert captions
    assert all(c.startswith(PREFIX) for c in captions)
    assert await RedisKeyStore(redis).keys([int(victim)]) == {}

    # replay every group: identical to live, and nothing of the victim comes back
    for group in GROUPS:
        result = await replay_group(settings, group)
        assert result.differences == 0, (group, result.sample)
        assert result.swapped, group
    assert (await api.get(f"/users/{victim}")).status_code == 404
    leftovers = [k async for k in redis.scan_iter(match=f"*{{{victim}}}*")]
    lasting = [k for k in leftovers if await redis.ttl(k) < 0]  # rate-limit windows expire
    assert lasting == [f"erasure:{{{victim}}}".encode()]  # the receipts, nothing else


async def test_an_erasure_runs_beside_the_agents_once_and_holds_up_no_sign_up(
    api: httpx.AsyncClient, settings: Settings, worker: ManagedProcess
) -> None:
    """An erasure takes seconds (here 0.3 s between its steps): it runs beside the agents, so a
    sign-up recorded after the request is served while it still runs, and under its lease, so a
    second runner leaves it alone; once complete it is no longer pending."""
    victim, token = await register(api)
    r = await api.request(
        "DELETE", "/users/me", json={"password": "correct horse"}, headers=bearer(token)
    )
    assert r.status_code == 202, r.text
    stores = make_stores(settings)
    flow = erasure_workflow(settings, stores)
    try:
        await eventually(lambda: flow.status(int(victim)), lambda s: "keys" in s.receipts,
                         timeout_s=30, interval_s=0.02)  # fmt: skip
        assert await flow.run_due() == 0, "the worker's lease must keep a second runner out"
        newcomer, _ = await register(api)
        await eventually(lambda: api.get(f"/users/{newcomer}"), lambda r: r.status_code == 200)
        assert not (await flow.status(int(victim))).complete, "the sign-up waited for the erasure"
        await eventually(lambda: flow.status(int(victim)), lambda s: s.complete, timeout_s=60)
        await eventually(lambda: stores.redis.zscore(ErasureKeys.PENDING, victim),
                         lambda score: score is None)  # fmt: skip
    finally:
        await stores.redis.aclose()

    def erasures_done() -> int:  # the worker's health snapshot (published every 2 s)
        return sum(w["agents"].get("erasures", {}).get("processed", 0)
                   for w in worker_health(settings))  # fmt: skip

    assert wait_until(lambda: erasures_done() >= 1, 15), "the health snapshot counts erasures"
    # `erasure resume` queues only a requested, unfinished erasure: neither of these
    for user, code, said in ((victim, 0, "complete"), (newcomer, 1, "no erasure was requested")):
        command = [sys.executable, "-m", "photofeed", "erasure", "resume", user]
        ran = await asyncio.to_thread(subprocess.run, command, env=settings.to_env(),
                                      capture_output=True, text=True, timeout=60)  # fmt: skip
        assert (ran.returncode, said in ran.stdout + ran.stderr) == (code, True), ran
    stores = make_stores(settings)
    try:
        queued = await stores.redis.zmscore(ErasureKeys.PENDING, [victim, newcomer])
        assert queued == [None, None], "resume queued an erasure it must refuse"
    finally:
        await stores.redis.aclose()
