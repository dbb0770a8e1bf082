"""Likes and comments: commands validated against the projections, then appended as events."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import (
    check_pending_session,
    deps_of,
    require_user,
    session_in_call,
    settle_session,
    viewer,
)
from gateway.cursors import decode_cursor, encode_cursor
from gateway.deps import GatewayDeps
from gateway.errors import ApiError, not_found
from gateway.idempotency import request_ids
from gateway.mentions import resolve_mentions
from gateway.page_calls import page_response, session_keys
from gateway.privacy import hidden, require_post_visible, visible_posts
from gateway.relations import refuse_if_blocked
from gateway.responses import json_response, no_content, page_json, rfc3339
from gateway.route_kit import append_or_503, live_post, user_json
from gateway.validation import comment_text, json_object, limit_param, path_id
from projections.engagement.ports import CommentView
from projections.text import mention_entries, mention_json, parse_mentions
from schemas import events as ev


async def like(request: Request) -> Response:
    return await _set_like(request, ev.PostLiked)


async def unlike(request: Request) -> Response:
    return await _set_like(request, ev.PostUnliked)


async def _set_like(request: Request, kind: type[ev.PostLiked | ev.PostUnliked]) -> Response:
    """Always appended, never skipped on the projection's word: a lagging projection must not
    swallow an unlike. Likes are set memberships, so a repeated like changes nothing. A like
    across a block (either way) is 403 `blocked`; an unlike never is."""
    deps = deps_of(request)
    me = require_user(request)
    post = await live_post(deps, path_id(request, "post_id", "post"))
    if kind is ev.PostLiked:
        await refuse_if_blocked(deps, me, post.author_id, "like this post")
        if not await visible_posts(deps, me, [post]):
            raise hidden()  # a private account's post: its followers only
    await deps.limits.like.enforce(me, "likes and unlikes")
    await append_or_503(
        deps,
        kind(event_id=deps.ids.next_id(), occurred_at=deps.now(), actor_id=me,
             post_id=post.post_id, author_id=post.author_id),
    )  # fmt: skip
    return no_content()


async def add_comment(request: Request) -> Response:
    """201 with the comment, its @mentions resolved now (gateway/mentions.py). With an
    Idempotency-Key, a retry answers the same comment (and is not counted again: the replay
    never reaches this function). 429 past the limit."""
    deps = deps_of(request)
    me = require_user(request)
    ids = request_ids(request)
    post_id = path_id(request, "post_id", "post")
    text = comment_text(await json_object(request))
    post = await live_post(deps, post_id)
    await refuse_if_blocked(deps, me, post.author_id, "comment on this post")
    if not await visible_posts(deps, me, [post]):
        raise hidden()  # a private account's post: its followers only
    await deps.limits.comment.enforce(me, "comments")
    mentions = await resolve_mentions(deps, me, text)
    event = ev.CommentAdded(
        event_id=ids.next_id(), occurred_at=deps.now(), actor_id=me,
        comment_id=ids.next_id(), post_id=post.post_id, author_id=post.author_id, text=text,
        mentions=mentions,
    )  # fmt: skip
    await append_or_503(deps, event)
    shown = parse_mentions(mention_entries(text, [(m.user_id, m.start, m.end) for m in mentions]))
    view = CommentView(event.comment_id, post_id, me, text, int(deps.clock() * 1000), shown)
    return json_response((await comments_json(deps, [view], resolved=True))[0], 201)


@session_in_call
async def list_comments(request: Request) -> Response:
    """One server-side call with every read group in Valkey (gateway/routes_posts.py)."""
    deps = deps_of(request)
    post_id = path_id(request, "post_id", "post")
    limit = limit_param(request)
    after = decode_cursor(request.query_params.get("cursor"))
    pages = await deps.pages()
    if pages is not None:
        reply = await pages.comments(post_id, session_keys(request), limit, after, viewer(request))
        settle_session(request, reply.status if reply.status in ("revoked", "gone") else "ok")
        if reply.status == "none":
            raise not_found("post")
        if reply.status == "private":
            raise hidden()
        return page_response(deps, "comments", reply.posts, encode_cursor(reply.next))
    await check_pending_session(request)
    await require_post_visible(deps, viewer(request), await live_post(deps, post_id))
    page, nxt = await (await deps.engagement()).comments(post_id, limit, after)
    return page_json({"comments": await comments_json(deps, page)}, encode_cursor(nxt))


async def delete_comment(request: Request) -> Response:
    """By the comment's author or the post's author; anyone else gets 403."""
    deps = deps_of(request)
    me = require_user(request)
    comment_id = path_id(request, "comment_id", "comment")
    comment = await (await deps.engagement()).comment(comment_id)
    if comment is None:
        raise not_found("comment")
    post = await live_post(deps, comment.post_id)
    if me not in (comment.commenter_id, post.author_id):
        raise ApiError(403, "forbidden", "only the comment's or the post's author can delete it")
    await append_or_503(
        deps,
        ev.CommentDeleted(
            event_id=deps.ids.next_id(), occurred_at=deps.now(), actor_id=me,
            comment_id=comment_id, post_id=post.post_id, author_id=post.author_id,
            commenter_id=comment.commenter_id,
        ),
    )  # fmt: skip
    return no_content()


async def comments_json(
    deps: GatewayDeps, comments: list[CommentView], resolved: bool = False
) -> list[dict[str, Any]]:
    """Comment objects, commenters and mentioned users fetched in one round trip. A mention of a
    user erased since is left out (the text keeps the name), unless `resolved`: the mentions
    were found in the accounts just now (the graph may not show a new user yet)."""
    mentioned = {m.user_id for c in comments for m in c.mentions}
    ids = sorted({c.commenter_id for c in comments} | mentioned)
    users = await (await deps.graph()).users(ids)
    return [
        {
            "comment_id": str(c.comment_id),
            "post_id": str(c.post_id),
            "user": user_json(users[c.commenter_id], deps.store.public_url)
            if c.commenter_id in users
            else {"user_id": str(c.commenter_id)},
            "text": c.text,
            "created_at": rfc3339(c.created_ms),
            "mentions": [mention_json(m) for m in c.mentions if resolved or m.user_id in users],
        }
        for c in comments
    ]
