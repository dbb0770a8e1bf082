"""`GET /search`: posts by caption words and #tags (ranked), or users by @name prefix."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import check_pending_session, deps_of, session_in_call, viewer
from gateway.cursors import (
    decode_key_cursor,
    decode_search_cursor,
    encode_key_cursor,
    encode_search_cursor,
)
from gateway.errors import invalid
from gateway.page_calls import page_response, served, session_keys
from gateway.paging import fetch_page
from gateway.privacy import visible_posts
from gateway.responses import page_json
from gateway.route_kit import posts_json, user_list
from gateway.validation import limit_param
from projections.search.logic import BadQuery, SearchQuery, parse_query


@session_in_call
async def search(request: Request) -> Response:
    """Posts (newest first among equally relevant ones) unless the query names only @users;
    the hits' cards (and the session) come in one server-side call when the read groups are in
    Valkey (gateway/routes_posts.py)."""
    deps = deps_of(request)
    query = _query(request)
    limit = limit_param(request)
    me = viewer(request)
    index = await deps.search()
    if query.users_only:  # the first @name's matches
        await check_pending_session(request)
        last = decode_key_cursor(request.query_params.get("cursor"))
        name, after_name = query.users[0], last[1] if last else None
        rows = await fetch_page(
            lambda n: index.users(name, n, after_name), limit, lambda r: (0, r[1])
        )
        users = await user_list(
            await deps.graph(), [u for u, _ in rows.items], me, deps.store.public_url
        )
        return page_json({"posts": [], "users": users}, encode_key_cursor(rows.next))
    after = decode_search_cursor(request.query_params.get("cursor"))
    hits = await fetch_page(lambda n: index.posts(query, n, after), limit, lambda h: h.cursor())
    nxt = encode_search_cursor(hits.next)
    pages = await deps.pages()
    if pages is not None:
        reply = await pages.cards([h.post_id for h in hits.items], me, session_keys(request))
        if served(request, reply):
            return page_response(deps, "posts", reply.posts, nxt, b'"users":[],')
    await check_pending_session(request)
    posts = await (await deps.feeds()).posts([h.post_id for h in hits.items])  # deleted: filtered
    found = [posts[h.post_id] for h in hits.items if h.post_id in posts]
    found = await visible_posts(deps, me, found)  # a private account's: its followers only
    return page_json({"posts": await posts_json(deps, found, me), "users": []}, nxt)


def _query(request: Request) -> SearchQuery:
    try:
        return parse_query(request.query_params.get("q", ""))
    except BadQuery as exc:
        raise invalid("q", str(exc)) from None
