"""The web client's files: `/` and `/index.html` (the page) and `/web/...` (CSS, JavaScript
modules, icons) from gateway/web/, with no build step.

Contract:
- Only regular files under gateway/web/ with a known extension are served, each with its exact
  content type. Every path segment must be a plain name (letters, digits, `_`, `-`, `.`, not
  starting with a dot): `..`, hidden files and anything resolving outside the directory are
  404, exactly as a missing file is.
- Every answer carries a strong ETag and `Cache-Control: no-cache` (revalidate: the files have
  no content hashes in their names); a matching `If-None-Match` is 304 without a body.
- Every answer carries a strict Content-Security-Policy (scripts and styles from this origin
  only, no inline code; images also from the S3 public origin, fetches also to the S3 endpoint
  that presigned uploads go to), `X-Content-Type-Options: nosniff` and `Referrer-Policy`.
- The dispatcher's path parameters match one segment each, so `/web/{first}`,
  `/web/{first}/{second}` and `/web/{first}/{second}/{third}` are registered.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from gateway.asgi import Route
from gateway.auth import deps_of
from gateway.errors import ApiError
from infra.settings import Settings

WEB_ROOT = Path(__file__).resolve().with_name("web")
SEGMENT_PARAMS = ("first", "second", "third")  # /web/js/views/feed.js: three segments deep
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}
SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")
REFERRER_POLICY = "no-referrer"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


_cache: dict[Path, tuple[int, int, Asset]] = {}  # path -> (mtime_ns, size, asset)


def load_asset(segments: list[str], root: Path = WEB_ROOT) -> Asset | None:
    """The file at `root/segments...`, or None when it is missing or not servable (see the
    module's contract). Read once per change of its mtime or size."""
    if not segments or not all(SEGMENT.fullmatch(s) for s in segments):
        return None
    path = root.joinpath(*segments)
    content_type = TYPES.get(path.suffix)
    if content_type is None:
        return None
    try:
        resolved = path.resolve(strict=True)
        if not resolved.is_relative_to(root.resolve()) or not resolved.is_file():
            return None
        stat = resolved.stat()
        cached = _cache.get(resolved)
        if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        body = resolved.read_bytes()
    except OSError:
        return None
    asset = Asset(body, content_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    _cache[resolved] = (stat.st_mtime_ns, stat.st_size, asset)
    return asset


def content_security_policy(settings: Settings) -> str:
    """The pages' CSP: this origin for everything, plus the S3 public origin for images and the
    S3 endpoint's origin for presigned uploads; nothing inline, no plugins, no framing."""
    scheme = "https" if settings.s3_secure else "http"
    images = _origin(settings.s3_public)
    uploads = _origin(f"{scheme}://{settings.s3}")
    connect = " ".join(dict.fromkeys(["'self'", uploads]))
    return (
        f"default-src 'self'; img-src 'self' {images} data: blob:; connect-src {connect}; "
        "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as RFC 9110 asks)."""
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def serve(request: Request, segments: list[str], root: Path = WEB_ROOT) -> Response:
    """The file at `root/segments...` with the web client's headers (CSP, ETag, no-cache), or
    304 when If-None-Match names it; also serves the /docs page (gateway/docs.py)."""
    asset = load_asset(segments, root)
    if asset is None:
        raise ApiError(404, "not_found", f"no file {request.url.path}")
    headers = {
        "ETag": asset.etag,
        "Cache-Control": "no-cache",
        "Content-Security-Policy": content_security_policy(deps_of(request).settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": REFERRER_POLICY,
    }
    if etag_matches(request.headers.get("if-none-match"), asset.etag):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, headers=headers, media_type=asset.content_type)


async def index(request: Request) -> Response:
    """The page (`/` and `/index.html`)."""
    return serve(request, ["index.html"])


async def web_file(request: Request) -> Response:
    """A file under /web/: its path parameters, in order, are the path's segments."""
    return serve(request, [request.path_params[p] for p in SEGMENT_PARAMS
                           if p in request.path_params])  # fmt: skip


ROUTES: list[Route] = [
    Route("GET", "/", index),
    Route("GET", "/index.html", index),
    *(
        Route("GET", "/web/" + "/".join(f"{{{p}}}" for p in SEGMENT_PARAMS[:depth]), web_file)
        for depth in range(1, len(SEGMENT_PARAMS) + 1)
    ),
]
