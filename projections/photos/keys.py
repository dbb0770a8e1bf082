"""Redis key names of the photos group (the only place they are spelled)."""

from __future__ import annotations


def settled_upload(photo_id: int) -> str:
    """String: the position token of the events that settled an upload (published or
    rejected), kept a day for GET /photos/{id}/status to hand out."""
    return f"photos:settled:{{{photo_id}}}"


class PhotoKeys:
    """Keys of the photos projection group (upload status, content-addressed media) at a version."""

    def __init__(self, version: int) -> None:
        self.prefix = f"photos.v{version}"

    def photo(self, photo_id: int) -> str:
        return f"{self.prefix}:p:{{{photo_id}}}"  # hash: owner, status, variants, size, reason, _v

    def content(self, sha256: str) -> str:
        return f"{self.prefix}:c:{{{sha256}}}"  # hash: variants, width, height, blurhash, phash

    def content_refs(self, sha256: str) -> str:
        return f"{self.content_prefix()}{{{sha256}}}:refs"  # set of photo ids using the variants

    def owned(self, owner_id: int) -> str:
        return f"{self.prefix}:u:{{{owner_id}}}:photos"  # set of the owner's photo ids

    def content_prefix(self) -> str:
        return f"{self.prefix}:c:"  # + {sha256}:refs: content_refs
