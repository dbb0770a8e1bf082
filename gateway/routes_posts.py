"""Home feed, profile grid and single posts.

With every read group in Valkey each of these is ONE server-side call (projections/pages/pages.lua
through projections/pages/redis.py) that also checks the caller's session and returns the page's
JSON from post cards kept ready by the projection: the route adds the cursor and sends bytes.
Otherwise (Cassandra stores, or posts projected before cards existed) the page is assembled from
the per-group readers in a few pipelined round trips.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import check_pending_session, deps_of, require_user, session_in_call, viewer
from gateway.cursors import decode_cursor, encode_cursor
from gateway.deps import GatewayDeps
from gateway.errors import ApiError, not_found
from gateway.page_calls import page_response, served, session_keys
from gateway.responses import json_response, no_content, rfc3339
from gateway.routes_accounts import append_or_503, user_json
from gateway.validation import limit_param, path_id
from projections.engagement.ports import PostStats
from projections.feeds.cards import with_url_base
from projections.feeds.ports import PostView
from projections.feeds.query import read_feed, rebuild_feed
from projections.ports import Position
from schemas import events as ev

NO_ENGAGEMENT = PostStats(0, 0, False)


async def live_post(deps: GatewayDeps, post_id: int) -> PostView:
    """The post, or 404 when it is unknown or deleted."""
    post = (await (await deps.feeds()).posts([post_id])).get(post_id)
    if post is None:
        raise not_found("post")
    return post


@session_in_call
async def home_feed(request: Request) -> Response:
    deps = deps_of(request)
    me = require_user(request)
    limit = limit_param(request)
    after = decode_cursor(request.query_params.get("cursor"))
    pages = await deps.pages()
    session = session_keys(request)
    if pages is not None and session is not None:
        reply = await pages.feed(me, session, limit, after)
        if served(request, reply):
            if reply.missing:
                deps.in_background(_rebuild(deps, me))  # served by pull meanwhile
            return page_response(deps, "posts", reply.posts, encode_cursor(reply.next))
    await check_pending_session(request)
    graph = await deps.graph()
    following = {e.user_id for e in (await graph.following(me, 100_000, None)).items}
    feeds = await deps.feeds()
    page = await read_feed(feeds, me, following, limit, after)
    if page.missing and following:
        deps.in_background(rebuild_feed(feeds, feeds, me, following))  # served by pull meanwhile
    return await _posts_page(deps, page.posts, page.next, me)


async def _rebuild(deps: GatewayDeps, me: int) -> None:
    """Build a missing pushed feed (new user, evicted) from the followed authors' timelines."""
    edges = await (await deps.graph()).following(me, 100_000, None)
    following = {e.user_id for e in edges.items}
    if following:
        feeds = await deps.feeds()
        await rebuild_feed(feeds, feeds, me, following)


@session_in_call
async def profile_grid(request: Request) -> Response:
    deps = deps_of(request)
    author = path_id(request, "user_id", "user")
    limit = limit_param(request)
    after = decode_cursor(request.query_params.get("cursor"))
    me = viewer(request)
    pages = await deps.pages()
    if pages is not None:
        reply = await pages.grid(author, me, session_keys(request), limit, after)
        if served(request, reply):
            if reply.status == "none":
                raise not_found("user")
            return page_response(deps, "posts", reply.posts, encode_cursor(reply.next))
    await check_pending_session(request)
    if author not in await (await deps.graph()).users([author]):
        raise not_found("user")
    feeds = await deps.feeds()
    rows = await feeds.timeline_page(author, limit + 1, after)
    posts = await feeds.posts([p for p, _ in rows[:limit]])
    page = [posts[p] for p, _ in rows[:limit] if p in posts]
    more = len(rows) > limit
    nxt = Position(rows[limit - 1][1], rows[limit - 1][0]) if more else None
    return await _posts_page(deps, page, nxt, me)


@session_in_call
async def get_post(request: Request) -> Response:
    deps = deps_of(request)
    post_id = path_id(request, "post_id", "post")
    pages = await deps.pages()
    if pages is not None:
        reply = await pages.post(post_id, viewer(request), session_keys(request))
        if served(request, reply):
            if reply.status == "none":
                raise not_found("post")
            body = with_url_base(reply.posts, deps.url_base)
            return Response(body, media_type="application/json")
    await check_pending_session(request)
    post = await live_post(deps, post_id)
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
