"""Post cards: a post's viewer-independent JSON, rendered once when the post is projected.

The card is the body of the API's post object without its braces and without the fields a
page adds (the author, the counts, the viewer's like; see projections/pages/pages.lua). Variant
URLs start with URL_BASE, the byte \\x01, which JSON text never contains (every control
character inside a string is escaped): the gateway replaces it with the public URL base of its
settings, so moving the images behind a CDN needs no replay. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import orjson

URL_BASE = "\x01"
VARIANTS = ("thumbnail", "feed", "full")


def rfc3339(ms: int) -> str:
    """Unix milliseconds as the API's RFC 3339 UTC timestamp (the Lua pages write the same)."""
    at = datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=ms % 1000 * 1000)
    return at.isoformat().replace("+00:00", "Z")


def post_card(
    post_id: int, caption: str, tags: Sequence[str], variants: Mapping[str, str], width: int,
    height: int, blurhash: str, alt_text: str | None, published_ms: int,
) -> str:  # fmt: skip
    """The card: `"post_id":"…","caption":…,…,"created_at":"…"` (no braces)."""
    urls = {name: URL_BASE + orjson.dumps(variants[name]).decode()[1:-1]
            for name in VARIANTS if name in variants}  # fmt: skip
    fields = {
        "post_id": str(post_id), "caption": caption, "tags": list(tags), "image_urls": "\x02",
        "width": width, "height": height, "blurhash": blurhash, "alt_text": alt_text or None,
        "created_at": rfc3339(published_ms),
    }  # fmt: skip
    body = orjson.dumps(fields).decode()
    rendered = "{" + ",".join(f'"{name}":"{url}"' for name, url in urls.items()) + "}"
    return body[1:-1].replace('"\\u0002"', rendered, 1)


def with_url_base(page: bytes, base: bytes) -> bytes:
    """A page of cards with its URL placeholders replaced by `base` (e.g. b"http://cdn/bucket/")."""
    return page.replace(URL_BASE.encode(), base)
