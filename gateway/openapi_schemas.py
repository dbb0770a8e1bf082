"""The JSON Schemas of `/openapi.json`: request bodies exactly as gateway/validation.py accepts
them, answers exactly as the routes render them (every property a route always sends is
`required`), so a generated client can trust both directions.

Limits that are settings (upload sizes) come in through `Limits`; every other bound is read from
the module that enforces it, never restated here. tests/e2e/test_openapi_schemathesis.py runs
schemathesis against a live gateway to hold the two sides together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.media_intake import PURPOSES
from gateway.profiles import BIO_PATTERN, DISPLAY_NAME_PATTERN, MAX_BIO, MAX_DISPLAY_NAME
from gateway.validation import (
    COMMENT_TEXT,
    MAX_ALT_TEXT,
    MAX_CAPTION,
    MAX_COMMENT,
    MAX_TAGS,
    PASSWORD_MAX,
    PASSWORD_MIN,
    TAG_INPUT,
    USERNAME_INPUT,
)
from infra.settings import Settings
from schemas.media import ACCEPTED_TYPES, AVATAR_SHOWN, AVATAR_SIZES, VARIANTS

Schema = dict[str, Any]
ID_PATTERN = "^[1-9][0-9]{0,18}$"  # schemas.ids.parse_id: no sign, no leading zero, < 2**63
ID: Schema = {"type": "string", "pattern": ID_PATTERN, "description": "Snowflake id, decimal"}
NULLABLE_ID: Schema = {**ID, "type": ["string", "null"]}
TIME: Schema = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC"}
URL: Schema = {"type": "string", "format": "uri"}
CURSOR_OUT: Schema = {"type": ["string", "null"], "description": "pass as ?cursor= for the next "
                      "page; null on the last page"}  # fmt: skip
MAX_PART_NUMBER = 10_000  # S3's part numbers; routes_photos._complete_multipart checks the same
FORM_TAGS = (  # routes_photos._form_list: tags separated by commas or whitespace
    r"^[\s,]*(?:#?\w{1,50}(?:[\s,]+#?\w{1,50}){0," + str(MAX_TAGS - 1) + r"})?[\s,]*$"
)


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: Schema, required: list[str] | None = None, **extra: Any) -> Schema:
    """An object whose `required` defaults to every property (what the routes always send)."""
    return {"type": "object", "required": list(props) if required is None else required,
            "properties": props, **extra}  # fmt: skip


def _page(key: str, item: str) -> Schema:
    return _obj({key: {"type": "array", "items": _ref(item)}, "next_cursor": CURSOR_OUT,
                 "has_more": {"type": "boolean"}})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Limits:
    """The settings the document publishes as bounds."""

    max_upload_bytes: int
    direct_upload_max_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.max_upload_bytes, settings.direct_upload_max_bytes)


USER_PROPS: Schema = {
    "user_id": ID,
    "username": {"type": "string"},
    "display_name": {"type": ["string", "null"], "description": "null: none set"},
    "avatar_url": {
        "type": ["string", "null"],
        "description": f"the avatar's {AVATAR_SHOWN} px square (immutable); null: no avatar",
    },
    "followed_by_viewer": {"type": "boolean", "description": "in lists and profiles"},
    "private": {
        "type": "boolean",
        "description": "only the accounts it approved as followers see its posts, lists and "
        "comments (403 `private_account` for others); its profile stays visible",
    },
}
USERNAME: Schema = {"type": "string", "pattern": USERNAME_INPUT, "description": "3 to 30 of "
                    "a-z, 0-9, _ and . (not first or last); any case and surrounding spaces are "
                    "accepted and normalised to lower case"}  # fmt: skip
PASSWORD: Schema = {"type": "string", "minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX}
CAPTION: Schema = {"type": ["string", "null"], "maxLength": MAX_CAPTION}
ALT_TEXT: Schema = {"type": ["string", "null"], "maxLength": MAX_ALT_TEXT}
TAGS: Schema = {
    "type": ["array", "null"], "maxItems": MAX_TAGS,
    "items": {"type": "string", "pattern": TAG_INPUT},
    "description": "letters, digits and _ in any script, 1-50 each; a leading # is dropped; "
                   "stored lower-cased and de-duplicated",
}  # fmt: skip
LOCATION: Schema = {
    "type": ["object", "null"], "required": ["lat", "lon"],
    "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
                   "lon": {"type": "number", "minimum": -180, "maximum": 180}},
}  # fmt: skip
MENTIONS: Schema = {
    "type": "array", "items": _ref("Mention"),
    "description": "the @names of the text that named a user when it was written, in order "
                   "(at most 20; unknown names, and those of users erased since, are plain text)",
}  # fmt: skip
POST_PROPS: Schema = {
    "post_id": ID, "user": _ref("User"), "caption": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"},
             "description": "normalised (case-folded, NFKC): the explicit tags, then the "
                            "caption's #hashtags, at most 30"},
    "image_urls": {"type": "object", "properties": {n: URL for n in VARIANTS},
                   "additionalProperties": False},
    "width": {"type": "integer"}, "height": {"type": "integer"}, "blurhash": {"type": "string"},
    "alt_text": {"type": ["string", "null"]}, "like_count": {"type": "integer", "minimum": 0},
    "comment_count": {"type": "integer", "minimum": 0}, "liked_by_viewer": {"type": "boolean"},
    "created_at": TIME, "mentions": MENTIONS,
}  # fmt: skip
NOTIFICATION_PROPS: Schema = {
    "notification_id": {**ID, "description": "event id of the newest activity; moves on"},
    "type": {"type": "string", "enum": ["like", "comment", "follow", "mention"],
             "description": "mention: in a post's caption, or in a comment (comment_id, text)"},
    "actors": {"type": "array", "items": _ref("User"), "description": "newest first, at most 3"},
    "actor_count": {"type": "integer", "minimum": 0,
                    "description": "all actors: 'ana and N-1 others'"},
    "created_at": TIME, "read": {"type": "boolean"},
    "post_id": {**ID, "description": "likes, comments and mentions"},
    "thumbnail_url": {"type": ["string", "null"]},
    "comment_id": {**ID, "description": "comments, and mentions in one"},
    "text": {"type": ["string", "null"], "description": "the comment; null once deleted"},
}  # fmt: skip
MULTIPART = _obj({
    "upload_id": {"type": "string"}, "part_size": {"type": "integer", "minimum": 1},
    "parts": {"type": "array", "minItems": 1, "items": _obj(
        {"part_number": {"type": "integer", "minimum": 1}, "upload_url": URL})},
})  # fmt: skip


EXAMPLES: dict[str, Schema] = {  # one valid body each: the docs page's "Try it out" starts from it
    "Credentials": {"username": "ana", "password": "correct horse"},
    "PasswordChange": {"current_password": "correct horse", "new_password": "battery staple"},
    "PasswordConfirmation": {"password": "correct horse"},
    "CommentBody": {"text": "what a light!"},
    "ReadMark": {},
    "ProfilePatch": {"display_name": "Ana Lima", "bio": "light chaser\nLisbon"},
    "PhotoUpload": {"filename": "sunset.jpg", "content_type": "image/jpeg", "size_bytes": 812345,
                    "caption": "sunset at the pier #sea", "tags": ["sunset"],
                    "alt_text": "an orange sun over a wooden pier"},
    "CompleteParts": {"parts": [{"part_number": 1, "etag": '"5d41402abc4b2a76b9719d911017c592"'},
                                {"part_number": 2, "etag": '"7d793037a0760186574b0282f2f435e7"'}]},
}  # fmt: skip


def request_schemas(limits: Limits) -> dict[str, Schema]:
    """Bodies the API reads (component names), each with an example."""
    schemas = _request_schemas(limits)
    for name, example in EXAMPLES.items():
        schemas[name] = {**schemas[name], "examples": [example]}
    return schemas


def _request_schemas(limits: Limits) -> dict[str, Schema]:
    return {
        "Credentials": _obj({"username": USERNAME, "password": PASSWORD}),
        "PasswordChange": _obj({"current_password": PASSWORD, "new_password": PASSWORD}),
        "PasswordConfirmation": _obj({"password": PASSWORD}),
        "CommentBody": _obj(
            {
                "text": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_COMMENT,
                    "pattern": COMMENT_TEXT,
                }
            }
        ),
        "ReadMark": _obj(
            {
                "up_to_id": {
                    **NULLABLE_ID,
                    "description": "a notification_id; absent or null: everything until now",
                }
            },
            [],
        ),
        "PhotoUpload": _obj(
            {
                "filename": {"type": "string", "description": "informative only"},
                "content_type": {"type": "string", "enum": sorted(ACCEPTED_TYPES)},
                "size_bytes": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": limits.max_upload_bytes,
                    "description": "exact; the upload URL is locked to it",
                },
                "caption": CAPTION,
                "tags": TAGS,
                "location": LOCATION,
                "alt_text": ALT_TEXT,
                "purpose": {
                    "type": ["string", "null"],
                    "enum": [*PURPOSES, None],
                    "default": "post",
                    "description": "post (a post once processed) or avatar (the uploader's "
                    "avatar: caption, tags, location and alt_text are not used)",
                },
            },
            ["filename", "content_type", "size_bytes"],
        ),
        "ProfilePatch": _obj(
            {
                "display_name": {
                    "type": ["string", "null"],
                    "pattern": DISPLAY_NAME_PATTERN,
                    "description": f"1 to {MAX_DISPLAY_NAME} characters once trimmed of "
                    "surrounding whitespace, no control characters; empty or null clears it",
                },
                "bio": {
                    "type": ["string", "null"],
                    "pattern": BIO_PATTERN,
                    "description": f"up to {MAX_BIO} characters once trimmed, newlines allowed, "
                    "no other control characters; empty or null clears it",
                },
                "private": {
                    "type": "boolean",
                    "description": "only approved followers see a private account's posts",
                },
            },
            [],
            additionalProperties=False,
        ),
        "DirectAvatar": _obj(
            {
                "photo": {
                    "type": "string",
                    "format": "binary",
                    "description": "the image, at most "
                    f"{limits.direct_upload_max_bytes} bytes, sent with its Content-Type",
                },
            },
            ["photo"],
        ),
        "DirectUpload": _obj(
            {
                "photo": {
                    "type": "string",
                    "format": "binary",
                    "description": "the image, at most "
                    f"{limits.direct_upload_max_bytes} bytes, sent with its Content-Type",
                },
                "caption": {"type": "string", "maxLength": MAX_CAPTION},
                "tags": {
                    "type": "string",
                    "pattern": FORM_TAGS,
                    "description": f"up to {MAX_TAGS} "
                    "tags separated by spaces or commas, each as in PhotoUpload.tags",
                },
                "alt_text": {"type": "string", "maxLength": MAX_ALT_TEXT},
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
            },
            ["photo"],
            dependentRequired={"lat": ["lon"], "lon": ["lat"]},
        ),
        "CompleteParts": _obj(
            {
                "parts": {
                    "type": "array",
                    "minItems": 1,
                    "description": "multipart uploads: every part, as its upload answered "
                    "(required then; other uploads need no body)",
                    "items": _obj(
                        {
                            "part_number": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_PART_NUMBER,
                            },
                            "etag": {"type": "string", "description": "the part's ETag header"},
                        }
                    ),
                }
            },
            [],
        ),
    }


RESPONSE_SCHEMAS: dict[str, Schema] = {
    "Error": _obj({"error": _obj({"code": {"type": "string"}, "message": {"type": "string"}})}),
    "User": _obj(USER_PROPS, ["user_id"]),
    "Profile": _obj(
        {
            **USER_PROPS,
            "bio": {"type": ["string", "null"]},
            "avatar_urls": {
                "type": ["object", "null"],
                "required": [str(n) for n in AVATAR_SIZES],
                "properties": {str(n): URL for n in AVATAR_SIZES},
                "additionalProperties": False,
                "description": "the avatar's squares by size in px; null: no uploaded avatar",
            },
            "follower_count": {"type": "integer", "minimum": 0},
            "following_count": {"type": "integer", "minimum": 0},
            "post_count": {"type": "integer", "minimum": 0},
            "requested_by_viewer": {
                "type": "boolean",
                "description": "the viewer asked to follow this private account and it has not "
                "answered yet; false when anonymous",
            },
            "muted_by_viewer": {
                "type": "boolean",
                "description": "the viewer muted them (their posts and activity stay out of the "
                "viewer's feed and notifications); false when anonymous",
            },
        }
    ),
    "Registered": _obj({"user_id": ID, "username": {"type": "string"}}),
    "Session": _obj(
        {
            "token": {
                "type": "string",
                "description": "bearer token of one session; revoked by "
                "DELETE /sessions/current, DELETE /sessions, a password change, erasure",
            },
            "user_id": ID,
            "expires_at": TIME,
        }
    ),
    "Erasure": _obj({"user_id": ID, "status": {"const": "erasing"}}),
    "FollowRequested": _obj({"status": {"const": "requested"}}),
    "UserPage": _page("users", "User"),
    "Post": _obj(POST_PROPS),
    "PostPage": _page("posts", "Post"),
    "Comment": _obj(
        {
            "comment_id": ID,
            "post_id": ID,
            "user": _ref("User"),
            "text": {"type": "string"},
            "created_at": TIME,
            "mentions": MENTIONS,
        }
    ),
    "CommentPage": _page("comments", "Comment"),
    "Mention": _obj(
        {
            "user_id": ID,
            "username": {"type": "string", "description": "as written: text[start + 1:end]"},
            "start": {"type": "integer", "minimum": 0, "description": "code point of the @"},
            "end": {"type": "integer", "minimum": 1, "description": "code point past the name"},
        }
    ),
    "Notification": _obj(
        NOTIFICATION_PROPS,
        ["notification_id", "type", "actors", "actor_count", "created_at", "read"],
    ),
    "NotificationPage": _page("notifications", "Notification"),
    "SearchPage": _obj(
        {
            "posts": {"type": "array", "items": _ref("Post")},
            "users": {
                "type": "array",
                "items": _ref("User"),
                "description": "filled instead of posts when the query is only @name",
            },
            "next_cursor": CURSOR_OUT,
            "has_more": {"type": "boolean"},
        }
    ),
    "PresignedUpload": _obj(
        {
            "photo_id": ID,
            "upload_method": {"const": "PUT"},
            "upload_headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "send exactly these with every PUT",
            },
            "expires_at": TIME,
            "upload_url": {
                **URL,
                "description": "one PUT of the whole file (up to the multipart threshold)",
            },
            "multipart": {
                **MULTIPART,
                "description": "larger files: PUT each part to its URL, "
                "then complete with every part's ETag",
            },
        },
        ["photo_id", "upload_method", "upload_headers", "expires_at"],
        oneOf=[{"required": ["upload_url"]}, {"required": ["multipart"]}],
    ),
    "Processing": _obj(
        {
            "photo_id": ID,
            "status": {"const": "processing"},
            "poll_url": {"type": "string", "format": "uri-reference"},
        }
    ),
    "PhotoStatus": _obj(
        {
            "photo_id": ID,
            "status": {
                "type": "string",
                "enum": ["processing", "published", "rejected", "deleted"],
            },
            "urls": {
                "type": "object",
                "properties": {n: URL for n in (*VARIANTS, *map(str, AVATAR_SIZES))},
                "description": "published: a photo's thumbnail, feed and full; an avatar's "
                "squares 64, 150 and 320",
            },
            "width": {"type": ["integer", "null"]},
            "height": {"type": ["integer", "null"]},
            "blurhash": {"type": ["string", "null"]},
            "published_at": TIME,
            "post_id": {
                **NULLABLE_ID,
                "description": "published: GET /posts/{post_id}; null for an avatar",
            },
            "reason_code": {
                "type": ["string", "null"],
                "description": "rejected: undecodable, "
                "too_many_pixels, extreme_aspect_ratio, corrupt, processing_failed, …",
            },
            "reason": {"type": ["string", "null"], "description": "rejected: for people"},
        },
        ["photo_id", "status"],
    ),
    "Dependency": _obj(
        {
            "state": {"type": "string", "enum": ["up", "down", "unknown"]},
            "checked_at": {"type": ["string", "null"], "description": "RFC 3339, last observation"},
            "error": {"type": "string"},
        },
        ["state", "checked_at"],
    ),
    "Health": _obj(
        {
            "status": {"const": "ok"},
            "dependencies": {
                "type": "object",
                "additionalProperties": _ref("Dependency"),
                "description": "broker, valkey, s3: last known state",
            },
        }
    ),
    "Readiness": _obj(
        {
            "status": {"type": "string", "enum": ["ready", "unavailable"]},
            "checks": {
                "type": "object",
                "additionalProperties": _obj(
                    {
                        "ok": {"type": "boolean"},
                        "ms": {"type": "number"},
                        "error": {"type": "string"},
                    },
                    ["ok", "ms"],
                ),
            },
        }
    ),
}


def component_schemas(limits: Limits) -> dict[str, Schema]:
    return {**RESPONSE_SCHEMAS, **request_schemas(limits)}
