"""Erasure leaves nothing behind: once every receipt is in, no file under the data dir — Valkey's
append-only file and snapshot, the search database and its WAL, SeaweedFS's volumes and filer
store, the processes' logs — holds a byte of what the user wrote or of their data key; and an
upload of an erased owner that reaches the media agent afterwards publishes nothing.

The canaries are single tokens ending in a digit, so the search index stores each one whole
(the stemmer leaves it alone) and a scan for the whole string also finds the index's copy.
Valkey compresses strings in its RDB files (the AOF's base), where a scan of the bytes could miss
one; so the test also reads Valkey's whole dataset: the base is a copy of it, the incremental AOF
is plain text, and the scan sees every file that is neither.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from gateway.uploads import RedisUploadStore, UploadSession
from infra.kafka import KafkaEventLog
from infra.keystore import ErasedUser, RedisKeyStore
from infra.sealed_log import SealingLog
from infra.settings import Settings
from infra.topics import PHOTOS, POSTS
from photofeed.bootstrap import erasure_workflow, s3_store
from photofeed.stores import make_stores
from replay.reader import LogReader
from schemas import events as ev
from schemas.codec import default_codec
from schemas.media import VARIANTS, original_key, variant_key
from streams.erasure import STEPS, ErasureStatus
from tests import samples
from tests.e2e.test_photos_api import final_status
from tests.fixtures import bearer, eventually, register
from tests.integration.helpers import IDS, now, published

pytestmark = pytest.mark.stack
ERASURE_TIMEOUT_S = 90.0  # every step on the test stack takes well under a second
DATASET_BATCH = 500  # keys read per pipeline when reading Valkey's whole dataset
IN_VALKEY = ("username", "caption", "open caption", "open alt text", "location", "comment",
             "data key")  # fmt: skip


def canary() -> str:
    """A unique marker, 27 characters (it fits a username): letters and digits only."""
    return f"canary{uuid.uuid4().hex[:20]}0"


def marked_jpeg(marker: str) -> bytes:
    """A photo-like JPEG whose COM segment carries `marker` (the original keeps it; the variants,
    stripped of all metadata, do not), unique bytes so no other photo shares its variants."""
    out = io.BytesIO()
    samples.scene(640, 480, seed=random.randrange(1 << 30)).save(
        out, "JPEG", quality=90, comment=marker.encode()
    )
    return out.getvalue()


def holding(root: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """For each needle, the files under `root` whose bytes contain it."""
    found: dict[str, list[str]] = {name: [] for name in needles}
    for path in sorted(root.rglob("*")):
        try:
            data = path.read_bytes() if path.is_file() else b""
        except FileNotFoundError:  # a temporary file that went while we looked
            continue
        for name, needle in needles.items():
            if needle in data:
                found[name].append(str(path.relative_to(root)))
    return found


async def valkey_dataset(redis: Redis) -> bytes:
    """Every key and value in Valkey, as one blob (what an RDB file would hold, uncompressed)."""
    blob = bytearray()
    keys = [k async for k in redis.scan_iter(count=1000)]
    for start in range(0, len(keys), DATASET_BATCH):
        batch = keys[start : start + DATASET_BATCH]
        async with redis.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.type(key)
            kinds = await pipe.execute()
        async with redis.pipeline(transaction=False) as pipe:
            for key, kind in zip(batch, kinds, strict=True):
                READ[kind.decode() if isinstance(kind, bytes) else kind](pipe, key)
            values = await pipe.execute()
        for key, value in zip(batch, values, strict=True):
            blob += key + b"\0" + b"\0".join(_flat(value)) + b"\n"
    return bytes(blob)


READ: dict[str, Any] = {
    "string": lambda p, k: p.get(k), "hash": lambda p, k: p.hgetall(k),
    "set": lambda p, k: p.smembers(k), "zset": lambda p, k: p.zrange(k, 0, -1),
    "list": lambda p, k: p.lrange(k, 0, -1), "stream": lambda p, k: p.xrange(k),
    "none": lambda p, k: p.exists(k),  # expired between SCAN and TYPE
}  # fmt: skip


def _flat(value: Any) -> list[bytes]:
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, dict):
        return [b for pair in value.items() for part in pair for b in _flat(part)]
    if isinstance(value, list | set | tuple):
        return [b for item in value for b in _flat(item)]
    return [str(value).encode()]


async def ok(api: httpx.AsyncClient, method: str, path: str, token: str, **kw: Any) -> Any:
    r = await api.request(method, path, headers=bearer(token), **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


async def presigned_upload(api: httpx.AsyncClient, token: str, data: bytes, **body: Any) -> str:
    """Ask for an upload, PUT the bytes and complete it; the photo id."""
    ask = {"filename": "p.jpg", "content_type": "image/jpeg", "size_bytes": len(data), **body}
    ticket = await ok(api, "POST", "/photos", token, json=ask)
    async with httpx.AsyncClient() as s3:
        put = await s3.put(ticket["upload_url"], content=data, headers=ticket["upload_headers"])
        assert put.status_code == 200, put.text
    await ok(api, "POST", f"/photos/{ticket['photo_id']}/complete", token)
    photo_id: str = ticket["photo_id"]
    return photo_id


async def erased(
    settings: Settings, user: str, token: str, api: httpx.AsyncClient
) -> ErasureStatus:
    """Ask for the user's erasure and wait for every receipt."""
    confirmed = {"password": "correct horse"}  # tests.fixtures.register's
    r = await api.request("DELETE", "/users/me", headers=bearer(token), json=confirmed)
    assert r.status_code == 202, r.text
    stores = make_stores(settings)
    try:
        flow = erasure_workflow(settings, stores)
        return await eventually(lambda: flow.status(int(user)), lambda s: s.complete,
                                timeout_s=ERASURE_TIMEOUT_S)  # fmt: skip
    finally:
        await stores.redis.aclose()


