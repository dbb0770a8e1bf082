"""Blocks and mutes: `POST|DELETE /blocks/{user_id}`, `POST|DELETE /mutes/{user_id}`, and the
caller's own lists (`GET /blocks`, `GET /mutes`).

Each command appends one event on the follows topic (UserBlocked, UserUnblocked, UserMuted,
UserUnmuted), always, like a follow: the projections keep the newest per pair, so sending it
again changes nothing (idempotent), and a lagging projection cannot swallow an unblock. What a
block or a mute means is projections/graph/relations.py; what a block undoes (the follows both
ways, the feeds, pending follow requests) is the graph and feeds groups' handlers. Blocks and
mutes share the follow rate limit (PHOTOFEED_FOLLOW_RATE_PER_MINUTE): they are edges of the same
graph.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import deps_of, require_user
from gateway.cursors import decode_cursor, encode_cursor
from gateway.deps import GatewayDeps
from gateway.errors import invalid, not_found
from gateway.responses import no_content, page_json
from gateway.route_kit import append_or_503, user_list
from gateway.validation import limit_param, path_id
from schemas import events as ev


async def block(request: Request) -> Response:
    deps, me, target = await _command(request, "block")
    await append_or_503(deps, ev.UserBlocked(event_id=deps.ids.next_id(), occurred_at=deps.now(),
                                             actor_id=me, blocked_id=target))  # fmt: skip
    return no_content()


async def unblock(request: Request) -> Response:
    deps, me, target = await _command(request, "unblock")
    await append_or_503(deps, ev.UserUnblocked(event_id=deps.ids.next_id(),
                                               occurred_at=deps.now(), actor_id=me,
                                               blocked_id=target))  # fmt: skip
    return no_content()


async def mute(request: Request) -> Response:
    deps, me, target = await _command(request, "mute")
    await append_or_503(deps, ev.UserMuted(event_id=deps.ids.next_id(), occurred_at=deps.now(),
                                           actor_id=me, muted_id=target))  # fmt: skip
    return no_content()


async def unmute(request: Request) -> Response:
    deps, me, target = await _command(request, "unmute")
    await append_or_503(deps, ev.UserUnmuted(event_id=deps.ids.next_id(), occurred_at=deps.now(),
                                             actor_id=me, muted_id=target))  # fmt: skip
    return no_content()


async def _command(request: Request, verb: str) -> tuple[GatewayDeps, int, int]:
    """The caller and the other user of a command (then 204 once appended): yourself is 422,
    a user who does not exist (or is being erased) 404, past the rate 429."""
    deps = deps_of(request)
    me = require_user(request)
    target = path_id(request, "user_id", "user")
    if target == me:
        raise invalid("user_id", f"you cannot {verb} yourself")
    if not await deps.accounts.exists(target):
        raise not_found("user")
    await deps.limits.follow.enforce(me, "follows, unfollows, blocks and mutes")
    return deps, me, target


async def list_blocks(request: Request) -> Response:
    return await _list(request, "blocks")


async def list_mutes(request: Request) -> Response:
    return await _list(request, "mutes")


async def _list(request: Request, which: str) -> Response:
    """The caller's blocked (or muted) users, most recent first, as user objects."""
    deps = deps_of(request)
    me = require_user(request)
    limit = limit_param(request)
    after = decode_cursor(request.query_params.get("cursor"))
    graph = await deps.graph()
    page = await (graph.blocks if which == "blocks" else graph.mutes)(me, limit, after)
    ids = [e.user_id for e in page.items]
    users = await user_list(graph, ids, me, deps.store.public_url, hide_blocked=False)
    return page_json({"users": users}, encode_cursor(page.next))
