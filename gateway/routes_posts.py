"""Home feed, profile grid, a tag's posts and single posts.

With every read group in Valkey each of these is ONE server-side call (projections/pages/pages.lua
through projections/pages/redis.py) that also checks the caller's session and returns the page's
JSON from post cards kept ready by the projection: the route adds the cursor and sends bytes.
Otherwise (Cassandra stores, or posts projected before cards existed) the page is assembled from
the per-group readers in a few pipelined round trips.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import check_pending_session, deps_of, require_user, session_in_call, viewer
from gateway.cursors import decode_cursor, encode_cursor
from gateway.deps import GatewayDeps
from gateway.errors import ApiError, invalid, not_found
from gateway.page_calls import page_response, served, session_keys
from gateway.paging import fetch_page
from gateway.privacy import hidden, require_post_visible, require_visible, visible_posts
from gateway.relations import relations_of
from gateway.responses import JsonBytes, json_response, no_content, page_json
from gateway.route_kit import append_or_503, live_post, posts_json
from gateway.validation import limit_param, path_id
from projections.feeds.cards import with_url_base
from projections.feeds.ports import PostReader, PostView
from projections.feeds.query import read_feed, rebuild_feed
from projections.graph.relations import hides_activity
from projections.ports import Position
from projections.text import MAX_TAG_CHARS, normalise_tag
from schemas import events as ev


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
    quiet = await relations_of(deps, me, following)  # muted (or blocked) authors stay out
    following -= {a for a, r in quiet.items() if hides_activity(r)}
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
            if reply.status == "private":
                raise hidden()
            return page_response(deps, "posts", reply.posts, encode_cursor(reply.next))
    await check_pending_session(request)
    owner = (await (await deps.graph()).users([author])).get(author)
    if owner is None:
        raise not_found("user")
    await require_visible(deps, me, owner)
    feeds = await deps.feeds()
    page, nxt = await _live_posts(feeds, lambda n: feeds.timeline_page(author, n, after), limit)
    return await _posts_page(deps, page, nxt, me)


@session_in_call
async def tag_posts(request: Request) -> Response:
    """A tag's posts, newest first: its timeline in the feeds projection (written when a post
    is published, left when it is deleted), not a search. The tag is normalised as a caption's
    hashtags are (projections/text.py), so /tags/Sea lists #sea; a tag nothing was tagged with
    has an empty page."""
    deps = deps_of(request)
    tag = normalise_tag(request.path_params["tag"])
    if tag is None:
        raise invalid("tag", f"must be 1 to {MAX_TAG_CHARS} letters, digits or _, after an "
                      "optional '#'")  # fmt: skip
    limit = limit_param(request)
    after = decode_cursor(request.query_params.get("cursor"))
    me = viewer(request)
    pages = await deps.pages()
    if pages is not None:
        reply = await pages.tag(tag, me, session_keys(request), limit, after)
        if served(request, reply):
            return page_response(deps, "posts", reply.posts, encode_cursor(reply.next))
    await check_pending_session(request)
    feeds = await deps.feeds()
    page, nxt = await _live_posts(feeds, lambda n: feeds.tag_page(tag, n, after), limit)
    page = await visible_posts(deps, me, page)  # a private account's: its followers only
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
            if reply.status == "private":
                raise hidden()
            return JsonBytes(with_url_base(reply.posts, deps.url_base))
    await check_pending_session(request)
    post = await live_post(deps, post_id)
    await require_post_visible(deps, viewer(request), post)
    return json_response((await posts_json(deps, [post], viewer(request)))[0])


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


async def _live_posts(
    feeds: PostReader, rows_of: Callable[[int], Awaitable[list[tuple[int, int]]]], limit: int
) -> tuple[list[PostView], Position | None]:
    """A page of a zset of (post, ms) rows, newest first (`rows_of(n)`: n rows after the
    cursor), as the posts still there (one deleted meanwhile is left out), and the next cursor."""
    rows = await fetch_page(rows_of, limit, lambda row: Position(row[1], row[0]))
    posts = await feeds.posts([p for p, _ in rows.items])
    return [posts[p] for p, _ in rows.items if p in posts], rows.next


async def _posts_page(
    deps: GatewayDeps, posts: list[PostView], nxt: Position | None, me: int | None
) -> Response:
    return page_json({"posts": await posts_json(deps, posts, me)}, encode_cursor(nxt))
