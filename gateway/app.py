"""The gateway's ASGI app: the explicit routes list wired into the dispatcher.

Every API route runs behind `authenticated` (gateway/auth.py): a bearer token, when present, is
verified and its session checked before anything else. A route whose Op says `idempotent`
honours the Idempotency-Key header (gateway/idempotency.py); registration's keys are global,
every other route's are per caller.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway import routes_accounts as accounts
from gateway import routes_engagement as engagement
from gateway import routes_notifications as notifications
from gateway import routes_photos as photos
from gateway import routes_posts as posts
from gateway import routes_search as search
from gateway import routes_sessions as sessions
from gateway import web
from gateway.asgi import Dispatcher, Lifespan, Route
from gateway.auth import authenticated
from gateway.deps import GatewayDeps
from gateway.health import healthz, readyz
from gateway.idempotency import idempotent
from gateway.metrics import metrics_endpoint
from gateway.openapi import Op, build_document
from gateway.responses import json_response

BASE = "/api/v1"
FOLLOWS_LIMITED = (
    "too many follows and unfollows by this user (PHOTOFEED_FOLLOW_RATE_PER_MINUTE; Retry-After)"
)
LIKES_LIMITED = (
    "too many likes and unlikes by this user (PHOTOFEED_LIKE_RATE_PER_MINUTE; Retry-After)"
)

API: list[tuple[str, str, Any, Op]] = [
    ("POST", "/users", accounts.register, Op(
        "Register an account", {201: "#User: created", 409: "username taken", 422: "invalid field",
        429: "too many registrations from this address (Retry-After)",
        503: "too many password hashes at once: overloaded (Retry-After)"},
        body="Credentials", idempotent=True)),
    ("POST", "/sessions", sessions.create_session, Op(
        "Log in: a bearer token for a new session", {200: "#Session: token, user_id, "
        "expires_at", 401: "wrong credentials", 429: "too many failed logins for this username "
        "or address: growing waits (Retry-After); a success resets them",
        503: "too many password checks at once: overloaded (Retry-After)"},
        body="Credentials")),
    ("DELETE", "/sessions/current", sessions.logout_current, Op(
        "Log out this token's session (other sessions stay)", {204: "logged out",
        401: "anonymous, or already logged out"}, auth=True)),
    ("DELETE", "/sessions", sessions.logout_everywhere, Op(
        "Log out everywhere: every token of the account is revoked, this one too",
        {204: "logged out everywhere", 401: "anonymous"}, auth=True)),
    ("POST", "/users/me/password", sessions.change_password, Op(
        "Change the password (stored durably); every other session is revoked",
        {200: "#Session: a fresh token for the caller (the old one is revoked)",
         401: "anonymous", 403: "wrong current password: wrong_password",
         409: "the account changed meanwhile: credentials_changed", 422: "invalid field",
         429: "too many failed password checks (Retry-After)",
         503: "too many password checks at once: overloaded (Retry-After)"},
        auth=True, body="PasswordChange")),
    ("DELETE", "/users/me", accounts.erase_me, Op(
        "Erase my account everywhere (log included: my data key is destroyed), confirmed by "
        "the password; every token of the account is revoked at once",
        {202: "erasing; `photofeed erasure status <id>` shows the receipts", 401: "anonymous",
         403: "wrong password: wrong_password", 422: "no password",
         429: "too many failed password checks (Retry-After)",
         503: "too many password checks at once: overloaded (Retry-After)"},
        auth=True, body="PasswordConfirmation")),
    ("GET", "/users/{user_id}", accounts.get_user, Op(
        "A profile with counts", {200: "#Profile: the profile", 404: "unknown user"})),
    ("GET", "/users/{user_id}/followers", accounts.followers, Op(
        "Followers, newest first", {200: "#UserPage: a page", 404: "unknown user"},
        params=["limit", "cursor"])),
    ("GET", "/users/{user_id}/following", accounts.following, Op(
        "Accounts followed, newest first", {200: "#UserPage: a page", 404: "unknown user"},
        params=["limit", "cursor"])),
    ("POST", "/follow/{user_id}", accounts.follow, Op(
        "Follow (idempotent)", {204: "following", 401: "anonymous", 404: "unknown user",
                                422: "self-follow", 429: FOLLOWS_LIMITED}, auth=True)),
    ("DELETE", "/follow/{user_id}", accounts.unfollow, Op(
        "Unfollow (idempotent)", {204: "not following", 401: "anonymous", 404: "unknown user",
        429: FOLLOWS_LIMITED}, auth=True)),
    ("GET", "/feed", posts.home_feed, Op(
        "The viewer's home feed, newest first", {200: "#PostPage: a page", 401: "anonymous",
        400: "bad cursor"}, auth=True, params=["limit", "cursor"])),
    ("GET", "/users/{user_id}/posts", posts.profile_grid, Op(
        "A user's posts, newest first", {200: "#PostPage: a page", 404: "unknown user"},
        params=["limit", "cursor"])),
    ("GET", "/posts/{post_id}", posts.get_post, Op(
        "One post", {200: "#Post: the post", 404: "unknown or deleted"})),
    ("DELETE", "/posts/{post_id}", posts.delete_post, Op(
        "Delete a post (author only)", {204: "deleted", 403: "not the author",
        404: "unknown"}, auth=True)),
    ("POST", "/likes/{post_id}", engagement.like, Op(
        "Like a post (idempotent)", {204: "liked", 401: "anonymous", 404: "unknown or deleted "
        "post", 429: LIKES_LIMITED}, auth=True)),
    ("DELETE", "/likes/{post_id}", engagement.unlike, Op(
        "Unlike a post (idempotent)", {204: "not liked", 401: "anonymous", 404: "unknown or "
        "deleted post", 429: LIKES_LIMITED}, auth=True)),
    ("POST", "/posts/{post_id}/comments", engagement.add_comment, Op(
        "Comment on a post", {201: "#Comment: created", 401: "anonymous", 404: "unknown or "
        "deleted post", 422: "empty or over-long text", 429: "too many comments by this user "
        "(PHOTOFEED_COMMENT_RATE_PER_MINUTE; Retry-After)"}, auth=True, body="CommentBody",
        idempotent=True)),
    ("GET", "/posts/{post_id}/comments", engagement.list_comments, Op(
        "A post's comments, oldest first", {200: "#CommentPage: a page", 400: "bad cursor",
        404: "unknown or deleted post"}, params=["limit", "cursor"])),
    ("DELETE", "/comments/{comment_id}", engagement.delete_comment, Op(
        "Delete a comment (its author or the post's author)", {204: "deleted", 401: "anonymous",
        403: "someone else's comment on someone else's post", 404: "unknown comment"},
        auth=True)),
    ("GET", "/search", search.search, Op(
        "Search: caption words (stemmed, ranked by relevance then recency), #tags (exact), "
        "@name (username prefix; alone, it returns users)", {200: "#SearchPage: a page",
        400: "bad cursor", 422: "empty, too long or too many terms"},
        params=["q", "limit", "cursor"])),
    ("GET", "/notifications", notifications.list_notifications, Op(
        "The viewer's notifications, grouped, newest activity first", {200: "#NotificationPage: "
        "a page", 400: "bad cursor", 401: "anonymous"}, auth=True, params=["limit", "cursor"])),
    ("POST", "/notifications/read", notifications.mark_read, Op(
        "Mark notifications read up to a notification_id (all when the body is empty)",
        {204: "marked", 401: "anonymous", 422: "bad up_to_id"}, auth=True, body="ReadMark",
        body_optional=True)),
    ("POST", "/photos", photos.create_photo, Op(
        "Start an upload (JSON: presigned PUT or S3 multipart) or upload directly (multipart/"
        "form-data, small files)", {200: "presigned upload", 202: "direct upload accepted",
        413: "too large", 415: "unsupported type", 422: "invalid field",
        429: "rate limited (Retry-After)"}, auth=True, body="PhotoUpload", idempotent=True)),
    ("POST", "/photos/{photo_id}/complete", photos.complete_upload, Op(
        "Finish a presigned upload", {202: "processing", 403: "not yours", 404: "unknown upload, "
        "or its multipart upload expired or was aborted: upload_not_found", 409: "nothing "
        "uploaded yet / parts missing / the store refused the parts", 422: "a part's etag does "
        "not match its bytes (invalid_part) or a part is smaller than part_size "
        "(part_too_small)"}, auth=True, idempotent=True)),
    ("GET", "/photos/{photo_id}/status", photos.photo_status, Op(
        "Processing status (owner only)", {200: "processing, published (urls), deleted or rejected "
        "(reason)", 404: "unknown photo"}, auth=True)),
    ("GET", "/photos/{photo_id}", photos.photo_variant, Op(
        "Redirect to a variant's immutable URL", {302: "Location: the variant",
        404: "unknown or unpublished", 422: "bad size"}, params=["size"])),
]  # fmt: skip


def openapi_document() -> dict[str, Any]:
    return build_document([(m, p, op) for m, p, _, op in API])


async def openapi(_request: Request) -> Response:
    return json_response(openapi_document())


def _endpoint(endpoint: Any, op: Op) -> Any:
    """The route as served: the session checked first, then Idempotency-Key, then the route."""
    return authenticated(idempotent(endpoint, per_user=op.auth) if op.idempotent else endpoint)


ROUTES: list[Route] = [
    Route("GET", "/healthz", healthz),
    Route("GET", "/readyz", readyz),
    Route("GET", "/metrics", metrics_endpoint),
    Route("GET", "/openapi.json", openapi),
    *(Route(method, BASE + path, _endpoint(endpoint, op)) for method, path, endpoint, op in API),
    *web.ROUTES,  # the web client: /, /index.html, /web/... (gateway/web.py)
]


def create_app(deps: GatewayDeps | None, lifespan: Lifespan | None = None) -> Dispatcher:
    """The gateway; with `deps` None the lifespan must set `app.state.deps` at startup."""
    app = Dispatcher(ROUTES, lifespan)
    if deps is not None:
        app.state.deps = deps
    return app
