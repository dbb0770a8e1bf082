"""Poison messages on every topic are dead-lettered and the pipeline goes on, with nothing lost and
nothing applied twice; a dead letter whose cause is fixed is redriven and projects exactly once.
Real stack: Tansu, the worker process, Valkey, the gateway, and the `photofeed` CLI."""

from __future__ import annotations

import functools
import subprocess
import sys
import uuid
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka import Producer
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog, partitions_of, producer_config
from infra.keystore import KEYS
from infra.settings import Settings
from infra.topics import CATALOGUE, DEAD_LETTER, ENGAGEMENT
from schemas import events as ev
from schemas.codec import HEADER_LEN, MAGIC, default_codec
from schemas.sealing import new_key, seal
from streams.deadletter_admin import read_letters
from streams.deadletters import DeadLetter
from tests.fixtures import bearer, eventually, register
from tests.integration.helpers import IDS, now, published

pytestmark = pytest.mark.stack
SOURCES = [t.name for t in CATALOGUE if t is not DEAD_LETTER]
POISON_KEY = f"poison-{uuid.uuid4().hex}".encode()  # this module's letters, not other tests'


@functools.cache
def poisons() -> dict[str, bytes | None]:
    liked = default_codec().encode(
        ev.PostLiked(event_id=1, occurred_at=now(), actor_id=2, post_id=3, author_id=4)
    )
    return {
        "null": None,
        "empty": b"",
        "garbage": b"\x00\x01 not avro at all",
        "wrong_fingerprint": MAGIC + b"\x01" * 8 + liked[HEADER_LEN:],
        "corrupt_body": liked[:HEADER_LEN] + b"\xff\xff\xff",
    }


def produce_everywhere(settings: Settings) -> dict[tuple[str, int, int], str]:
    """Each poison on every partition of every source topic; (topic, partition, offset) -> name."""
    producer = Producer(producer_config(settings.bootstrap))
    where: dict[tuple[str, int, int], str] = {}

    def delivered(name: str) -> Any:
        def report(err: Any, msg: Any) -> None:
            assert err is None, err
            where[(msg.topic(), msg.partition(), msg.offset())] = name

        return report

    for topic, count in partitions_of(settings.bootstrap, SOURCES).items():
        for partition in range(count):
            for name, value in poisons().items():
                producer.produce(
                    topic, value=value, key=POISON_KEY, partition=partition,
                    on_delivery=delivered(name),
                )  # fmt: skip
    assert producer.flush(30) == 0
    return where


def letters(settings: Settings) -> list[DeadLetter]:
    return list(read_letters(settings.bootstrap))


async def post_json(api: httpx.AsyncClient, post_id: int, token: str) -> Any:
    r = await api.get(f"/posts/{post_id}", headers=bearer(token))
    return r.json() if r.status_code == 200 else None


async def test_poison_on_every_partition_is_dead_lettered_and_later_events_project_once(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings
) -> None:
    sent = produce_everywhere(settings)
    # ordinary work behind the poison, on every topic: accounts, a follow, a post, a like
    author, _ = await register(api)
    _, fan_token = await register(api)
    assert (await api.post(f"/follow/{author}", headers=bearer(fan_token))).status_code == 204
    post = published(author, "after the poison")
    await event_log.append(post)
    await eventually(lambda: post_json(api, post.post_id, fan_token), timeout_s=30)
    assert (await api.post(f"/likes/{post.post_id}", headers=bearer(fan_token))).status_code == 204

    seen = await eventually(
        lambda: post_json(api, post.post_id, fan_token),
        lambda p: p is not None and p["like_count"] == 1 and p["liked_by_viewer"],
        timeout_s=30,
    )
    assert seen["like_count"] == 1  # applied once
    profile = await eventually(
        lambda: _profile(api, author), lambda p: p["follower_count"] == 1, timeout_s=30
    )  # the follow is on another topic than the like: no order between them
    assert profile["follower_count"] == 1

    def projection_letters() -> dict[tuple[str, int, int], DeadLetter]:
        return {
            (d.source_topic, d.source_partition, d.source_offset): d
            for d in letters(settings)
            if d.agent.startswith("project_")
        }

    found = await eventually(
        lambda: _async(projection_letters), lambda got: set(sent) <= set(got), timeout_s=30
    )
    for where, name in sent.items():
        letter = found[where]
        assert (letter.reason, letter.stage, letter.error_class) == (
            "bad_input", "decode", "DecodeError"
        ), name  # fmt: skip
        assert letter.agent == f"project_{where[0].replace('.', '_')}"
        assert letter.value == poisons()[name]  # the original bytes, a null kept null
    media = [d for d in letters(settings) if d.agent == "media_process_uploads"]
    assert {(d.source_partition, d.source_offset) for d in media} >= {
        (p, o) for (t, p, o) in sent if t == "photofeed.photos"
    }


async def _profile(api: httpx.AsyncClient, user: str) -> dict[str, Any]:
    return dict((await api.get(f"/users/{user}")).json())


