"""The gateway's ASGI app: the explicit routes list wired into the dispatcher.

A route whose Op says `idempotent` honours the Idempotency-Key header (gateway/idempotency.py);
registration's keys are global, every other route's are per caller.
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
from gateway.asgi import Dispatcher, Lifespan, Route
from gateway.deps import GatewayDeps
from gateway.health import healthz, readyz
from gateway.idempotency import idempotent
from gateway.metrics import metrics_endpoint
from gateway.openapi import Op, build_document
from gateway.responses import json_response

BASE = "/api/v1"

API: list[tuple[str, str, Any, Op]] = [
    ("POST", "/users", accounts.register, Op(
        "Register an account", {201: "#User: created", 409: "username taken", 422: "invalid field"},
        body="Credentials", idempotent=True)),
    ("POST", "/sessions", accounts.create_session, Op(
        "Log in: a bearer token", {200: "token, user_id, expires_at", 401: "wrong credentials"},
        body="Credentials")),
    ("DELETE", "/users/me", accounts.erase_me, Op(
        "Erase my account everywhere (log included: my data key is destroyed)",
        {202: "erasing; `photofeed erasure status <id>` shows the receipts", 401: "anonymous"},
        auth=True)),
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
                                422: "self-follow"}, auth=True)),
    ("DELETE", "/follow/{user_id}", accounts.unfollow, Op(
        "Unfollow (idempotent)", {204: "not following", 401: "anonymous", 404: "unknown user"},
        auth=True)),
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
        "post"}, auth=True)),
    ("DELETE", "/likes/{post_id}", engagement.unlike, Op(
        "Unlike a post (idempotent)", {204: "not liked", 401: "anonymous", 404: "unknown or "
        "deleted post"}, auth=True)),
    ("POST", "/posts/{post_id}/comments", engagement.add_comment, Op(
        "Comment on a post", {201: "#Comment: created", 401: "anonymous", 404: "unknown or "
        "deleted post", 422: "empty or over-long text"}, auth=True, body="CommentBody",
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
        "Finish a presigned upload", {202: "processing", 403: "not yours", 404: "unknown upload",
        409: "nothing uploaded yet / parts missing"}, auth=True, idempotent=True)),
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
    return idempotent(endpoint, per_user=op.auth) if op.idempotent else endpoint


ROUTES: list[Route] = [
    Route("GET", "/healthz", healthz),
    Route("GET", "/readyz", readyz),
    Route("GET", "/metrics", metrics_endpoint),
    Route("GET", "/openapi.json", openapi),
    *(Route(method, BASE + path, _endpoint(endpoint, op)) for method, path, endpoint, op in API),
]


def create_app(deps: GatewayDeps | None, lifespan: Lifespan | None = None) -> Dispatcher:
    """The gateway; with `deps` None the lifespan must set `app.state.deps` at startup."""
    app = Dispatcher(ROUTES, lifespan)
    if deps is not None:
        app.state.deps = deps
    return app
