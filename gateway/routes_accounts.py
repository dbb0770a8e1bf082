"""Accounts and the follow graph: registration, erasure, profiles, follow/unfollow, lists.
(Log in, password change and log out: gateway/routes_sessions.py.)"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts import Account
from gateway.auth import deps_of, require_user, viewer
from gateway.cursors import decode_cursor, encode_cursor
from gateway.errors import ApiError, account_erased, invalid, not_found
from gateway.idempotency import answer_owner, request_ids
from gateway.ratelimit import client_address
from gateway.responses import json_response, no_content, page_json
from gateway.route_kit import append_or_503, confirm_password, live_account, user_json, user_list
from gateway.validation import json_object, limit_param, password_field, path_id, username_field
from projections.graph.ports import Edge
from projections.ports import Page
from schemas import events as ev


async def register(request: Request) -> Response:
    deps = deps_of(request)
    ids = request_ids(request)
    body = await json_object(request)
    username, password = username_field(body), password_field(body)
    await deps.limits.register.enforce(client_address(request), "registrations")
    account = Account(ids.next_id(), username, await deps.passwords.hash(password))
    if not await deps.accounts.reserve(account):
        taken = await deps.accounts.by_username(username)
        if taken is None or taken.user_id != account.user_id:  # else: a keyed retry's own
            raise ApiError(409, "username_taken", f"the username {username!r} is taken")
    event = ev.UserRegistered(
        event_id=ids.next_id(), occurred_at=deps.now(), actor_id=account.user_id,
        username=username,
    )  # fmt: skip
    try:
        await deps.log.append(event)
    except Exception:
        await deps.accounts.release(account)  # a rejected command leaves nothing behind
        raise
    answer_owner(request, account.user_id)
    return json_response({"user_id": str(account.user_id), "username": username}, 201)


async def get_user(request: Request) -> Response:
    deps = deps_of(request)
    user_id = path_id(request, "user_id", "user")
    me = viewer(request)
    graph = await deps.graph()
    users = await graph.users([user_id])
    if user_id not in users:
        raise not_found("user")
    counts = (await graph.counts([user_id]))[user_id]
    posts = (await (await deps.feeds()).post_counts([user_id]))[user_id]
    followed = bool(me and user_id in await graph.follows(me, [user_id]))
    return json_response(
        {
            **user_json(users[user_id]),
            "follower_count": counts.followers,
            "following_count": counts.following,
            "post_count": posts,
            "followed_by_viewer": followed,
        }
    )


async def follow(request: Request) -> Response:
    return await _set_follow(request, follow=True)


async def unfollow(request: Request) -> Response:
    return await _set_follow(request, follow=False)


async def _set_follow(request: Request, follow: bool) -> Response:
    deps = deps_of(request)
    me = require_user(request)
    target = path_id(request, "user_id", "user")
    if target == me:
        raise invalid("user_id", "you cannot follow yourself")
    if not await deps.accounts.exists(target):
        raise not_found("user")
    await deps.limits.follow.enforce(me, "follows and unfollows")
    kind = ev.UserFollowed if follow else ev.UserUnfollowed
    await append_or_503(
        deps,
        kind(event_id=deps.ids.next_id(), occurred_at=deps.now(), actor_id=me, followee_id=target),
    )
    return no_content()


async def followers(request: Request) -> Response:
    return await _edge_list(request, "followers")


async def following(request: Request) -> Response:
    return await _edge_list(request, "following")


async def _edge_list(request: Request, which: str) -> Response:
    deps = deps_of(request)
    user_id = path_id(request, "user_id", "user")
    limit = limit_param(request)
    after = decode_cursor(request.query_params.get("cursor"))
    me = viewer(request)
    graph = await deps.graph()
    if user_id not in await graph.users([user_id]):
        raise not_found("user")
    page: Page[Edge] = await (graph.followers if which == "followers" else graph.following)(
        user_id, limit, after
    )
    users = await user_list(graph, [e.user_id for e in page.items], me)
    return page_json({"users": users}, encode_cursor(page.next))


async def erase_me(request: Request) -> Response:
    """Erase the caller's account everywhere, confirmed by its password (403 otherwise). The
    account is marked as being erased first (its tokens, logins and appends are refused from
    then on), the request is appended (the worker's erasure workflow does the rest, with
    receipts), and the credentials go. A request that cannot be appended takes the mark back."""
    deps = deps_of(request)
    me = require_user(request)
    password = password_field(await json_object(request, empty=True))
    await confirm_password(request, deps, await live_account(deps, me), password)
    if not await deps.accounts.begin_erasure(me):
        raise account_erased()
    try:
        await append_or_503(
            deps, ev.AccountErasureRequested(event_id=deps.ids.next_id(), occurred_at=deps.now(),
                                             actor_id=me),
        )  # fmt: skip
    except BaseException:
        await deps.accounts.cancel_erasure(me)
        raise
    await deps.accounts.forget(me)
    return json_response({"user_id": str(me), "status": "erasing"}, 202)
