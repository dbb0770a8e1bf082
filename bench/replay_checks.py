"""After a replay in the bench: does the rebuilt group show what the generated log implies?

A sample per group, read through the same adapters the gateway reads with, so a fast replay that
wrote the wrong thing fails the bench instead of printing a figure.
"""

from __future__ import annotations

import random

from bench.replay_log import LogTruth, tag_of
from infra.settings import Settings
from photofeed.stores import make_stores
from projections.groups import Group
from projections.photos.redis import RedisPhotos
from projections.search.logic import SearchQuery
from projections.search.ports import SearchIndex
from projections.versions.redis import RedisVersions

SAMPLE = 300  # posts or users checked per group
SEED = 7


async def check_group(settings: Settings, group: Group, truth: LogTruth) -> None:
    """Raise RuntimeError naming what differs from `truth` in the active version of `group`."""
    stores = make_stores(settings)
    try:
        version = await RedisVersions(stores.redis).active(group)
        rng = random.Random(SEED)
        live = sorted(set(truth.authors) - truth.deleted_posts)
        posts = rng.sample(live, min(SAMPLE, len(live)))
        wrong: list[object] = []
        if group == Group.GRAPH:
            users = rng.sample(sorted(truth.followers), min(SAMPLE, len(truth.followers)))
            counts = await stores.graph_at(version).counts(users)
            wrong = [u for u in users if counts[u].followers != truth.followers[u]]
        elif group == Group.PHOTOS:
            photos = RedisPhotos(stores.redis, version)
            wrong = [p for p in posts if (v := await photos.photo(p)) is None
                     or (v.status, v.post_id) != ("published", p)]  # fmt: skip
        elif group == Group.FEEDS:
            found = await stores.feeds_at(version).posts(posts)
            wrong = [p for p in posts if p not in found or found[p].author_id != truth.authors[p]]
        elif group == Group.ENGAGEMENT:
            stats = await stores.engagement_at(version).stats(posts, None)
            got = {p: (s.likes, s.comments) for p, s in stats.items()}
            wrong = [p for p in posts if got[p] != (truth.likes[p], truth.comments[p])]
        elif group == Group.SEARCH:
            wrong = await _search_differences(stores.search.at(version), truth, rng)
        if wrong:
            raise RuntimeError(f"replay {group}: {len(wrong)} of the sample differ: {wrong[:5]}")
    finally:
        await stores.redis.aclose()


async def _search_differences(
    index: SearchIndex, truth: LogTruth, rng: random.Random
) -> list[object]:
    """A tag's live posts and a username prefix's users, compared with the log's."""
    tag = tag_of(rng.choice(sorted(truth.authors)))
    want = {p for p in set(truth.authors) - truth.deleted_posts if tag_of(p) == tag}
    hits = await index.posts(SearchQuery(tags=(tag,)), len(want) + 10, None)
    users = await index.users("user1", len(truth.usernames), None)
    named = {u for u, name in truth.usernames.items() if name.startswith("user1")}
    wrong: list[object] = []
    if {h.post_id for h in hits} != want:
        wrong.append(f"#{tag}: {len(hits)} hits, {len(want)} posts")
    if {u for u, _ in users} != named:
        wrong.append(f"@user1: {len(users)} users, {len(named)} expected")
    return wrong
