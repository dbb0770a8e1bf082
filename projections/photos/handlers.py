"""The photos group as pure logic: an upload's status and the content-addressed media index."""

from __future__ import annotations

from projections.event_time import event_ms
from projections.writes import Handler, PutContent, ReleasePhoto, SetPhoto, Write
from schemas import events as ev
from schemas.media import AVATAR_SIZES, avatar_upload_of, content_of


def _variant_fields(v: ev.Variants) -> list[tuple[str, str]]:
    return [("thumbnail", v.thumbnail), ("feed", v.feed), ("full", v.full)]


def on_photo_uploaded(e: ev.PhotoUploaded) -> list[Write]:
    return [SetPhoto(e.photo_id, e.actor_id, "processing", e.event_id)]


def on_photo_processed(e: ev.PhotoProcessed) -> list[Write]:
    image = [("width", str(e.width)), ("height", str(e.height)), ("blurhash", e.blurhash)]
    return [
        SetPhoto(e.photo_id, e.actor_id, "processing", e.event_id,
                 (*_variant_fields(e.variants), *image, ("sha256", e.content_sha256))),
        PutContent(e.content_sha256, e.photo_id,
                   (*_variant_fields(e.variants), *image, ("phash", str(e.phash))), e.event_id),
    ]  # fmt: skip


def on_photo_rejected(e: ev.PhotoRejected) -> list[Write]:
    fields = (("reason_code", e.reason_code), ("reason", e.reason))
    return [SetPhoto(e.photo_id, e.actor_id, "rejected", e.event_id, fields)]


def on_post_published(e: ev.PostPublished) -> list[Write]:
    fields = (
        *_variant_fields(e.variants), ("width", str(e.width)), ("height", str(e.height)),
        ("blurhash", e.blurhash), ("post_id", str(e.post_id)), ("published_ms", str(event_ms(e))),
        *((("sha256", sha),) if (sha := content_of(e.variants.feed)) else ()),
    )  # fmt: skip
    return [SetPhoto(e.photo_id, e.actor_id, "published", e.event_id, fields)]


def on_avatar_changed(e: ev.UserAvatarChanged) -> list[Write]:
    """An avatar upload is settled once its squares are the user's avatar: `published`, with
    the squares as its variants ("64", "150", "320") and no post (the media agent appends no
    PhotoProcessed for an avatar: its squares never enter the content index)."""
    photo_id = avatar_upload_of(e.avatar_keys[0]) if e.avatar_keys else None
    if photo_id is None:
        return []  # a removal, or a v1 URL: no upload to settle
    squares = tuple(zip(map(str, AVATAR_SIZES), e.avatar_keys, strict=False))
    fields = (*squares, ("published_ms", str(event_ms(e))), ("purpose", "avatar"))
    return [SetPhoto(photo_id, e.actor_id, "published", e.event_id, fields)]


def on_post_deleted(e: ev.PostDeleted) -> list[Write]:
    return [ReleasePhoto(e.post_id, e.event_id)]  # post id = photo id


PHOTO_HANDLERS: dict[type[ev.Event], Handler] = {
    ev.PhotoUploaded: on_photo_uploaded,
    ev.PhotoProcessed: on_photo_processed,
    ev.PhotoRejected: on_photo_rejected,
    ev.PostPublished: on_post_published,
    ev.PostDeleted: on_post_deleted,
    ev.UserAvatarChanged: on_avatar_changed,
}
