"""What the upload routes share (photos: gateway/routes_photos.py; avatars:
gateway/routes_accounts.py): the per-user upload rate, the accepted types, an upload's purpose,
a direct (multipart/form-data) upload streamed to S3, the `PhotoUploaded` that hands an upload
to the media agent, and the 202 answer that points at its status.

An avatar is an upload like a photo (the same limits, checks and status), whose `purpose` tells
the media agent to cut squares and set the uploader's avatar instead of publishing a post.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from gateway.deps import GatewayDeps
from gateway.errors import ApiError, invalid
from gateway.idempotency import IdSource, request_ids
from gateway.responses import json_response
from gateway.route_kit import append_or_503
from gateway.uploads import UploadSession
from gateway.validation import form_fields
from schemas import events as ev
from schemas.media import ACCEPTED_TYPES, normalise_type, original_key

FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries and text fields around the file
PURPOSES = ("post", "avatar")  # PhotoUploaded.purpose: a post, or the uploader's avatar
# (photo_id, object key, content type, size, the form's text fields) -> the upload's session
SessionOf = Callable[[int, str, str, int, dict[str, str]], UploadSession]
# a stored upload's session -> the tags and mentions its event carries (decided at write time)
TextOf = Callable[[UploadSession], Awaitable[tuple[tuple[str, ...], tuple[ev.Mention, ...]]]]


async def admit_upload(deps: GatewayDeps, me: int) -> None:
    """429 with Retry-After past the per-user upload rate (photos and avatars alike)."""
    wait_s = await deps.upload_limit.acquire(me)
    if wait_s:
        raise ApiError(
            429, "rate_limited",
            f"at most {deps.upload_limit.limit} uploads a minute; retry in {wait_s} s",
            {"Retry-After": str(wait_s)},
        )  # fmt: skip


def accepted_type(raw: str, field: str = "content_type") -> str:
    """The normalised content type; 415 for a type the media agent does not decode."""
    ctype = normalise_type(raw)
    if ctype not in ACCEPTED_TYPES:
        raise ApiError(
            415, "unsupported_media_type",
            f"{field}: {raw!r} is not accepted; send one of {', '.join(sorted(ACCEPTED_TYPES))}",
        )  # fmt: skip
    return ctype


def purpose_field(body: dict[str, Any]) -> str:
    """`purpose`: "post" (absent or null too) or "avatar"; 422 otherwise."""
    value = body.get("purpose")
    if value is None:
        return "post"
    if value not in PURPOSES:
        raise invalid("purpose", f"must be one of {', '.join(PURPOSES)}")
    return str(value)


async def receive_direct(
    request: Request, deps: GatewayDeps, me: int, session_of: SessionOf, max_fields: int = 20,
    text_of: TextOf | None = None,
) -> Response:  # fmt: skip
    """A direct upload: the image in the form field `photo` (411 without Content-Length, 413
    past PHOTOFEED_DIRECT_UPLOAD_MAX_BYTES, 415 for a type not accepted, 422 without a file),
    streamed to S3 from the spooled form, its session stored, `PhotoUploaded` appended; 202."""
    cap = deps.settings.direct_upload_max_bytes
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise ApiError(411, "length_required", "send Content-Length with direct uploads")
    if int(declared) > cap + FORM_OVERHEAD_BYTES:
        message = f"direct uploads are limited to {cap} bytes; use the presigned flow"
        raise ApiError(413, "payload_too_large", message)
    async with form_fields(request, max_files=1, max_fields=max_fields) as form:
        photo = form.get("photo")
        if not isinstance(photo, UploadFile):
            raise invalid("photo", "attach the image as the form field 'photo'")
        ctype = accepted_type(photo.content_type or "", "photo")
        size = photo.size or 0
        if size == 0:
            raise invalid("photo", "the file is empty")
        if size > cap:
            raise ApiError(413, "payload_too_large", f"direct uploads are limited to {cap} bytes")
        ids = request_ids(request)
        photo_id = ids.next_id()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        session = session_of(photo_id, original_key(me, photo_id), ctype, size, fields)
        await photo.seek(0)
        await deps.store.put(session.object_key, photo.file, size, ctype)  # streamed from disk
    await deps.uploads.create(session, deps.settings.upload_session_ttl_s)
    await deps.uploads.mark_completed(photo_id)
    stored = await deps.store.stat(session.object_key)
    tags, mentions = await text_of(session) if text_of else (session.tags, ())
    etag = stored.etag if stored else ""
    await append_or_503(deps, uploaded_event(deps, ids, session, etag, tags, mentions))
    return processing(photo_id)


def uploaded_event(
    deps: GatewayDeps, ids: IdSource, s: UploadSession, etag: str,
    tags: tuple[str, ...] | None = None, mentions: tuple[ev.Mention, ...] = (),
) -> ev.PhotoUploaded:  # fmt: skip
    """The upload as checked: `etag` pins the original's version, so bytes PUT again through a
    still-valid presigned URL after `complete` are refused by the media agent."""
    return ev.PhotoUploaded(
        event_id=ids.next_id(), occurred_at=datetime.fromtimestamp(deps.clock(), tz=UTC),
        actor_id=s.owner_id, photo_id=s.photo_id, object_key=s.object_key,
        content_type=s.content_type, size_bytes=s.size_bytes, caption=s.caption,
        tags=s.tags if tags is None else tags,
        location=ev.Location(*s.location) if s.location else None, alt_text=s.alt_text,
        object_etag=etag or None, purpose=s.purpose, mentions=mentions,
    )  # fmt: skip


def processing(photo_id: int) -> Response:
    """202: the upload is with the media agent; poll its status."""
    return json_response(
        {"photo_id": str(photo_id), "status": "processing",
         "poll_url": f"/api/v1/photos/{photo_id}/status"},
        202,
    )  # fmt: skip
