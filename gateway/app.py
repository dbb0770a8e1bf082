"""The gateway's ASGI app: the explicit routes list wired into the dispatcher.

Every API route runs behind `authenticated` (gateway/auth.py): a bearer token, when present, is
verified and its session checked before anything else. A route whose Op says `idempotent`
honours the Idempotency-Key header (gateway/idempotency.py); registration's keys are global,
every other route's are per caller.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway import docs, web
from gateway import routes_accounts as accounts
from gateway import routes_blocks as blocks
from gateway import routes_engagement as engagement
from gateway import routes_follow_requests as follow_requests
from gateway import routes_notifications as notifications
from gateway import routes_photos as photos
from gateway import routes_posts as posts
from gateway import routes_search as search
from gateway import routes_sessions as sessions
from gateway.asgi import Dispatcher, Lifespan, Route
from gateway.auth import SESSION_IN_CALL, authenticated, deps_of, require_session
from gateway.consistency import SETTLED, consistent
from gateway.deps import GatewayDeps
from gateway.health import healthz, readyz
from gateway.idempotency import idempotent
from gateway.metrics import metrics_endpoint
from gateway.openapi import Op, build_document, link, next_page
from gateway.openapi_schemas import Limits
from gateway.responses import json_response
from infra.settings import Settings

BASE = "/api/v1"
FOLLOWS_LIMITED = (
    "too many follows and unfollows by this user (`rate_limited`; PHOTOFEED_FOLLOW_RATE_PER_MINUTE)"
)
GRAPH_LIMITED = (
    "too many follows, unfollows, blocks and mutes by this user (`rate_limited`; "
    "PHOTOFEED_FOLLOW_RATE_PER_MINUTE)"
)
BLOCKED = "a block stands between you and the author, either way (`blocked`)"
HIDDEN = "a private account's, and you are not its approved follower (`private_account`)"
LIKES_LIMITED = (
    "too many likes and unlikes by this user (`rate_limited`; PHOTOFEED_LIKE_RATE_PER_MINUTE)"
)
OVERLOADED = "too many password hashes at once (`overloaded`)"
GUESSES = (
    "too many failed password checks for this account or address: growing waits (`rate_limited`)"
)
USER_LINKS = {
    n: link(o, user_id="$response.body#/user_id")
    for n, o in (
        ("GetUser", "get_user"),
        ("UserPosts", "profile_grid"),
        ("Followers", "followers"),
        ("Following", "following"),
        ("Follow", "follow"),
        ("Unfollow", "unfollow"),
    )
}
FIRST_POST = {
    "GetPost": link("get_post", "the first post", post_id="$response.body#/posts/0/post_id")
}
FIRST_USER = {
    "GetUser": link("get_user", "the first user", user_id="$response.body#/users/0/user_id")
}
POST_LINKS = {
    n: link(o, post_id="$request.path.post_id")
    for n, o in (
        ("Comments", "list_comments"),
        ("AddComment", "add_comment"),
        ("Like", "like"),
        ("Unlike", "unlike"),
    )
} | {"Author": link("get_user", user_id="$response.body#/user/user_id")}
STATUS_LINK = {"Status": link("photo_status", photo_id="$response.body#/photo_id")}

API: list[tuple[str, str, Any, Op]] = [
    ("POST", "/users", accounts.register, Op(
        "Register an account", {201: "#Registered: created", 409: "the username is taken "
        "(`username_taken`)", 429: "too many registrations from this address (`rate_limited`)",
        503: OVERLOADED}, body="Credentials", idempotent=True, links={201: USER_LINKS})),
    ("POST", "/sessions", sessions.create_session, Op(
        "Log in: a bearer token for a new session", {200: "#Session: token, user_id, "
        "expires_at", 401: "wrong username or password (`invalid_credentials`)", 429: "too many "
        "failed logins for this username or address: growing waits, reset by a success "
        "(`rate_limited`)", 503: OVERLOADED}, body="Credentials", positions=(),
        links={200: {"Me": link("get_user", user_id="$response.body#/user_id")}})),
    ("DELETE", "/sessions/current", sessions.logout_current, Op(
        "Log out this token's session (other sessions stay)", {204: "logged out"}, auth=True,
        positions=())),
    ("DELETE", "/sessions", sessions.logout_everywhere, Op(
        "Log out everywhere: every token of the account is revoked, this one too",
        {204: "logged out everywhere"}, auth=True, positions=())),
    ("POST", "/users/me/password", sessions.change_password, Op(
        "Change the password (stored durably); every other session is revoked",
        {200: "#Session: a fresh token for the caller (the old one is revoked)",
         403: "wrong current password (`wrong_password`)", 409: "the account changed "
         "meanwhile (`credentials_changed`)", 429: GUESSES, 503: OVERLOADED},
        auth=True, body="PasswordChange", positions=())),
    ("DELETE", "/users/me", accounts.erase_me, Op(
        "Erase my account everywhere (log included: my data key is destroyed), confirmed by "
        "the password; every token of the account is revoked at once",
        {202: "#Erasure: erasing; `photofeed erasure status <id>` shows the receipts",
         403: "wrong password (`wrong_password`)", 429: GUESSES, 503: OVERLOADED},
        auth=True, body="PasswordConfirmation")),
    ("PATCH", "/users/me", accounts.update_me, Op(
        "Edit my profile: display_name, bio (each optional; empty or null clears it), private; "
        "unknown fields are refused", {204: "changed (visible once the Photofeed-Position "
        "answered is applied)", 422: "an unknown field, a wrong type, a display name over "
        "50 or a bio over 300 characters, or a control character (`invalid_field`; the "
        "message names the field)"}, auth=True, body="ProfilePatch")),
    ("POST", "/users/me/avatar", accounts.upload_avatar, Op(
        "Upload an avatar directly (multipart/form-data, as POST /photos): the media agent "
        "cuts 64, 150 and 320 px centred squares and sets it; poll the status. Presigned: "
        "POST /photos with purpose avatar", {202: "#Processing: stored; poll the status",
        400: "a form that does not parse, or with several files or over 20 fields "
        "(`malformed_form`)", 411: "a form without Content-Length (`length_required`)",
        413: "over direct_upload_max_bytes (`payload_too_large`)", 415: "not an accepted image "
        "type, or not multipart/form-data (`unsupported_media_type`)", 422: "no photo field or "
        "an empty file (`invalid_field`)", 429: "too many uploads by this user (`rate_limited`; "
        "PHOTOFEED_UPLOAD_RATE_PER_MINUTE)"}, auth=True, form="DirectAvatar", idempotent=True,
        positions=(202,), links={202: STATUS_LINK})),
    ("DELETE", "/users/me/avatar", accounts.remove_avatar, Op(
        "Remove my avatar (idempotent)", {204: "no avatar (once the Photofeed-Position "
        "answered is applied)"}, auth=True)),
    ("GET", "/users/{user_id}", accounts.get_user, Op(
        "A profile with counts", {200: "#Profile: the profile", 404: "no such user, or a "
        "block stands between you and them, either way (`not_found`)"},
        links={200: USER_LINKS})),
    ("GET", "/users/{user_id}/followers", accounts.followers, Op(
        "Followers, newest first", {200: "#UserPage: a page", 403: HIDDEN},
        params=["limit", "cursor"], links={200: FIRST_USER})),
    ("GET", "/users/{user_id}/following", accounts.following, Op(
        "Accounts followed, newest first", {200: "#UserPage: a page", 403: HIDDEN},
        params=["limit", "cursor"], links={200: FIRST_USER})),
    ("POST", "/follow/{user_id}", accounts.follow, Op(
        "Follow (idempotent); a private account you do not follow yet is asked instead (again "
        "while pending: nothing new)", {204: "following", 202: "#FollowRequested: asked: the "
        "account's owner approves or rejects (`GET /users/{id}` shows requested_by_viewer)",
        403: "a block stands between you, either way (`blocked`)",
        422: "you cannot follow yourself (`invalid_field`)", 429: FOLLOWS_LIMITED},
        auth=True)),
    ("DELETE", "/follow/{user_id}", accounts.unfollow, Op(
        "Unfollow (idempotent); also withdraws a pending follow request", {204: "not following",
        422: "you cannot unfollow yourself (`invalid_field`)", 429: FOLLOWS_LIMITED},
        auth=True)),
    ("GET", "/follow-requests", follow_requests.list_follow_requests, Op(
        "The requests to follow my private account that I have not answered, newest first",
        {200: "#UserPage: the requesters"}, auth=True, params=["limit", "cursor"],
        links={200: {"Approve": link("approve", "the first request",
                                     requester_id="$response.body#/users/0/user_id"),
                     "Reject": link("reject", "the first request",
                                    requester_id="$response.body#/users/0/user_id")}})),
    ("POST", "/follow-requests/{requester_id}/approve", follow_requests.approve, Op(
        "Approve a follow request: the requester follows me (their feed gets my newest posts; "
        "I get a follow notification)", {204: "approved", 404: "no pending request of this "
        "user (`not_found`)"}, auth=True)),
    ("POST", "/follow-requests/{requester_id}/reject", follow_requests.reject, Op(
        "Reject a follow request (they may ask again)", {204: "rejected", 404: "no pending "
        "request of this user (`not_found`)"}, auth=True)),
    ("POST", "/blocks/{user_id}", blocks.block, Op(
        "Block a user (idempotent): the follows between you end both ways (an unblock restores "
        "none), each is hidden from the other everywhere, and neither may follow, like, "
        "comment on or mention the other", {204: "blocked", 422: "you cannot block yourself "
        "(`invalid_field`)", 429: GRAPH_LIMITED}, auth=True)),
    ("DELETE", "/blocks/{user_id}", blocks.unblock, Op(
        "Unblock a user (idempotent): nothing is restored, new follows are allowed again",
        {204: "not blocked", 422: "you cannot unblock yourself (`invalid_field`)",
         429: GRAPH_LIMITED}, auth=True)),
    ("GET", "/blocks", blocks.list_blocks, Op(
        "The users I blocked, most recent first", {200: "#UserPage: a page"}, auth=True,
        params=["limit", "cursor"])),
    ("POST", "/mutes/{user_id}", blocks.mute, Op(
        "Mute a user (idempotent): their posts leave my home feed and their activity my "
        "notifications; nothing else changes (they are not told)", {204: "muted",
        422: "you cannot mute yourself (`invalid_field`)", 429: GRAPH_LIMITED}, auth=True)),
    ("DELETE", "/mutes/{user_id}", blocks.unmute, Op(
        "Unmute a user (idempotent): their posts and activity show again", {204: "not muted",
        422: "you cannot unmute yourself (`invalid_field`)", 429: GRAPH_LIMITED}, auth=True)),
    ("GET", "/mutes", blocks.list_mutes, Op(
        "The users I muted, most recent first", {200: "#UserPage: a page"}, auth=True,
        params=["limit", "cursor"], links={200: FIRST_USER})),
    ("GET", "/feed", posts.home_feed, Op(
        "The viewer's home feed, newest first", {200: "#PostPage: a page"}, auth=True,
        params=["limit", "cursor"], links={200: FIRST_POST})),
    ("GET", "/users/{user_id}/posts", posts.profile_grid, Op(
        "A user's posts, newest first", {200: "#PostPage: a page", 403: HIDDEN},
        params=["limit", "cursor"], links={200: FIRST_POST})),
    ("GET", "/tags/{tag}", posts.tag_posts, Op(
        "A tag's posts, newest first (the tag normalised as captions' #hashtags are: "
        "case-folded, NFKC; an unknown tag has an empty page)", {200: "#PostPage: a page",
        422: "the tag is not 1 to 50 letters, digits or _ after an optional # "
        "(`invalid_field`)"}, params=["limit", "cursor"], links={200: FIRST_POST})),
    ("GET", "/posts/{post_id}", posts.get_post, Op(
        "One post", {200: "#Post: the post", 403: HIDDEN, 404: "unknown or deleted"},
        links={200: POST_LINKS})),
    ("DELETE", "/posts/{post_id}", posts.delete_post, Op(
        "Delete a post (author only)", {204: "deleted", 403: "not the author (`forbidden`)"},
        auth=True)),
    ("POST", "/likes/{post_id}", engagement.like, Op(
        "Like a post (idempotent)", {204: "liked", 403: f"{BLOCKED}; or {HIDDEN}",
        404: "unknown or deleted post",
        429: LIKES_LIMITED}, auth=True)),
    ("DELETE", "/likes/{post_id}", engagement.unlike, Op(
        "Unlike a post (idempotent)", {204: "not liked", 404: "unknown or deleted post",
        429: LIKES_LIMITED}, auth=True)),
    ("POST", "/posts/{post_id}/comments", engagement.add_comment, Op(
        "Comment on a post", {201: "#Comment: created", 403: f"{BLOCKED}; or {HIDDEN}",
        404: "unknown or deleted post",
        429: "too many comments by this user (`rate_limited`; "
        "PHOTOFEED_COMMENT_RATE_PER_MINUTE)"}, auth=True, body="CommentBody", idempotent=True,
        links={201: {"Delete": link("delete_comment", comment_id="$response.body#/comment_id"),
                     "Comments": link("list_comments", post_id="$response.body#/post_id")}})),
    ("GET", "/posts/{post_id}/comments", engagement.list_comments, Op(
        "A post's comments, oldest first", {200: "#CommentPage: a page", 403: HIDDEN,
        404: "unknown or deleted post"}, params=["limit", "cursor"])),
    ("DELETE", "/comments/{comment_id}", engagement.delete_comment, Op(
        "Delete a comment (its author or the post's author)", {204: "deleted",
        403: "someone else's comment on someone else's post (`forbidden`)"}, auth=True)),
    ("GET", "/search", search.search, Op(
        "Search: caption words (stemmed, ranked by relevance then recency), #tags (exact), "
        "@name (username prefix; alone, it returns users)", {200: "#SearchPage: a page",
        422: "q has no word, #tag or @name, or over 10 terms (`invalid_field`)"},
        params=["q", "limit", "cursor"], links={200: FIRST_POST})),
    ("GET", "/notifications", notifications.list_notifications, Op(
        "The viewer's notifications, grouped, newest activity first",
        {200: "#NotificationPage: a page"}, auth=True, params=["limit", "cursor"])),
    ("POST", "/notifications/read", notifications.mark_read, Op(
        "Mark notifications read up to a notification_id (all when the body is empty)",
        {204: "marked"}, auth=True, body="ReadMark", body_optional=True)),
    ("POST", "/photos", photos.create_photo, Op(
        "Start an upload (JSON: presigned PUT or S3 multipart) or upload directly (multipart/"
        "form-data, small files)", {200: "#PresignedUpload: JSON: PUT the bytes, then complete",
        202: "#Processing: multipart/form-data: stored; poll the status", 400: "a form that "
        "does not parse, or with several files or over 20 fields (`malformed_form`)", 411: "a form "
        "without Content-Length (`length_required`)", 413: "over the size limit "
        "(`payload_too_large`): max_upload_bytes, or direct_upload_max_bytes for forms",
        415: "not an accepted image type, or a body that is neither JSON nor a form "
        "(`unsupported_media_type`)", 422: "no photo field or an empty file (`invalid_field`)",
        429: "too many uploads by this user (`rate_limited`; PHOTOFEED_UPLOAD_RATE_PER_MINUTE)"},
        auth=True, body="PhotoUpload", form="DirectUpload", idempotent=True, positions=(202,),
        links={200: {"Complete": link("complete_upload", "after the PUT",
                                      photo_id="$response.body#/photo_id")},
               202: STATUS_LINK})),
    ("POST", "/photos/{photo_id}/complete", photos.complete_upload, Op(
        "Finish a presigned upload (multipart: with every part's ETag)", {202: "#Processing: "
        "processing", 403: "not yours (`forbidden`)", 404: "no such upload, or its multipart "
        "upload expired or was aborted (`upload_not_found`)", 409: "nothing uploaded yet "
        "(`not_uploaded`), other than the announced size (`size_mismatch`), or parts missing or "
        "refused (`upload_incomplete`)", 422: "a part's etag does not match its bytes "
        "(`invalid_part`) or a part is smaller than part_size (`part_too_small`)"},
        auth=True, body="CompleteParts", body_optional=True, idempotent=True,
        links={202: STATUS_LINK})),
    ("GET", "/photos/{photo_id}/status", photos.photo_status, Op(
        "Processing status (owner only): processing, published (urls, post_id), deleted or "
        "rejected (reason_code)", {200: "#PhotoStatus: the status", 409: "the upload was not "
        "completed yet (`not_uploaded`)"}, auth=True,
        links={200: {"Post": link("get_post", post_id="$response.body#/post_id"),
                     "Variant": link("photo_variant", photo_id="$response.body#/photo_id")}})),
    ("GET", "/photos/{photo_id}", photos.photo_variant, Op(
        "Redirect to a variant's immutable URL", {302: "to the variant",
        404: "unknown or unpublished", 410: "the photo was deleted (`gone`)",
        422: "size is not thumbnail, feed or full (`invalid_field`)"}, params=["size"])),
]  # fmt: skip
PAGED = {"followers", "following", "home_feed", "profile_grid", "list_comments", "search",
         "list_notifications", "tag_posts", "list_blocks", "list_mutes",
         "list_follow_requests"}  # fmt: skip


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The document as this gateway serves it (bounds from `settings`; defaults without)."""
    operations = []
    for method, path, endpoint, op in API:
        name = endpoint.__name__
        op = replace(op, tag=endpoint.__module__.removeprefix("gateway.routes_"),
                     positions=(200,) if (method, path) in SETTLED else op.positions)  # fmt: skip
        if name in PAGED:
            links = op.links.get(200, {}) | {"NextPage": next_page(name, path, op.params)}
            op = replace(op, links={**op.links, 200: links})
        operations.append((method, path, name, op))
    return build_document(operations, Limits.of(settings or Settings()))


