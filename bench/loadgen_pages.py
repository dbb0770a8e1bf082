"""The requests of the read benchmarks, built before any clock starts.

Cursor chains are walked once through the real gateway (a cursor is a position, so a cohort's
chain serves each of its members, and posts arriving later do not invalidate it); every answer it
gives is kept, and the pages the bare baseline serves are real gateway answers for the same
paths (the median-sized one where many requests share a path). Each request is pre-built bytes
with its viewer's token: tokens rotate from request to request.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import orjson
from redis.asyncio import Redis

from bench.framework_apps import BARE_PAGE_PREFIX
from bench.loadgen import Target, request_bytes
from bench.loadgen_seed import FEED_PAGES, PAGE, World

API = "/api/v1"
FEED = f"{API}/feed?limit={PAGE}"
DEEP_FROM = 41  # pages DEEP_FROM..FEED_PAGES are the deep scroll
# the feed mix, as (tag, share): page 1 of any viewer, pages 2..DEEP_FROM-1, the deep pages, and
# every page of the heavy viewer; shares >= 0.15 leave >= 1,500 samples per tag in 10,000 requests
FEED_MIX = (("page1", 0.25), ("mid", 0.35), ("deep", 0.25), ("heavy", 0.15))


class GatewayRefused(RuntimeError):
    """The gateway did not answer 200 while the requests were being prepared."""


@dataclass(slots=True)
class Pages:
    """Answers the gateway gave, by request path (query included)."""

    bodies: dict[str, list[bytes]] = field(default_factory=dict)

    def add(self, path: str, body: bytes) -> None:
        self.bodies.setdefault(path, []).append(body)

    def sizes(self, prefix: str) -> list[int]:
        return [len(b) for p, bodies in self.bodies.items() if p.startswith(prefix) for b in bodies]

    async def store_bare(self, redis: Redis) -> None:
        """Under each path without its query: the median-sized answer of its requests."""
        by_path: dict[str, list[bytes]] = {}
        for path, bodies in self.bodies.items():
            by_path.setdefault(path.split("?", 1)[0], []).extend(bodies)
        async with redis.pipeline(transaction=False) as pipe:
            for path, bodies in by_path.items():
                bodies.sort(key=len)
                pipe.set(BARE_PAGE_PREFIX + path, bodies[len(bodies) // 2])
            await pipe.execute()


async def get(client: httpx.AsyncClient, pages: Pages, path: str, token: str) -> bytes:
    r = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    if r.status_code != 200:
        raise GatewayRefused(f"GET {path} -> {r.status_code} {r.text[:300]}")
    pages.add(path, r.content)
    return r.content


async def walk(
    client: httpx.AsyncClient, pages: Pages, first: str, token: str, count: int
) -> list[str]:
    """The paths of pages 1..count of a cursor-paginated list starting at `first`."""
    paths = [first]
    while True:
        cursor = orjson.loads(await get(client, pages, paths[-1], token)).get("next_cursor")
        if len(paths) == count:
            return paths
        if not cursor:
            raise GatewayRefused(f"{first}: no page {len(paths) + 1} (next_cursor is null)")
        paths.append(f"{first}&cursor={cursor}")


def _pick(rng: random.Random, items: Sequence[str], tokens: Sequence[str], tag: str) -> Target:
    return Target(request_bytes(rng.choice(items), rng.choice(tokens)), tag)


def feed_targets(
    world: World,
    tokens: dict[int, str],
    chains: list[list[str]],
    heavy: list[str],
    n: int,
    seed: int = 11,
) -> list[Target]:
    """`n` feed requests in FEED_MIX proportions, shuffled; chains[c] is cohort c's walk."""
    rng = random.Random(seed)
    out: list[Target] = []
    for tag, share in FEED_MIX:
        for _ in range(round(n * share)):
            if tag == "heavy":
                out.append(Target(request_bytes(rng.choice(heavy), tokens[world.heavy]), tag))
                continue
            c = rng.randrange(len(chains))
            page = {
                "page1": 1,
                "mid": rng.randint(2, DEEP_FROM - 1),
                "deep": rng.randint(DEEP_FROM, FEED_PAGES),
            }[tag]
            viewer = rng.choice(world.cohorts[c])
            out.append(Target(request_bytes(chains[c][page - 1], tokens[viewer]), tag))
    rng.shuffle(out)
    return out


def spread_targets(
    paths: Sequence[str], tokens: Sequence[str], tag: str, n: int, seed: int = 13
) -> list[Target]:
    """`n` requests of `paths` with random tokens of `tokens`."""
    rng = random.Random(seed)
    return [_pick(rng, paths, tokens, tag) for _ in range(n)]
