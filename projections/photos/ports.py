"""The ports of the photos group: each upload's status, and the content-addressed media index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PhotoView:
    photo_id: int
    owner_id: int
    status: str
    variants: dict[str, str]  # variant name -> object key (empty until processed)
    width: int | None
    height: int | None
    blurhash: str | None
    reason_code: str | None
    reason: str | None
    post_id: int | None
    published_ms: int | None
    sha256: str | None = None  # the content it references, once processed


@dataclass(frozen=True, slots=True)
class ContentView:
    sha256: str
    variants: dict[str, str]
    width: int
    height: int
    blurhash: str
    phash: int
    references: int


class PhotoReader(Protocol):
    """Uploads by photo id: their status (processing, published, rejected, deleted) and, once
    processed, their variants; None for an id no upload has named (or only its deletion)."""

    async def photo(self, photo_id: int) -> PhotoView | None: ...


class PhotoIndex(Protocol):
    """The content-addressed index (media by SHA-256 of the original's bytes): what processing
    the same bytes produced before, so an identical upload reuses its variants, and whether any
    photo still references them, so they are deleted only when none does."""

    async def content(self, sha256: str) -> ContentView | None: ...

    async def unreferenced(self, sha256: str) -> bool: ...


class PhotoStore(PhotoReader, PhotoIndex, Protocol):
    """One version of the photos group, as the worker's steps read it (media janitor)."""