async def _async(fn: Any) -> Any:
    return fn()


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**settings.to_env(), "PHOTOFEED_LOG_JSON": "false", "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "photofeed", "deadletters", *args],
        env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def test_an_unopenable_comment_is_dead_lettered_then_redriven_once_its_key_is_back(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings, redis: Redis
) -> None:
    author, author_token = await register(api)
    commenter, _ = await register(api)
    post = published(author, "sealed comments")
    await event_log.append(post)
    await eventually(lambda: post_json(api, post.post_id, author_token), lambda p: p is not None)

    # the commenter's data key is lost (e.g. a Valkey without its last write)...
    stored = await redis.hget(KEYS, commenter)
    assert isinstance(stored, bytes)
    key = stored
    assert len(key) == 32
    await redis.hdel(KEYS, commenter)
    sealed = ev.CommentAdded(
        event_id=IDS.next_id(), occurred_at=now(), actor_id=int(commenter),
        comment_id=IDS.next_id(), post_id=post.post_id, author_id=int(author),
        text=seal(key, int(commenter), "lost words"),
    )  # fmt: skip
    plain = ev.CommentAdded(
        event_id=IDS.next_id(), occurred_at=now(), actor_id=int(author), comment_id=IDS.next_id(),
        post_id=post.post_id, author_id=int(author), text="the author's own",
    )  # fmt: skip
    await event_log.append(sealed, plain)  # same post: same partition, poison first

    async def comments() -> list[dict[str, Any]]:
        r = await api.get(f"/posts/{post.post_id}/comments", headers=bearer(author_token))
        body: list[dict[str, Any]] = r.json()["comments"]
        return body

    assert [c["text"] for c in await eventually(comments)] == ["the author's own"]

    def unreadable() -> list[DeadLetter]:
        return [
            d for d in letters(settings)
            if d.error_class == "Unreadable" and d.source_topic == ENGAGEMENT.name
            and getattr(default_codec().decode(d.value), "comment_id", 0) == sealed.comment_id
        ]  # fmt: skip

    [dead] = await eventually(lambda: _async(unreadable))
    assert (dead.stage, dead.reason) == ("project", "bad_input")
    shown = cli(settings, "show", str(dead.id))
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout)["event"]["comment_id"] == str(sealed.comment_id)

    listing = cli(settings, "list", "--topic", ENGAGEMENT.name)
    assert listing.returncode == 0, listing.stderr
    assert "Unreadable" in listing.stdout

    # ...restored from the backup; the operator redrives the letter
    await redis.hset(KEYS, commenter, key)
    assert new_key() != key
    redriven = cli(settings, "redrive", str(dead.id))
    assert redriven.returncode == 0, redriven.stdout + redriven.stderr
    texts = await eventually(comments, lambda cs: len(cs) == 2)
    assert sorted(c["text"] for c in texts) == ["lost words", "the author's own"]
    again = cli(settings, "redrive", str(dead.id))
    assert again.returncode == 1  # resolved letters are never sent twice
    assert "redriven" in cli(settings, "list", "--all").stdout
    assert str(dead.id) not in _ids(cli(settings, "list").stdout)
    post_view = await post_json(api, post.post_id, author_token)
    assert post_view["comment_count"] == 2


def _ids(table: str) -> set[str]:
    return {line.split("│")[1].strip() for line in table.splitlines() if line.count("│") > 2}


async def test_an_upload_the_media_agent_fails_on_ends_rejected_and_is_dead_lettered(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings
) -> None:
    owner, token = await register(api)
    photo = IDS.next_id()
    forged = ev.PhotoUploaded(  # an object key S3 refuses: the media step raises on this event
        event_id=IDS.next_id(), occurred_at=now(), actor_id=int(owner), photo_id=photo,
        object_key="", content_type="image/jpeg", size_bytes=10, caption="", tags=(),
    )  # fmt: skip
    await event_log.append(forged)

    async def status() -> dict[str, Any]:
        r = await api.get(f"/photos/{photo}/status", headers=bearer(token))
        return dict(r.json()) if r.status_code == 200 else {}

    final = await eventually(status, lambda s: s.get("status") == "rejected", timeout_s=30)
    assert final["reason_code"] == "processing_failed"  # shown to the owner, not `processing`
    media = [
        d for d in letters(settings)
        if d.agent == "media_process_uploads" and d.stage == "media" and d.value is not None
        and getattr(default_codec().decode(d.value), "photo_id", 0) == photo
    ]  # fmt: skip
    assert len(media) == 1
    assert media[0].reason == "bad_input"


async def test_the_worker_serves_its_agents_health_and_dead_letter_metrics(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    base = f"http://{settings.host}:{settings.worker_port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as worker:
        health = await eventually(lambda: worker.get("/healthz"), lambda r: r.status_code == 200)
        agents = health.json()["agents"]
        assert agents["project_photofeed_engagement"]["state"] == "running"
        assert {"media_process_uploads", "project_photofeed_users"} <= set(agents)
        metrics = (await worker.get("/metrics")).text
        assert "photofeed_agent_running" in metrics
        assert "photofeed_consumer_lag" in metrics
