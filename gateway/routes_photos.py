"""Photo uploads (presigned PUT, S3 multipart, direct multipart/form-data), status, variants."""

from __future__ import annotations

import math
from typing import Any

import structlog
from minio.error import S3Error
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.auth import deps_of, require_user, viewer
from gateway.deps import GatewayDeps
from gateway.errors import ApiError, invalid, not_found
from gateway.idempotency import request_ids
from gateway.media_intake import (
    accepted_type,
    admit_upload,
    processing,
    purpose_field,
    receive_direct,
    uploaded_event,
)
from gateway.mentions import resolve_mentions
from gateway.outages import outage_of
from gateway.responses import json_response, rfc3339
from gateway.route_kit import append_or_503
from gateway.store_errors import store_refusal
from gateway.uploads import UploadSession
from gateway.validation import (
    MAX_ALT_TEXT,
    MAX_CAPTION,
    int_field,
    json_object,
    location_value,
    optional_string,
    path_id,
    string_field,
    tags_value,
)
from infra.objectstore import IMMUTABLE
from projections.text import hashtags, merge_tags
from schemas import events as ev
from schemas.media import VARIANTS, original_key

log = structlog.get_logger("photofeed.gateway")


async def create_photo(request: Request) -> Response:
    deps = deps_of(request)
    me = require_user(request)
    form = request.headers.get("content-type", "").startswith("multipart/form-data")
    await admit_upload(deps, me)
    if form:
        return await _direct_upload(request, deps, me)
    return await _presigned_upload(request, deps, me)


async def _presigned_upload(request: Request, deps: GatewayDeps, me: int) -> Response:
    body = await json_object(request)
    string_field(body, "filename")
    ctype = accepted_type(string_field(body, "content_type"))
    size = int_field(body, "size_bytes", 1, 2**62)
    if size > deps.settings.max_upload_bytes:
        raise ApiError(
            413,
            "payload_too_large",
            f"photos are limited to {deps.settings.max_upload_bytes} bytes",
        )
    photo_id = request_ids(request).next_id()
    key = original_key(me, photo_id)
    ttl = deps.settings.upload_url_ttl_s
    expires_ms = int((deps.clock() + ttl) * 1000)
    answer: dict[str, Any] = {
        "photo_id": str(photo_id), "upload_method": "PUT",
        "upload_headers": {"Content-Type": ctype}, "expires_at": rfc3339(expires_ms),
    }  # fmt: skip
    upload_id, part_bytes = None, None
    if size > deps.settings.multipart_threshold_bytes:
        part_bytes = deps.settings.multipart_part_bytes
        upload_id = await deps.store.start_multipart(key, ctype)
        count = math.ceil(size / part_bytes)
        answer["multipart"] = {
            "upload_id": upload_id,
            "part_size": part_bytes,
            "parts": [
                {
                    "part_number": n,
                    "upload_url": deps.store.presign_part(
                        key, upload_id, n, min(part_bytes, size - (n - 1) * part_bytes), ttl
                    ),
                }
                for n in range(1, count + 1)
            ],
        }
    else:
        answer["upload_url"] = deps.store.presign_put(key, ctype, size, ttl)
    session = UploadSession(
        photo_id, me, key, ctype, size, _caption(body), tags_value(body.get("tags")),
        location_value(body.get("location")), optional_string(body, "alt_text", MAX_ALT_TEXT),
        upload_id, part_bytes, expires_ms, purpose_field(body),
    )  # fmt: skip
    await deps.uploads.create(session, deps.settings.upload_session_ttl_s)
    return json_response(answer)


def _caption(body: dict[str, Any]) -> str:
    return optional_string(body, "caption", MAX_CAPTION) or ""


async def complete_upload(request: Request) -> Response:
    """202 processing. The body (the parts of a multipart upload; none otherwise) is read and
    checked as JSON first, whatever the upload: malformed input is refused, never ignored."""
    deps = deps_of(request)
    me = require_user(request)
    photo_id = path_id(request, "photo_id", "photo")
    parts = _parts(await json_object(request, empty=True))
    found = await deps.uploads.get(photo_id)
    if found is None:
        raise not_found("upload")
    session, completed = found
    if session.owner_id != me:
        raise ApiError(403, "forbidden", "this upload belongs to someone else")
    if completed:
        return processing(photo_id)  # idempotent: a retried complete appends nothing
    if session.upload_id is not None:
        await _complete_multipart(parts, deps, session)
    info = await deps.store.stat(session.object_key)
    if info is None:
        raise ApiError(409, "not_uploaded", "nothing was uploaded for this photo yet")
    if info.size != session.size_bytes:
        raise ApiError(409, "size_mismatch", f"uploaded {info.size} bytes, announced "
                       f"{session.size_bytes}")  # fmt: skip
    if not await deps.uploads.mark_completed(photo_id):
        return processing(photo_id)  # a concurrent complete won the race
    try:
        tags, mentions = await _post_text(deps, session)
        event = uploaded_event(deps, request_ids(request), session, info.etag, tags, mentions)
        await append_or_503(deps, event)
    except Exception:
        await deps.uploads.unmark_completed(photo_id)
        raise
    return processing(photo_id)


