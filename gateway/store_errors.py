"""The object store's refusals as API errors: S3's own message and keys (bucket, `o/<user>/…`
object paths, upload ids) never reach a client; its error code picks a status and a plain
message. Outages (unreachable, 5xx) are not refusals: gateway/outages.py answers them (503).
"""

from __future__ import annotations

from minio.error import S3Error

from gateway.errors import ApiError

# S3 error code -> (status, API code, message); every other refusal is STORE_REFUSED
_REFUSALS: dict[str, tuple[int, str, str]] = {
    code: (422, "invalid_part", "a part's etag does not match the bytes uploaded for it; send "
           "each part_number with the ETag header its upload answered")
    for code in ("InvalidPart", "InvalidPartOrder", "MalformedXML", "InvalidArgument")
} | {
    "EntityTooSmall": (422, "part_too_small", "every part but the last must be part_size "
                       "bytes; re-upload the short part"),
    "NoSuchUpload": (404, "upload_not_found", "this multipart upload expired or was aborted; "
                     "start a new upload"),
    "NoSuchKey": (404, "upload_not_found", "nothing was uploaded for this photo"),
}  # fmt: skip
STORE_REFUSED = (409, "upload_incomplete", "the object store refused the parts; check them or "
                 "start a new upload")  # fmt: skip


def store_refusal(exc: S3Error) -> ApiError:
    """The client's answer to S3 refusing a request (a 4xx of S3's)."""
    status, code, message = _REFUSALS.get(exc.code or "", STORE_REFUSED)
    return ApiError(status, code, message)
