"""Request parsing with clear errors: malformed JSON is 400, a wrong or missing field is 422.

The limits and patterns here are also what `/openapi.json` publishes (gateway/openapi_schemas.py
reads them), so a value the document allows is one these functions accept, and the reverse.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from gateway.errors import ApiError, bad_request, invalid
from schemas.ids import parse_id

MAX_JSON_BYTES = 64 * 1024  # commands are small; photos never travel as JSON
USERNAME = re.compile(r"^[a-z0-9_][a-z0-9_.]{1,28}[a-z0-9_]\Z")  # 3..30 chars, no edge dots
# what a client may send for one: any ASCII case, spaces around it (lower-cased and trimmed)
USERNAME_INPUT = r"^ *[A-Za-z0-9_][A-Za-z0-9_.]{1,28}[A-Za-z0-9_] *$"
_USERNAME_INPUT = re.compile(USERNAME_INPUT.removesuffix("$") + r"\Z")
PASSWORD_MIN, PASSWORD_MAX = 8, 256  # argon2 hashes any length; the cap bounds hashing work


async def json_object(request: Request, empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object; with `empty`, no body at all reads as {} (so its required
    fields are 422s, not a 400 for JSON that is not there)."""
    ctype = request.headers.get("content-type", "")
    if ctype and not ctype.startswith("application/json"):
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    declared = request.headers.get("content-length")
    if declared is not None and ascii_digits(declared) and int(declared) > MAX_JSON_BYTES:
        raise ApiError(
            413, "payload_too_large", f"JSON bodies are limited to {MAX_JSON_BYTES} bytes"
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise ApiError(
                413, "payload_too_large", f"JSON bodies are limited to {MAX_JSON_BYTES} bytes"
            )
    if empty and not body:
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"malformed JSON: {exc}", "malformed_json") from None
    if not isinstance(value, dict):
        raise bad_request("the body must be a JSON object", "malformed_json")
    return value


@asynccontextmanager
async def form_fields(request: Request, max_files: int, max_fields: int) -> AsyncIterator[FormData]:
    """The multipart/form-data body, its files closed on exit. A malformed body, or one with
    more files or fields than allowed, is 400 malformed_form (Starlette raises its own
    HTTPException, which the dispatcher would answer with a 500)."""
    try:
        form = await request.form(max_files=max_files, max_fields=max_fields)
    except HTTPException as exc:
        raise bad_request(
            f"malformed multipart/form-data: {exc.detail}", "malformed_form"
        ) from None
    try:
        yield form
    finally:
        await form.close()


def string_field(body: dict[str, Any], name: str) -> str:
    if name not in body:
        raise invalid(name, "is required")
    value = body[name]
    if not isinstance(value, str):
        raise invalid(name, f"must be a string, not {_json_type(value)}")
    return value


def optional_string(body: dict[str, Any], name: str, max_len: int) -> str | None:
    if body.get(name) is None:
        return None
    value = string_field(body, name)
    if len(value) > max_len:
        raise invalid(name, f"must be at most {max_len} characters")
    return value


def int_field(body: dict[str, Any], name: str, low: int, high: int) -> int:
    """An integer from low to high; 5.0 is one too, as JSON Schema's "integer" says."""
    if name not in body:
        raise invalid(name, "is required")
    value = body[name]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(name, f"must be an integer, not {_json_type(value)}")
    if not low <= value <= high:
        raise invalid(name, f"must be from {low} to {high}")
    return value


TAG = re.compile(r"^\w{1,50}\Z")  # letters, digits, underscore in any script; no '#'
TAG_INPUT = r"^#?\w{1,50}$"  # a tag as sent: TAG with an optional leading '#'
MAX_TAGS = 30
MAX_CAPTION = 2200  # Instagram's caption limit
MAX_ALT_TEXT = 1000  # a screen reader's description of the photo
LIMIT_DEFAULT, LIMIT_MAX = 20, 100  # ?limit= of every list; 1 <= default <= max


MAX_COMMENT = 2200  # Instagram's comment limit


COMMENT_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"  # something besides whitespace, no NUL


def comment_text(body: dict[str, Any]) -> str:
    """A comment's text as sent: 1..MAX_COMMENT characters, not only whitespace, no NUL; stored
    with surrounding whitespace dropped."""
    raw = string_field(body, "text")
    if len(raw) > MAX_COMMENT:
        raise invalid("text", f"must be at most {MAX_COMMENT} characters, not {len(raw)}")
    value = raw.strip()
    if not value:
        raise invalid("text", "must not be empty")
    if "\x00" in value:
        raise invalid("text", "must not contain NUL characters")
    return value


def tags_value(raw: Any, name: str = "tags") -> tuple[str, ...]:
    """Tags as a JSON array of strings (a leading '#' is dropped); lower-cased, unique, in order."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise invalid(name, "must be an array of strings")
    tags = [t.removeprefix("#") for t in raw]
    if len(tags) > MAX_TAGS:
        raise invalid(name, f"at most {MAX_TAGS} tags")
    for tag in tags:  # checked as sent: lower-casing may turn a letter into two characters
        if not TAG.match(tag):
            raise invalid(name, f"{tag!r} is not a tag (1-50 letters, digits or _)")
    return tuple(dict.fromkeys(t.lower() for t in tags))


def location_value(raw: Any, name: str = "location") -> tuple[float, float] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid(name, "must be an object with lat and lon")
    lat, lon = raw.get("lat"), raw.get("lon")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        raise invalid(name, "lat and lon must be numbers")
    assert isinstance(lat, int | float)
    assert isinstance(lon, int | float)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise invalid(name, "lat must be within -90..90 and lon within -180..180")
    return float(lat), float(lon)


def username_field(body: dict[str, Any]) -> str:
    """The canonical (lower-case) username. Checked before lower-casing, as ASCII: Unicode case
    folding would turn the Kelvin sign into a 'k' and admit a name the pattern refuses."""
    raw = string_field(body, "username")
    if not _USERNAME_INPUT.match(raw):
        raise invalid(
            "username",
            "must be 3 to 30 characters of a-z, 0-9, '_' or '.', not starting or ending with '.'",
        )
    return raw.strip(" ").lower()


def password_field(body: dict[str, Any], name: str = "password") -> str:
    value = string_field(body, name)
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise invalid(name, f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    return value


def path_id(request: Request, name: str, what: str) -> int:
    """An id from the path; a malformed one answers 404 as an unknown id would."""
    value = parse_id(request.path_params[name])
    if value is None:
        raise ApiError(404, "not_found", f"{what} does not exist")
    return value


def limit_param(request: Request, default: int = LIMIT_DEFAULT, maximum: int = LIMIT_MAX) -> int:
    """`?limit=`: ASCII digits only (str.isdigit also takes '²' and other digits int() refuses)."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not ascii_digits(raw, 6) or not 1 <= int(raw) <= maximum:
        raise invalid("limit", f"must be an integer from 1 to {maximum}")
    return int(raw)


def ascii_digits(text: str, max_len: int = 19) -> bool:
    """1..max_len ASCII digits, nothing else: safe for int(), bounded in size."""
    return 0 < len(text) <= max_len and text.isascii() and text.isdigit()


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "an array",
             dict: "an object", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)