def _parts(body: dict[str, Any]) -> list[tuple[int, str]] | None:
    """The body's `parts` as (part_number, etag), None when absent; 422 when malformed."""
    if "parts" not in body:
        return None
    raw = body["parts"]
    if not isinstance(raw, list) or not raw:
        raise invalid("parts", "must list every uploaded part as {part_number, etag}")
    parts = []
    for item in raw:
        if not isinstance(item, dict):
            raise invalid("parts", "each part is an object {part_number, etag}")
        parts.append((int_field(item, "part_number", 1, 10_000), string_field(item, "etag")))
    return parts


async def _complete_multipart(
    parts: list[tuple[int, str]] | None, deps: GatewayDeps, s: UploadSession
) -> None:
    if await deps.store.stat(s.object_key) is not None:
        return  # assembled by an earlier call whose event append failed
    if parts is None:
        raise invalid("parts", "must list every uploaded part as {part_number, etag}")
    assert s.upload_id is not None
    assert s.part_bytes is not None
    expected = math.ceil(s.size_bytes / s.part_bytes)
    if sorted(n for n, _ in parts) != list(range(1, expected + 1)):
        raise ApiError(409, "upload_incomplete", f"expected parts 1..{expected}")
    try:
        await deps.store.complete_multipart(s.object_key, s.upload_id, parts)
    except S3Error as exc:
        if outage_of(exc) is not None:
            raise  # S3 unreachable: 503, the parts may be fine
        log.info("multipart_refused", photo_id=s.photo_id, s3_code=exc.code)
        raise store_refusal(exc) from None  # never S3's message: it names bucket and keys


async def _post_text(
    deps: GatewayDeps, s: UploadSession
) -> tuple[tuple[str, ...], tuple[ev.Mention, ...]]:
    """A post's tags (its explicit ones, then its caption's hashtags: projections/text.py) and
    its caption's @mentions resolved to users (gateway/mentions.py), decided now so the event
    carries them; an avatar's caption is none of a post's."""
    if s.purpose != "post":
        return s.tags, ()
    mentions = await resolve_mentions(deps, s.owner_id, s.caption)
    return merge_tags(s.tags, hashtags(s.caption)), mentions


async def _direct_upload(request: Request, deps: GatewayDeps, me: int) -> Response:
    """A post's direct upload: the image and its text fields in one form
    (gateway/media_intake.py receives it; the caption's tags and mentions are decided here)."""

    def session_of(photo_id: int, key: str, ctype: str, size: int,
                   fields: dict[str, str]) -> UploadSession:  # fmt: skip
        body: dict[str, Any] = {
            "caption": fields.get("caption"), "alt_text": fields.get("alt_text"),
            "tags": _form_list(fields.get("tags")), "location": _form_location(fields),
        }  # fmt: skip
        return UploadSession(
            photo_id, me, key, ctype, size, _caption(body), tags_value(body["tags"]),
            location_value(body["location"]), optional_string(body, "alt_text", MAX_ALT_TEXT),
        )  # fmt: skip

    async def text_of(session: UploadSession) -> tuple[tuple[str, ...], tuple[ev.Mention, ...]]:
        return await _post_text(deps, session)

    return await receive_direct(request, deps, me, session_of, text_of=text_of)


def _form_list(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    return [t.strip() for t in raw.replace(",", " ").split() if t.strip()]


def _form_location(fields: dict[str, str]) -> dict[str, float] | None:
    if "lat" not in fields and "lon" not in fields:
        return None
    try:
        return {"lat": float(fields.get("lat", "")), "lon": float(fields.get("lon", ""))}
    except ValueError:
        raise invalid("location", "lat and lon must be numbers") from None


async def photo_status(request: Request) -> Response:
    deps = deps_of(request)
    me = require_user(request)
    photo_id = path_id(request, "photo_id", "photo")
    view = await (await deps.photos()).photo(photo_id)
    if view is None:
        found = await deps.uploads.get(photo_id)
        if found is None or found[0].owner_id != me:
            raise not_found("photo")
        if not found[1]:
            raise ApiError(409, "not_uploaded", "complete the upload first")
        return json_response({"photo_id": str(photo_id), "status": "processing"})
    if view.owner_id != me:
        raise not_found("photo")
    answer: dict[str, Any] = {"photo_id": str(photo_id), "status": view.status}
    if view.status == "published":
        answer |= {
            "urls": {n: deps.store.public_url(k) for n, k in view.variants.items()},
            "width": view.width, "height": view.height, "blurhash": view.blurhash,
            "published_at": rfc3339(view.published_ms or 0),
            "post_id": str(view.post_id) if view.post_id is not None else None,  # avatar: null
        }  # fmt: skip
    elif view.status == "rejected":
        answer |= {"reason": view.reason, "reason_code": view.reason_code}
    return json_response(answer)


async def photo_variant(request: Request) -> Response:
    deps = deps_of(request)
    viewer(request)
    photo_id = path_id(request, "photo_id", "photo")
    size = request.query_params.get("size", "feed")
    if size not in VARIANTS:
        raise invalid("size", f"must be one of {', '.join(VARIANTS)}")
    view = await (await deps.photos()).photo(photo_id)
    if view is not None and view.status == "deleted":
        raise ApiError(410, "gone", "the photo was deleted")
    if view is None or view.status != "published" or size not in view.variants:
        raise not_found("photo")
    return RedirectResponse(
        deps.store.public_url(view.variants[size]), 302, headers={"Cache-Control": IMMUTABLE}
    )
