"""Like -> visible, through the real gateway and worker (bench/bench_worker.py's first figure).

A small world is appended to the log and projected by the worker: AUTHORS authors with POSTS
posts, and LIKES / LIKES_PER_VIEWER viewers with accounts and tokens (bench/loadgen_reads.py
`sign_in`). Then LIKES likes go out open loop: like i is due at start + i / RATE, whatever became
of the earlier ones, as `POST /api/v1/likes/{post}` with its viewer's token. Once the POST is
answered, the like is read back with `GET /api/v1/posts/{post}` as its viewer, every POLL_S (every
SLOW_POLL_S once it is SLOW_AFTER_S late), until the answer says `liked_by_viewer: true` with a
`like_count` that includes it. Its latency runs from its due moment to the end of that answer, so
queueing here, the POST, the append, the worker's fetch wait and its batch all count. The
`Photofeed-Position` the POST answers is not sent back: the figure is the projection's freshness,
not read-your-writes' wait.

Likes go round the posts (like i is on post i % POSTS), so one post gets a like every POSTS / RATE
seconds and the k-th like of a post is visible only once `like_count >= k`. Consecutive likes
share a viewer (LIKES_PER_VIEWER distinct posts each), so every (viewer, post) pair is new.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import uvloop

from bench.loadgen_reads import sign_in
from bench.loadgen_seed import World, project
from infra.kafka import KafkaEventLog
from infra.settings import Settings
from schemas import events as ev
from schemas.ids import SnowflakeGenerator

API = "/api/v1"
RATE = 100.0  # likes/s, steady (issue 15)
LIKES = 1200  # >= 1,000 (issue 15): 12 s at RATE
POSTS = 100  # likes go round them: a post gets one like every POSTS / RATE = 1 s
AUTHORS = 10
LIKES_PER_VIEWER = 4  # distinct posts per viewer (< POSTS); << like_rate_per_minute
LONE_LIKES = 10  # after the steady run, one at a time ...
LONE_SPACING_S = 1.5  # ... this far apart: > the worker's fetch_idle_after_s (1 s by default)
POLL_S = 0.005  # a pending like is read again this long after an answer without it ...
SLOW_POLL_S = 0.025  # ... until it is SLOW_AFTER_S late, then this often: under overload the
SLOW_AFTER_S = 0.1  # reads must not add load (>> the 50 ms bound: the verdict stays exact)
VISIBLE_TIMEOUT_S = 10.0  # a like not visible this long after it was due is an error
CONNECTIONS = 48  # keep-alive connections to the gateway, opened before the clock starts
SEED_WORKER_ID = 903  # snowflake worker of the seeded events (distinct from other benches')
VARIANTS = ev.Variants("v/bench/thumbnail.jpg", "v/bench/feed.jpg", "v/bench/full.jpg")


@dataclass(slots=True)
class Likes:
    """What the run measured: latencies (s) of the likes that became visible, and failures."""

    latencies_s: list[float] = field(default_factory=list)
    post_s: list[float] = field(default_factory=list)  # due -> the POST's answer
    errors: dict[str, int] = field(default_factory=dict)  # reason -> count
    reads: int = 0  # GET /posts/{id} sent
    schedule_lag_s: list[float] = field(default_factory=list)  # due -> the POST left

    def fail(self, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1

    def percentile_ms(self, values: list[float], q: float) -> float:
        ranked = sorted(values)
        return 1000 * ranked[min(len(ranked) - 1, int(len(ranked) * q / 100))] if ranked else 0.0


def seed(settings: Settings, log: KafkaEventLog) -> tuple[World, list[int]]:
    """Authors, posts and viewers appended and projected by the running worker; (the world for
    `sign_in`, the post ids)."""
    ids = SnowflakeGenerator(SEED_WORKER_ID)
    now = datetime.now(tz=UTC)
    users: list[ev.Event] = []

    def user(name: str) -> int:
        uid = ids.next_id()
        users.append(ev.UserRegistered(event_id=ids.next_id(), occurred_at=now, actor_id=uid,
                                       username=name))  # fmt: skip
        return uid

    authors = [user(f"like_author{i}") for i in range(AUTHORS)]
    count = math.ceil((LIKES + LONE_LIKES) / LIKES_PER_VIEWER)
    viewers = [user(f"like_viewer{i}") for i in range(count)]
    posts: list[ev.PostPublished] = []
    for i in range(POSTS):
        post = ids.next_id()
        posts.append(ev.PostPublished(
            event_id=ids.next_id(), occurred_at=now, actor_id=authors[i % AUTHORS], post_id=post,
            photo_id=post, caption=f"like bench {i}", tags=(), variants=VARIANTS, width=1080,
            height=1350, blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj"))  # fmt: skip
    project(settings, log, users)
    project(settings, log, [*posts])
    return World(cohorts=[viewers], heavy=viewers[0]), [p.post_id for p in posts]


class _Conn:
    """One keep-alive HTTP/1.1 connection; answers without a body or with Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def call(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(lines[0].split()[1]), await self.reader.readexactly(length)


class _Pool:
    """Keep-alive connections used in turn (FIFO: none idles into the server's keep-alive
    timeout while others work)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.free: asyncio.Queue[_Conn] = asyncio.Queue()

    async def _connect(self) -> _Conn:
        return _Conn(*await asyncio.open_connection("127.0.0.1", self.port))

    async def open(self, count: int) -> None:
        for _ in range(count):
            self.free.put_nowait(await self._connect())

    async def call(self, request: bytes) -> tuple[int, bytes]:
        """(status, body); status 0: no answer. A connection the server closed is replaced and
        the request sent once more on the new one (likes and reads are idempotent)."""
        conn = await self.free.get()
        try:
            for _ in range(2):
                try:
                    return await conn.call(request)
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    conn.writer.close()
                    conn = await self._connect()  # refused: the gateway is gone, the run ends
            return 0, b""
        finally:
            self.free.put_nowait(conn)

    def close(self) -> None:
        while not self.free.empty():
            self.free.get_nowait().writer.close()


def _request(method: str, path: str, token: str) -> bytes:
    length = "Content-Length: 0\r\n" if method == "POST" else ""
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n{length}\r\n").encode("ascii")  # fmt: skip


async def _one(pool: _Pool, out: Likes, due: float, post: int, token: str, rank: int) -> None:
    """Like `post` at `due` (loop time), then read it back until the like shows."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, due - loop.time()))
    out.schedule_lag_s.append(loop.time() - due)
    status, _ = await pool.call(_request("POST", f"{API}/likes/{post}", token))
    if status != 204:
        return out.fail(f"like_status_{status}")
    out.post_s.append(loop.time() - due)
    read = _request("GET", f"{API}/posts/{post}", token)
    while True:
        status, body = await pool.call(read)
        out.reads += 1
        if status != 200:
            return out.fail(f"read_status_{status}")
        page = orjson.loads(body)
        if page["liked_by_viewer"] is True and page["like_count"] >= rank:
            out.latencies_s.append(loop.time() - due)
            return None
        if loop.time() - due > VISIBLE_TIMEOUT_S:
            return out.fail("not_visible")
        await asyncio.sleep(POLL_S if loop.time() - due < SLOW_AFTER_S else SLOW_POLL_S)


async def _measure(settings: Settings, viewers: list[int], posts: list[int],
                   tokens: dict[int, str], likes: range, interval_s: float) -> Likes:  # fmt: skip
    """Like i of `likes` (the n-th) is due `interval_s` * (n + 1) from now."""
    pool, out = _Pool(settings.gateway_port), Likes()
    await pool.open(CONNECTIONS)
    try:
        start = asyncio.get_running_loop().time() + interval_s
        await asyncio.gather(*(
            _one(pool, out, start + n * interval_s, posts[i % POSTS],
                 tokens[viewers[i // LIKES_PER_VIEWER]], i // POSTS + 1)
            for n, i in enumerate(likes)
        ))  # fmt: skip
    finally:
        pool.close()
    return out


def tokens(settings: Settings, world: World) -> dict[int, str]:
    """Accounts and a token for every viewer (Valkey only: before the gateway starts)."""
    return asyncio.run(sign_in(settings, world))


def measure(
    settings: Settings, world: World, posts: list[int], tokens: dict[int, str], likes: int = LIKES
) -> Likes:
    """The open-loop run of the first `likes` (<= LIKES) likes at RATE, gateway running."""
    return uvloop.run(_measure(settings, world.viewers, posts, tokens, range(likes), 1 / RATE))


def measure_lone(
    settings: Settings, world: World, posts: list[int], tokens: dict[int, str]
) -> Likes:
    """LONE_LIKES likes LONE_SPACING_S apart, each after a quiet spell (the worker's fetch wait
    is its idle one by then); after `measure` of all LIKES (their ranks count those)."""
    lone = range(LIKES, LIKES + LONE_LIKES)
    return uvloop.run(_measure(settings, world.viewers, posts, tokens, lone, LONE_SPACING_S))
