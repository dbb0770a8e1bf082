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
from gateway.responses import json_response
from gateway.routes_accounts import user_list
from gateway.routes_posts import hydrate
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
        rows = await index.users(query.users[0], limit + 1, last[1] if last else None)
        more = len(rows) > limit
        users = await user_list(await deps.graph(), [u for u, _ in rows[:limit]], me)
        nxt = encode_key_cursor((0, rows[limit - 1][1])) if more else None
        return json_response({"posts": [], "users": users, "next_cursor": nxt, "has_more": more})
    hits = await index.posts(
        query, limit + 1, decode_search_cursor(request.query_params.get("cursor"))
    )
    more = len(hits) > limit
    page = hits[:limit]
    nxt = encode_search_cursor(page[-1].cursor()) if more else None
    pages = await deps.pages()
    if pages is not None:
        reply = await pages.cards([h.post_id for h in page], me, session_keys(request))
        if served(request, reply):
            return page_response(deps, "posts", reply.posts, nxt, b'"users":[],')
    await check_pending_session(request)
    posts = await (await deps.feeds()).posts([h.post_id for h in page])  # deleted: filtered
    return json_response(
        {"posts": await hydrate(deps, [posts[h.post_id] for h in page if h.post_id in posts], me),
         "users": [], "next_cursor": nxt, "has_more": more}
    )  # fmt: skip


def _query(request: Request) -> SearchQuery:
    try:
        return parse_query(request.query_params.get("q", ""))
    except BadQuery as exc:
        raise invalid("q", str(exc)) from None
