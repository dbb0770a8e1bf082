"""Avatars through the media core: centred squares of 64, 150 and 320 px (never enlarged), EXIF
orientation applied and metadata stripped, the same rejections as photos, and the same pHash as
the same picture posted (one blocklist entry catches both)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from streams.media.imaging import (
    AVATAR_SIZES,
    MAX_ASPECT_RATIO,
    RejectedImage,
    hamming,
    process_avatar,
    process_image,
)
from tests import samples


def squares(data: bytes, ctype: str = "image/jpeg") -> dict[str, Image.Image]:
    out = process_avatar(data, ctype)
    assert set(out.variants) == {str(s) for s in AVATAR_SIZES}
    return {name: Image.open(io.BytesIO(jpeg)) for name, jpeg in out.variants.items()}


def colour_at(img: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    r, g, b = img.convert("RGB").getpixel((x, y))  # type: ignore[misc]
    return r, g, b


@pytest.mark.parametrize(("width", "height"), [(1600, 1200), (1200, 1600), (4000, 400)])
def test_each_square_has_its_size_and_is_cut_from_the_centre(width: int, height: int) -> None:
    for name, img in squares(samples.jpeg(samples.quadrants(width, height))).items():
        side = int(name)
        assert img.size == (side, side)
        assert img.format == "JPEG"
        assert not img.getexif()
        # the centred square of the quadrants shows all four: red, green, blue, white corners
        r, g, b = colour_at(img, 2, 2)
        assert r > 150, (name, (r, g, b))
        assert max(g, b) < 100, (name, (r, g, b))
        r, g, b = colour_at(img, side - 3, side - 3)
        assert min(r, g, b) > 180, (name, (r, g, b))


def test_a_small_image_is_never_enlarged() -> None:
    got = squares(samples.png(samples.quadrants(100, 80)), "image/png")
    assert {name: img.size for name, img in got.items()} == {
        "64": (64, 64), "150": (80, 80), "320": (80, 80),
    }  # fmt: skip


def test_exif_orientation_is_applied_and_gps_dropped() -> None:
    # landscape quadrants that EXIF says to turn 90 degrees clockwise: red ends top-right
    got = squares(samples.jpeg(samples.quadrants(1600, 1200), orientation=6, gps=True))
    img = got["320"]
    assert not img.getexif()
    r, g, b = colour_at(img, 317, 2)
    assert r > 150, (r, g, b)
    assert max(g, b) < 100, (r, g, b)


def test_the_same_picture_hashes_alike_as_a_photo_and_as_an_avatar() -> None:
    for width, height in [(1600, 1200), (640, 640), (3000, 500)]:
        data = samples.jpeg(samples.scene(width, height))
        avatar, photo = process_avatar(data, "image/jpeg"), process_image(data, "image/jpeg")
        assert hamming(avatar.phash, photo.phash) == 0
        assert (avatar.width, avatar.height) == (photo.width, photo.height)


@pytest.mark.parametrize(
    ("data", "ctype", "code"),
    [
        (b"this is no image at all, just text", "image/jpeg", "not_an_image"),
        (samples.png(samples.quadrants(64, 64)), "image/jpeg", "type_mismatch"),
        (samples.jpeg(samples.quadrants(300, 300))[:400], "image/jpeg", "corrupt"),
        (samples.png(samples.quadrants(MAX_ASPECT_RATIO * 2 + 50, 2)), "image/png",
         "extreme_aspect_ratio"),
        (samples.bomb_png(), "image/png", "too_many_pixels"),
        (b"GIF89a" + b"\x00" * 40, "image/tiff", "unsupported_type"),
    ],
)  # fmt: skip
def test_bad_avatars_are_rejected_as_photos_are(data: bytes, ctype: str, code: str) -> None:
    with pytest.raises(RejectedImage) as avatar:
        process_avatar(data, ctype)
    with pytest.raises(RejectedImage) as photo:
        process_image(data, ctype)
    assert avatar.value.code == photo.value.code == code
