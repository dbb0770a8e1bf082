"""Home feed, profile grid and single posts, hydrated in a few pipelined round trips."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import deps_of, require_user, viewer
from gateway.cursors import decode_cursor, encode_cursor
from gateway.deps import GatewayDeps
from gateway.errors import ApiError, not_found
from gateway.responses import json_response, no_content, rfc3339
from gateway.routes_accounts import append_or_503, user_json
from gateway.validation import limit_param, path_id
from projections.feed_query import read_feed, rebuild_feed
from projections.ports import Position, PostStats, PostView
from schemas import events as ev

NO_ENGAGEMENT = PostStats(0, 0, False)


async def live_post(deps: GatewayDeps, post_id: int) -> PostView:
    """The post, or 404 when it is unknown or deleted."""
    post = (await (await deps.feeds()).posts([post_id])).get(post_id)
    if post is None:
        raise not_found("post")
    return post


async def home_feed(request: Request) -> Response:
    deps = deps_of(request)
    me = require_user(request)
    limit = limit_param(request)
    after = decode_cursor(request.query_params.get("cursor"))
    graph = await deps.graph()
    following = {e.user_id for e in (await graph.following(me, 100_000, None)).items}
    feeds = await deps.feeds()
    page = await read_feed(feeds, me, following, limit, after)
    if page.missing and following:
        deps.in_background(rebuild_feed(feeds, feeds, me, following))  # served by pull meanwhile
    return await _posts_page(deps, page.posts, page.next, me)


async def profile_grid(request: Request) -> Response:
    deps = deps_of(request)
    author = path_id(request, "user_id", "user")
    limit = limit_param(request)
    after = decode_cursor(request.query_params.get("cursor"))
    me = viewer(request)
    if author not in await (await deps.graph()).users([author]):
        raise not_found("user")
    feeds = await deps.feeds()
    rows = await feeds.timeline_page(author, limit + 1, after)
    posts = await feeds.posts([p for p, _ in rows[:limit]])
    page = [posts[p] for p, _ in rows[:limit] if p in posts]
    more = len(rows) > limit
    nxt = Position(rows[limit - 1][1], rows[limit - 1][0]) if more else None
    return await _posts_page(deps, page, nxt, me)


async def get_post(request: Request) -> Response:
    deps = deps_of(request)
    post = await live_post(deps, path_id(request, "post_id", "post"))
    return json_response((await hydrate(deps, [post], viewer(request)))[0])


async def delete_post(request: Request) -> Response:
    deps = deps_of(request)
    me = require_user(request)
    post = await live_post(deps, path_id(request, "post_id", "post"))
    if post.author_id != me:
        raise ApiError(403, "forbidden", "only the author can delete a post")
    await append_or_503(
        deps,
        ev.PostDeleted(
            event_id=deps.ids.next_id(),
            occurred_at=deps.now(),
            actor_id=me,
            post_id=post.post_id,
        ),
    )
    return no_content()


async def _posts_page(
    deps: GatewayDeps, posts: list[PostView], nxt: Position | None, me: int | None
) -> Response:
    return json_response(
        {"posts": await hydrate(deps, posts, me), "next_cursor": encode_cursor(nxt),
         "has_more": nxt is not None}
    )  # fmt: skip


async def hydrate(deps: GatewayDeps, posts: list[PostView], me: int | None) -> list[dict[str, Any]]:
    """Post objects for a page: authors, and counts with the viewer's likes, fetched
    concurrently in one pipelined round trip each."""
    graph, engagement = await deps.graph(), await deps.engagement()
    authors, stats = await asyncio.gather(
        graph.users(sorted({p.author_id for p in posts})),
        engagement.stats([p.post_id for p in posts], me),
    )
    out = []
    for p in posts:
        author = authors.get(p.author_id)
        counts = stats.get(p.post_id, NO_ENGAGEMENT)
        out.append(
            {
                "post_id": str(p.post_id),
                "user": user_json(author) if author else {"user_id": str(p.author_id)},
                "caption": p.caption,
                "tags": list(p.tags),
                "image_urls": {n: deps.store.public_url(k) for n, k in p.variants.items()},
                "width": p.width,
                "height": p.height,
                "blurhash": p.blurhash,
                "alt_text": p.alt_text,
                "like_count": counts.likes,
                "comment_count": counts.comments,
                "liked_by_viewer": counts.liked_by_viewer,
                "created_at": rfc3339(p.published_ms),
            }
        )
    return out
