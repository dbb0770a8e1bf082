"""The viewer's notifications: grouped, newest activity first, and a mark-as-read command."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import (
    check_pending_session,
    deps_of,
    require_user,
    session_in_call,
    settle_session,
)
from gateway.cursors import decode_key_cursor, encode_key_cursor
from gateway.deps import GatewayDeps
from gateway.errors import invalid
from gateway.page_calls import page_response, session_keys
from gateway.privacy import visible_authors
from gateway.relations import relations_of
from gateway.responses import no_content, page_json, rfc3339
from gateway.route_kit import append_or_503, user_json
from gateway.validation import json_object, limit_param
from projections.engagement.logic import SHOWN_ACTORS, parse_bundle
from projections.engagement.ports import Notice
from projections.graph.relations import hides_activity
from schemas import events as ev
from schemas.ids import parse_id


@session_in_call
async def list_notifications(request: Request) -> Response:
    """One server-side call with every read group in Valkey (gateway/routes_posts.py)."""
    deps = deps_of(request)
    me = require_user(request)
    limit = limit_param(request)
    after = decode_key_cursor(request.query_params.get("cursor"))
    pages = await deps.pages()
    if pages is not None:
        reply = await pages.notifications(me, session_keys(request), limit, after, SHOWN_ACTORS)
        settle_session(request, reply.status if reply.status in ("revoked", "gone") else "ok")
        cursor = encode_key_cursor(reply.next_key)
        return page_response(deps, "notifications", reply.posts, cursor)
    await check_pending_session(request)
    page = await (await deps.engagement()).notifications(me, limit, after)
    items = await _hydrate(deps, page.items, me)
    return page_json({"notifications": items}, encode_key_cursor(page.next))


async def mark_read(request: Request) -> Response:
    """Marks read every notification up to `up_to_id` (a notification_id), or all of them."""
    deps = deps_of(request)
    me = require_user(request)
    up_to = deps.ids.next_id()  # everything that happened before now
    if request.headers.get("content-length", "0") != "0":
        raw = (await json_object(request)).get("up_to_id")
        if raw is not None:
            parsed = parse_id(raw) if isinstance(raw, str) else None
            if parsed is None:
                raise invalid("up_to_id", "must be a notification_id (a decimal string)")
            up_to = parsed
    await append_or_503(
        deps,
        ev.NotificationsRead(
            event_id=deps.ids.next_id(), occurred_at=deps.now(), actor_id=me, up_to_id=up_to
        ),
    )
    return no_content()


async def _hydrate(
    deps: GatewayDeps, notices: list[Notice], me: int | None = None
) -> list[dict[str, Any]]:
    """Actors, posts and comment texts for a page, fetched concurrently, one round trip each.
    A notification about a post deleted a moment ago is dropped here before its purge lands,
    and one about a post the viewer may not see (a mention in a private account's post:
    gateway/privacy.py) is left out."""
    parsed = [parse_bundle(n.bundle) for n in notices]
    post_ids = sorted({p for _, p, _ in parsed if p is not None})
    comment_ids = [c for _, _, c in parsed if c is not None]
    actor_ids = sorted({a for n in notices for a in n.actors})
    graph, feeds, engagement = await deps.graph(), await deps.feeds(), await deps.engagement()
    users, posts, comments = await asyncio.gather(
        graph.users(actor_ids), feeds.posts(post_ids), engagement.comments_by_id(comment_ids)
    )
    shown = await visible_authors(deps, me, {p.author_id for p in posts.values()})
    posts = {i: p for i, p in posts.items() if p.author_id in shown}
    quiet = set()  # actors muted or blocked by the viewer: their activity is left out
    if me is not None:
        quiet = {
            a for a, r in (await relations_of(deps, me, actor_ids)).items() if hides_activity(r)
        }
    out = []
    for n, (kind, post_id, comment_id) in zip(notices, parsed, strict=True):
        if post_id is not None and post_id not in posts:
            continue
        actors = [a for a in n.actors if a not in quiet]
        if len(actors) < len(n.actors) and not actors:
            continue  # every actor shown was hidden: the notification goes with them
        item: dict[str, Any] = {
            "notification_id": str(n.newest_id),
            "type": kind,
            "actors": [user_json(users[a], deps.store.public_url) for a in actors if a in users],
            "actor_count": n.actor_count - (len(n.actors) - len(actors)),
            "created_at": rfc3339(n.at_ms),
            "read": n.read,
        }
        if post_id is not None:
            item["post_id"] = str(post_id)
            thumbnail = posts[post_id].variants.get("thumbnail")
            item["thumbnail_url"] = deps.store.public_url(thumbnail) if thumbnail else None
        if comment_id is not None:
            item["comment_id"] = str(comment_id)
            item["text"] = comments[comment_id].text if comment_id in comments else None
        out.append(item)
    return out
