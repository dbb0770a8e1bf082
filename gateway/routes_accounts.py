"""Accounts and the follow graph: registration, erasure, profiles and avatars, follow/unfollow,
lists. (Log in, password change and log out: gateway/routes_sessions.py.)"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts import Account
from gateway.auth import deps_of, require_user, viewer
from gateway.cursors import decode_cursor, encode_cursor
from gateway.errors import ApiError, account_erased, invalid, not_found
from gateway.idempotency import answer_owner, request_ids
from gateway.media_intake import admit_upload, receive_direct
from gateway.privacy import follow_or_request, require_visible, set_privacy
from gateway.profiles import profile_patch
from gateway.ratelimit import client_address
from gateway.relations import refuse_if_blocked, relations_of
from gateway.responses import json_response, no_content, page_json
from gateway.route_kit import append_or_503, confirm_password, live_account, user_json, user_list
from gateway.uploads import UploadSession
from gateway.validation import json_object, limit_param, password_field, path_id, username_field
from projections.graph.ports import Edge
from projections.graph.relations import NONE, blocked
from projections.ports import Page
from schemas import events as ev
from schemas.media import AVATAR_SIZES


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
    relation = (await relations_of(deps, me, [user_id]))[user_id] if me is not None else NONE
    if user_id not in users or blocked(relation):
        raise not_found("user")  # a block either way hides each from the other
    counts = (await graph.counts([user_id]))[user_id]
    posts = (await (await deps.feeds()).post_counts([user_id]))[user_id]
    followed = bool(me and user_id in await graph.follows(me, [user_id]))
    requested = bool(me and not followed and user_id in await graph.requested(me, [user_id]))
    user, public_url = users[user_id], deps.store.public_url
    squares = {str(n): public_url(k) for n, k in zip(AVATAR_SIZES, user.avatar_keys, strict=False)}
    return json_response(
        {
            **user_json(user, public_url),
            "bio": user.bio,
            "avatar_urls": squares or None,
            "follower_count": counts.followers,
            "following_count": counts.following,
            "post_count": posts,
            "followed_by_viewer": followed,
            "requested_by_viewer": requested,
            "muted_by_viewer": relation.mutes,
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
    if follow:
        await refuse_if_blocked(deps, me, target, "follow this user")
    await deps.limits.follow.enforce(me, "follows and unfollows")
    if follow:  # a private account is asked (202 requested): gateway/privacy.py
        return await follow_or_request(deps, me, target)
    await append_or_503(  # an unfollow also withdraws a pending request
        deps, ev.UserUnfollowed(event_id=deps.ids.next_id(), occurred_at=deps.now(), actor_id=me,
                                followee_id=target),
    )  # fmt: skip
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
    owner = (await graph.users([user_id])).get(user_id)
    if owner is None:
        raise not_found("user")
    await require_visible(deps, me, owner)  # 404 across a block; a private account's: 403
    page: Page[Edge] = await (graph.followers if which == "followers" else graph.following)(
        user_id, limit, after
    )
    users = await user_list(graph, [e.user_id for e in page.items], me, deps.store.public_url)
    return page_json({"users": users}, encode_cursor(page.next))


async def update_me(request: Request) -> Response:
    """`PATCH /users/me`: the profile fields sent (gateway/profiles.py: each optional, "" or
    null clears one) as one `ProfileUpdated` (sealed like all personal data), then `private`,
    when sent, through gateway/privacy.py. 204; the answer's Photofeed-Position shows them."""
    deps = deps_of(request)
    me = require_user(request)
    patch = profile_patch(await json_object(request))
    if patch.profile_changed:
        await append_or_503(
            deps, ev.ProfileUpdated(event_id=deps.ids.next_id(), occurred_at=deps.now(),
                                    actor_id=me, display_name=patch.display_name, bio=patch.bio),
        )  # fmt: skip
    if patch.private is not None:
        await set_privacy(deps, me, patch.private)
    return no_content()


async def upload_avatar(request: Request) -> Response:
    """`POST /users/me/avatar`: a direct upload (multipart/form-data, the image in `photo`) with
    the limits and checks of `POST /photos`; the media agent cuts its squares and sets it as the
    caller's avatar (poll the status). The presigned flow is `POST /photos` with
    `"purpose": "avatar"`."""
    deps = deps_of(request)
    me = require_user(request)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(
            415, "unsupported_media_type", "send the avatar as multipart/form-data (the image "
            "in the field photo), or presigned: POST /photos with purpose avatar",
        )  # fmt: skip
    await admit_upload(deps, me)

    def session_of(photo_id: int, key: str, ctype: str, size: int, _: object) -> UploadSession:
        return UploadSession(photo_id, me, key, ctype, size, "", (), None, None, purpose="avatar")

    return await receive_direct(request, deps, me, session_of)


async def remove_avatar(request: Request) -> Response:
    """`DELETE /users/me/avatar`: no avatar from now on (an upload begun before this cannot
    bring one back: projections/graph/handlers.py). 204, idempotent."""
    deps = deps_of(request)
    me = require_user(request)
    await append_or_503(
        deps, ev.UserAvatarChanged(event_id=deps.ids.next_id(), occurred_at=deps.now(),
                                   actor_id=me, avatar_url=None, avatar_keys=()),
    )  # fmt: skip
    return no_content()


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
