"""Media facts shared by the gateway (what it accepts) and the media agent (what it decodes)."""

from __future__ import annotations

ACCEPTED_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif"}
)
ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
VARIANTS = ("thumbnail", "feed", "full")


def normalise_type(content_type: str) -> str:
    """Lower-cased, parameters dropped, aliases resolved ('image/JPG; q=1' -> 'image/jpeg')."""
    base = content_type.split(";", 1)[0].strip().lower()
    return ALIASES.get(base, base)


def original_key(owner_id: int, photo_id: int) -> str:
    """Where an upload's original bytes live (private)."""
    return f"o/{owner_id}/{photo_id}"


def variant_key(sha256: str, variant: str) -> str:
    """Content-addressed, immutable key of a variant (public-read prefix `v/`)."""
    return f"v/{sha256[:2]}/{sha256}/{variant}.jpg"


def content_of(key: str) -> str | None:
    """The sha256 a variant key is addressed by (None for any other key)."""
    parts = key.split("/")
    if len(parts) == 4 and parts[0] == "v" and parts[2].startswith(parts[1]):
        return parts[2]
    return None


AVATAR_SIZES = (
    64,
    150,
    320,
)  # square avatar variants in px, in UserAvatarChanged.avatar_keys order
AVATAR_SHOWN = 150  # the square a user object's `avatar_url` names


def avatar_key(owner_id: int, photo_id: int, size: int) -> str:
    """Where one square of an avatar upload lives (public-read, immutable). Per owner and upload,
    not content-addressed: erasing the owner deletes their whole prefix (`avatar_prefix`) without
    asking whether anyone else shows the same bytes."""
    return f"v/a/{owner_id}/{photo_id}/{size}.jpg"


def avatar_prefix(owner_id: int) -> str:
    """The prefix of every avatar object of one user."""
    return f"v/a/{owner_id}/"


def avatar_upload_of(key: str) -> int | None:
    """The photo id (the upload) an avatar key was made from (None for any other key)."""
    parts = key.split("/")
    if len(parts) == 5 and parts[:2] == ["v", "a"] and parts[3].isdigit():
        return int(parts[3])
    return None