async def openapi(request: Request) -> Response:
    return json_response(openapi_document(deps_of(request).settings))


def _endpoint(method: str, path: str, endpoint: Any, op: Op) -> Any:
    """The route as served: the session checked first (a route that needs one answers 401
    before it reads anything else), then Idempotency-Key, then read-your-writes
    (gateway/consistency.py: READS declares what the route reads), then the route."""
    inner = consistent(endpoint, method, path)
    keyed = idempotent(inner, per_user=op.auth) if op.idempotent else inner
    defer = endpoint in SESSION_IN_CALL  # the route checks the session in its own call
    return authenticated(_signed_in(keyed) if op.auth else keyed, defer)


def _signed_in(endpoint: Any) -> Any:
    """`endpoint` behind a required session: anonymous is 401 before headers and bodies are
    looked at (a malformed Photofeed-Position or Idempotency-Key included)."""

    async def guarded(request: Request) -> Response:
        require_session(request)
        response: Response = await endpoint(request)
        return response

    guarded.__doc__ = endpoint.__doc__
    return guarded


ROUTES: list[Route] = [
    Route("GET", "/healthz", healthz),
    Route("GET", "/readyz", readyz),
    Route("GET", "/metrics", metrics_endpoint),
    Route("GET", "/openapi.json", openapi),
    *(
        Route(method, BASE + path, _endpoint(method, path, endpoint, op))
        for method, path, endpoint, op in API
    ),
    *web.ROUTES,  # the web client: /, /index.html, /web/... (gateway/web.py)
    *docs.ROUTES,  # the API reference: /docs (Swagger UI over /openapi.json; gateway/docs.py)
]


def create_app(deps: GatewayDeps | None, lifespan: Lifespan | None = None) -> Dispatcher:
    """The gateway; with `deps` None the lifespan must set `app.state.deps` at startup."""
    app = Dispatcher(ROUTES, lifespan)
    if deps is not None:
        app.state.deps = deps
    return app
