"""The OpenAPI 3.1 document served at `/openapi.json`, built from the routes list's own metadata.

Every route in `gateway.app.ROUTES` carries an `Op` (summary, auth, body, answers); a test checks
that the document covers each route, so the contract cannot drift from the code silently.
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
COMPONENTS = {
    "schemas": {
        "Error": ERROR, "User": USER, "Profile": PROFILE, "Credentials": CREDENTIALS,
        "UserPage": USER_PAGE, "PhotoUpload": PHOTO_UPLOAD, "Post": POST, "PostPage": POST_PAGE,
        "Comment": COMMENT, "CommentPage": COMMENT_PAGE, "CommentBody": COMMENT_BODY,
        "Notification": NOTIFICATION, "NotificationPage": NOTIFICATION_PAGE,
        "ReadMark": READ_MARK, "SearchPage": SEARCH_PAGE,
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

    def document(self, path: str) -> dict[str, Any]:
        doc: dict[str, Any] = {"summary": self.summary, "responses": {}}
        path_params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
        doc["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": ID} for p in path_params
        ] + [{"name": q, "in": "query", "schema": {"type": "string"}} for q in self.params]
        if self.auth:
            doc["security"] = [{"bearer": []}]
        if self.body:
            doc["requestBody"] = {
                "required": not self.body_optional,
                "content": {"application/json": {"schema": _ref(self.body)}},
            }
        for status, text in self.answers.items():
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


def build_document(operations: list[tuple[str, str, Op]]) -> dict[str, Any]:
    """`operations` are (method, path, Op) triples; paths are given without the /api/v1 base."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, op in operations:
        paths.setdefault(path, {})[method.lower()] = op.document(path)
    return {
        "openapi": "3.1.0",
        "info": {"title": "photofeed", "version": "1.0.0"},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": COMPONENTS,
    }
