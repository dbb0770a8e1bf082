"""The OpenAPI 3.1 document served at `/openapi.json`, built from the routes list's own metadata.

Every route in `gateway.app.ROUTES` carries an `Op` (summary, auth, body, answers); a test checks
that the document covers each route, so the contract cannot drift from the code silently. Every
operation may answer 503 + Retry-After when a dependency is down; `idempotent` operations take
the Idempotency-Key header; any operation given a bearer token answers 401 when the token is
bad, revoked or names an erased account. A method a path does not support is 405 with `Allow`.
`/healthz` and `/readyz` live outside the API's base path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.media import ACCEPTED_TYPES

ID = {"type": "string", "pattern": "^[0-9]{1,19}$", "description": "Snowflake id, decimal"}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
USER = {
    "type": "object",
    "properties": {
        "user_id": ID,
        "username": {"type": "string"},
        "avatar_url": {"type": ["string", "null"]},
        "followed_by_viewer": {"type": "boolean"},
    },
}
PROFILE = {
    "type": "object",
    "properties": {
        **USER["properties"],  # type: ignore[dict-item]
        "follower_count": {"type": "integer"},
        "following_count": {"type": "integer"},
        "post_count": {"type": "integer"},
    },
}
CREDENTIALS = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "username": {"type": "string", "minLength": 3, "maxLength": 30},
        "password": {"type": "string", "minLength": 8, "maxLength": 256},
    },
}
SESSION = {
    "type": "object",
    "required": ["token", "user_id", "expires_at"],
    "properties": {
        "token": {"type": "string", "description": "bearer token of one session; revoked by "
                  "DELETE /sessions/current, DELETE /sessions, a password change, erasure"},
        "user_id": ID, "expires_at": {"type": "string"},
    },
}  # fmt: skip
PASSWORD = {"type": "string", "minLength": 8, "maxLength": 256}
PASSWORD_CHANGE = {
    "type": "object",
    "required": ["current_password", "new_password"],
    "properties": {"current_password": PASSWORD, "new_password": PASSWORD},
}
PASSWORD_CONFIRMATION = {
    "type": "object", "required": ["password"], "properties": {"password": PASSWORD},
}  # fmt: skip
USER_PAGE = {
    "type": "object",
    "properties": {
        "users": {"type": "array", "items": {"$ref": "#/components/schemas/User"}},
        "next_cursor": {"type": ["string", "null"]},
        "has_more": {"type": "boolean"},
    },
}
PHOTO_UPLOAD = {
    "type": "object",
    "required": ["filename", "content_type", "size_bytes"],
    "properties": {
        "filename": {"type": "string"},
        "content_type": {"type": "string", "enum": sorted(ACCEPTED_TYPES)},
        "size_bytes": {"type": "integer", "minimum": 1},
        "caption": {"type": "string", "maxLength": 2200},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 30},
        "location": {"type": "object", "properties": {"lat": {"type": "number"},
                                                      "lon": {"type": "number"}}},
        "alt_text": {"type": "string", "maxLength": 1000},
    },
}  # fmt: skip
POST = {
    "type": "object",
    "properties": {
        "post_id": ID, "user": {"$ref": "#/components/schemas/User"},
        "caption": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
        "image_urls": {"type": "object", "properties": {
            n: {"type": "string"} for n in ("thumbnail", "feed", "full")}},
        "width": {"type": "integer"}, "height": {"type": "integer"},
        "blurhash": {"type": "string"}, "alt_text": {"type": ["string", "null"]},
        "like_count": {"type": "integer"}, "comment_count": {"type": "integer"},
        "liked_by_viewer": {"type": "boolean"}, "created_at": {"type": "string"},
    },
}  # fmt: skip
POST_PAGE = {
    "type": "object",
    "properties": {
        "posts": {"type": "array", "items": {"$ref": "#/components/schemas/Post"}},
        "next_cursor": {"type": ["string", "null"]},
        "has_more": {"type": "boolean"},
    },
}
COMMENT = {
    "type": "object",
    "properties": {
        "comment_id": ID, "post_id": ID, "user": {"$ref": "#/components/schemas/User"},
        "text": {"type": "string"}, "created_at": {"type": "string"},
    },
}  # fmt: skip
COMMENT_PAGE = {
    "type": "object",
    "properties": {
        "comments": {"type": "array", "items": {"$ref": "#/components/schemas/Comment"}},
        "next_cursor": {"type": ["string", "null"]},
        "has_more": {"type": "boolean"},
    },
}
COMMENT_BODY = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 2200}},
}
NOTIFICATION = {
    "type": "object",
    "properties": {
        "notification_id": {**ID, "description": "event id of the newest activity; moves on"},
        "type": {"type": "string", "enum": ["like", "comment", "follow"]},
        "actors": {"type": "array", "items": {"$ref": "#/components/schemas/User"},
                   "description": "newest first, at most 3"},
        "actor_count": {"type": "integer", "description": "all actors: 'ana and N-1 others'"},
        "post_id": ID, "thumbnail_url": {"type": ["string", "null"]},
        "comment_id": ID, "text": {"type": ["string", "null"]},
        "created_at": {"type": "string"}, "read": {"type": "boolean"},
    },
}  # fmt: skip
NOTIFICATION_PAGE = {
    "type": "object",
    "properties": {
        "notifications": {
            "type": "array", "items": {"$ref": "#/components/schemas/Notification"}},
        "next_cursor": {"type": ["string", "null"]},
        "has_more": {"type": "boolean"},
    },
}  # fmt: skip
SEARCH_PAGE = {
    "type": "object",
    "properties": {
        "posts": {"type": "array", "items": {"$ref": "#/components/schemas/Post"}},
        "users": {"type": "array", "items": {"$ref": "#/components/schemas/User"},
                  "description": "filled instead of posts when the query is only @name"},
        "next_cursor": {"type": ["string", "null"]},
        "has_more": {"type": "boolean"},
    },
}  # fmt: skip
READ_MARK = {"type": "object", "properties": {"up_to_id": ID}}
DEPENDENCY = {
    "type": "object",
    "properties": {
        "state": {"type": "string", "enum": ["up", "down", "unknown"]},
        "checked_at": {"type": ["string", "null"], "description": "RFC 3339, last observation"},
        "error": {"type": "string"},
    },
}
HEALTH = {
    "type": "object",
    "required": ["status", "dependencies"],
    "properties": {
        "status": {"const": "ok"},
        "dependencies": {
            "type": "object", "additionalProperties": {"$ref": "#/components/schemas/Dependency"},
            "description": "broker, valkey, s3: last known state (failed requests, checks)"},
    },
}  # fmt: skip
READINESS = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ready", "unavailable"]},
        "checks": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["ok", "ms"],
            "properties": {"ok": {"type": "boolean"}, "ms": {"type": "number"},
                           "error": {"type": "string"}}}},
    },
}  # fmt: skip
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": (
        "A unique key (a UUID) per intended command. A retry with the same key and body "
        "answers the first answer again (header Idempotent-Replayed: true) and changes nothing; "
        "after a 503 it applies the command at most once. Kept 24 h, per caller (globally for "
        "registration). Same key, other body: 422 idempotency_key_reused; while the first "
        "attempt runs: 409 request_in_progress with Retry-After."
    ),
}
BAD_TOKEN = (
    "the bearer token is malformed, forged or expired (unauthorized), its session was logged "
    "out (session_revoked), or its account was erased (account_erased)"
)
UNAVAILABLE = (
    "a dependency is down (store_unavailable, log_unavailable); Retry-After. A command that got "
    "it may still have been recorded: retry with the same Idempotency-Key"
)
COMPONENTS = {
    "schemas": {
        "Error": ERROR, "User": USER, "Profile": PROFILE, "Credentials": CREDENTIALS,
        "UserPage": USER_PAGE, "PhotoUpload": PHOTO_UPLOAD, "Post": POST, "PostPage": POST_PAGE,
        "Comment": COMMENT, "CommentPage": COMMENT_PAGE, "CommentBody": COMMENT_BODY,
        "Notification": NOTIFICATION, "NotificationPage": NOTIFICATION_PAGE,
        "ReadMark": READ_MARK, "SearchPage": SEARCH_PAGE, "Dependency": DEPENDENCY,
        "Health": HEALTH, "Readiness": READINESS, "Session": SESSION,
        "PasswordChange": PASSWORD_CHANGE, "PasswordConfirmation": PASSWORD_CONFIRMATION,
    },
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
}  # fmt: skip


@dataclass(frozen=True)
class Op:
    summary: str
    answers: dict[int, str]  # status -> description, or "#Schema: description" for a JSON body
    auth: bool = False
    body: str | None = None  # component schema of the JSON body
    body_optional: bool = False
    params: list[str] = field(default_factory=list)  # query parameters
    idempotent: bool = False  # takes Idempotency-Key (gateway/idempotency.py)
    outages: bool = True  # may answer 503 when a dependency is down

    def all_answers(self) -> dict[int, str]:
        """The declared answers plus those every operation (503), authenticated one (401) or
        keyed one (409, 422) has."""
        extra = {503: UNAVAILABLE} if self.outages else {}
        if self.auth:
            extra[401] = BAD_TOKEN
        if self.idempotent:
            extra |= {409: "an attempt with this Idempotency-Key is in progress (Retry-After)",
                      422: "this Idempotency-Key was used with another body"}  # fmt: skip
        answers = dict(self.answers)
        for status, text in extra.items():
            answers[status] = f"{answers[status]}; or {text}" if status in answers else text
        return answers

    def document(self, path: str) -> dict[str, Any]:
        doc: dict[str, Any] = {"summary": self.summary, "responses": {}}
        path_params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
        doc["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": ID} for p in path_params
        ] + [{"name": q, "in": "query", "schema": {"type": "string"}} for q in self.params]
        if self.idempotent:
            doc["parameters"].append(IDEMPOTENCY_KEY)
        if self.auth:
            doc["security"] = [{"bearer": []}]
        if self.body:
            doc["requestBody"] = {
                "required": not self.body_optional,
                "content": {"application/json": {"schema": _ref(self.body)}},
            }
        for status, text in sorted(self.all_answers().items()):
            schema, _, description = (
                text.partition(": ") if text.startswith("#") else ("", "", text)
            )
            if status >= 400:
                schema = schema or "#Error"
            answer: dict[str, Any] = {"description": description}
            if schema:
                answer["content"] = {"application/json": {"schema": _ref(schema.lstrip("#"))}}
            doc["responses"][str(status)] = answer
        return doc


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SYSTEM = [  # outside the base path: (path, Op); served by gateway/health.py
    ("/healthz", Op("Liveness: 200 while the process serves, with each dependency's last known "
                    "state (no I/O)", {200: "#Health: alive"}, outages=False)),
    ("/readyz", Op("Readiness: checks the broker, Valkey and S3 now, concurrently, each "
                   "bounded by the dependency timeout", {200: "#Readiness: every dependency "
                   "answers", 503: "#Readiness: which checks failed (Retry-After)"},
                   outages=False)),
]  # fmt: skip


DESCRIPTION = (
    'Errors are {"error": {"code", "message"}}. A bearer token names one session: any '
    "route given a revoked token, or one of an erased account, answers 401. Limits answer 429 "
    "with Retry-After: uploads, follows, likes and comments per user; registrations per client "
    "address; failed logins per username and per address (growing waits, reset by a success). "
    "A method a path does not serve answers 405 with Allow."
)


def build_document(operations: list[tuple[str, str, Op]]) -> dict[str, Any]:
    """`operations` are (method, path, Op) triples; paths are given without the /api/v1 base."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, op in operations:
        paths.setdefault(path, {})[method.lower()] = op.document(path)
    for path, op in SYSTEM:
        paths[path] = {"servers": [{"url": "/"}], "get": op.document(path)}
    return {
        "openapi": "3.1.0",
        "info": {"title": "photofeed", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": COMPONENTS,
    }