async def test_an_erased_account_leaves_no_byte_of_it_in_any_file(
    api: httpx.AsyncClient, event_log: KafkaEventLog, redis: Redis, settings: Settings
) -> None:
    c = {what: canary() for what in ("username", "caption", "marker", "open caption",
                                     "open alt text", "comment")}  # fmt: skip
    victim, token = await register(api, c["username"])
    friend, _ = await register(api)
    # a published photo with a canary caption, its original marked inside its bytes
    photo = await presigned_upload(api, token, marked_jpeg(c["marker"]), caption=c["caption"])
    assert (await final_status(api, token, photo))["status"] == "published"
    # an upload session never completed: caption, alt text and location in plain text
    lat = round(random.uniform(-80, 80), 9)
    await ok(api, "POST", "/photos", token, json={
        "filename": "q.jpg", "content_type": "image/jpeg", "size_bytes": 1000,
        "caption": c["open caption"], "alt_text": c["open alt text"],
        "location": {"lat": lat, "lon": 4.5}})  # fmt: skip
    # a comment on a friend's post
    theirs = published(friend, "the friend's post")
    await SealingLog(event_log, RedisKeyStore(redis)).append(theirs)
    await eventually(lambda: api.get(f"/posts/{theirs.post_id}"), lambda r: r.status_code == 200)
    await ok(api, "POST", f"/posts/{theirs.post_id}/comments", token, json={"text": c["comment"]})
    await eventually(lambda: api.get(f"/posts/{theirs.post_id}"),
                     lambda r: r.json()["comment_count"] == 1)  # fmt: skip
    await eventually(lambda: ok(api, "GET", "/search", token, params={"q": c["caption"]}),
                     lambda body: len(body["posts"]) == 1)  # fmt: skip
    key = (await RedisKeyStore(redis).keys([int(victim)]))[int(victim)]
    needles = {**{what: text.encode() for what, text in c.items()},
               "location": repr(lat).encode(), "data key": key}  # fmt: skip

    # the scan sees them all now: in Valkey's AOF, the search files, a SeaweedFS volume
    before = await eventually(lambda: asyncio.to_thread(holding, settings.data_dir, needles),
                              lambda found: all(found.values()))  # fmt: skip
    assert any(p.startswith("valkey/") for p in before["data key"]), before
    assert any(p.startswith("search/") for p in before["caption"]), before
    assert any(p.startswith("seaweedfs/") for p in before["marker"]), before
    dataset = await valkey_dataset(redis)
    assert [what for what in IN_VALKEY if needles[what] not in dataset] == []

    done = await erased(settings, victim, token, api)
    assert done.receipts["cassandra"].startswith("skipped")
    assert all(done.receipts[s].startswith("done") for s in STEPS if s != "cassandra"), done
    assert done.receipts["uploads"].endswith(": 2 sessions deleted")  # the open one, the photo's
    left = await asyncio.to_thread(holding, settings.data_dir, needles)
    assert left == {name: [] for name in needles}, left
    dataset = await valkey_dataset(redis)
    assert [what for what, needle in needles.items() if needle in dataset] == []


async def test_an_upload_of_an_erased_owner_publishes_nothing(
    api: httpx.AsyncClient, event_log: KafkaEventLog, redis: Redis, settings: Settings
) -> None:
    owner, token = await register(api)
    await erased(settings, owner, token, api)
    # a session written after the erasure (a token still valid) is refused and leaves nothing
    uploads, late = RedisUploadStore(redis), IDS.next_id()
    session = UploadSession(late, int(owner), original_key(int(owner), late), "image/jpeg", 10,
                            "late", (), None, None)  # fmt: skip
    with pytest.raises(ErasedUser):
        await uploads.create(session, 60)
    assert await uploads.get(late) is None
    # an upload that reached the log before the erasure, processed only now
    data = marked_jpeg(canary())
    sha, photo = hashlib.sha256(data).hexdigest(), IDS.next_id()
    store = s3_store(settings)
    key = original_key(int(owner), photo)
    await store.put(key, data, len(data), "image/jpeg")
    await event_log.append(ev.PhotoUploaded(
        event_id=IDS.next_id(), occurred_at=now(), actor_id=int(owner), photo_id=photo,
        object_key=key, content_type="image/jpeg", size_bytes=len(data), caption="", tags=(),
    ))  # fmt: skip

    def outcomes(topic: str) -> list[ev.Event]:
        codec = default_codec()
        return [e for batch in LogReader(settings.bootstrap, [topic]).batches() for r in batch
                if getattr(e := codec.decode(r.value), "photo_id", None) == photo
                and not isinstance(e, ev.PhotoUploaded)]  # fmt: skip

    handled = await eventually(lambda: asyncio.to_thread(outcomes, PHOTOS.name), timeout_s=30)
    assert [(type(e), getattr(e, "reason_code", "")) for e in handled] == [
        (ev.PhotoRejected, "owner_erased")
    ]
    assert await asyncio.to_thread(outcomes, POSTS.name) == []
    assert [await store.stat(variant_key(sha, name)) for name in VARIANTS] == [None] * 3
    assert (await api.get(f"/posts/{photo}")).status_code == 404
    await store.delete(key)
