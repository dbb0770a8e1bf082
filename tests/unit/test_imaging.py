"""The media core: every accepted format to three metadata-free JPEGs, every rejection code, hashes.

All images are drawn here with Pillow / pyvips / pillow-heif; output bytes are decoded again to
check sizes, pixels and metadata.
"""

from __future__ import annotations

import functools
import io
import math
import random
import resource
import struct
import subprocess
import sys
import time
import warnings
import zlib
from collections.abc import Callable

import pillow_heif
import pytest
import pyvips
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw, ImageStat

from streams.media import phash as ph
from streams.media.imaging import (
    ACCEPTED_TYPES,
    JPEG_QUALITY,
    MAX_ASPECT_RATIO,
    MAX_BYTES_DEFAULT,
    MAX_PIXELS_DEFAULT,
    SNIFF_BYTES,
    VARIANT_BOXES,
    VARIANT_CONTENT_TYPE,
    ProcessedImage,
    RejectedImage,
    hamming,
    jpeg_shrink,
    process_image,
    sniff_type,
)
from tests import samples

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
I64_MIN, I64_MAX, U64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}


# --- drawing and encoding -------------------------------------------------------------------


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A gradient with random ellipses and boxes: structured enough for perceptual hashing."""
    rnd = random.Random(seed)
    vertical = Image.linear_gradient("L")
    horizontal = vertical.transpose(Image.Transpose.ROTATE_90)
    bands = (vertical.resize((width, height)), horizontal.resize((width, height)))
    image = Image.merge("RGB", (*bands, Image.new("L", (width, height), 128)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rnd.randrange(width), rnd.randrange(height)
        x1 = x0 + rnd.randrange(width // 8, width // 2)
        y1 = y0 + rnd.randrange(height // 8, height // 2)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        shape = draw.ellipse if rnd.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=colour)
    return image


def encode(image: Image.Image, content_type: str, **params: object) -> bytes:
    out = io.BytesIO()
    if content_type == "image/heic":
        pillow_heif.from_pillow(image).save(out, quality=80)
    else:
        image.save(out, PILLOW_FORMAT[content_type], **params)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def sizes(result: ProcessedImage) -> dict[str, tuple[int, int]]:
    return {name: decoded(data).size for name, data in result.variants.items()}


def near(pixel: object, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def png_header_bomb(width: int, height: int) -> bytes:
    """A valid PNG header announcing width x height, followed by one row of real data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes(1 + 3 * width))
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --- constants and sniffing -----------------------------------------------------------------


def test_constants_keep_their_invariants() -> None:
    assert VARIANT_BOXES["thumbnail"] < VARIANT_BOXES["feed"] < VARIANT_BOXES["full"]
    assert set(VARIANT_BOXES) == {"thumbnail", "feed", "full"}
    assert 1 <= JPEG_QUALITY <= 100
    assert SNIFF_BYTES >= 32
    assert VARIANT_CONTENT_TYPE == "image/jpeg"
    assert MAX_BYTES_DEFAULT == 50 * 1024 * 1024
    assert 48_000_000 < MAX_PIXELS_DEFAULT < 20_000 * 20_000
    assert MAX_ASPECT_RATIO >= 12  # 12000 x 1000 panoramas pass
    assert MAX_ASPECT_RATIO * VARIANT_BOXES["thumbnail"] + 1 < 100_000_000  # libvips' max box
    assert ph.TINY > ph.HASH_SIDE
    assert ph.HASH_BITS == 64


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00mif1heicmiaf", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "image/heif"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", None),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", None),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", None),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", None),
        (b"II*\x00\x08\x00\x00\x00", None),
        (b"", None),
        (b"\xff\xd8", None),
    ],
)
def test_sniff_type_reads_magic_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_type(head) == expected
    assert sniff_type(head + bytes(64)) == expected


def test_every_accepted_type_is_sniffed_from_real_files() -> None:
    image = photo(64, 48)
    found = {sniff_type(encode(image, t)[:SNIFF_BYTES]) for t in [*PILLOW_FORMAT, "image/heic"]}
    assert found | {"image/heif"} == ACCEPTED_TYPES


# --- decoding and variants ------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [*PILLOW_FORMAT, "image/heic"])
def test_each_accepted_format_gives_three_jpeg_variants(content_type: str) -> None:
    data = encode(photo(1600, 1200), content_type)
    result = process_image(data, content_type)
    assert (result.width, result.height) == (1600, 1200)
    assert sizes(result) == {"thumbnail": (150, 150), "feed": (640, 480), "full": (1080, 810)}
    for variant in result.variants.values():
        assert sniff_type(variant) == VARIANT_CONTENT_TYPE
        assert decoded(variant).mode == "RGB"
    assert I64_MIN <= result.phash <= I64_MAX
    assert len(result.blurhash) == 28  # 1 + 1 + 4 + 2 * (4 * 3 - 1)


def test_heif_and_jpg_aliases_are_one_family() -> None:
    heic = encode(photo(200, 100), "image/heic")
    assert process_image(heic, "image/heif").width == 200
    assert process_image(heic, "IMAGE/HEIC").height == 100
    jpeg = encode(photo(200, 100), "image/jpeg")
    assert process_image(jpeg, "image/jpg").width == 200
    assert process_image(jpeg, "image/jpeg; charset=binary").width == 200


def test_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (300, 200), colour) for colour in (RED, BLUE, GREEN)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = process_image(out.getvalue(), "image/gif")
    assert (result.width, result.height) == (300, 200)
    for variant in result.variants.values():
        image = decoded(variant)
        assert near(image.getpixel((image.width // 2, image.height // 2)), RED)


def test_heic_orientation_from_the_container_is_applied() -> None:
    stored = Image.new("RGB", (400, 300), RED)
    stored.paste(BLUE, (0, 0, 100, 100))  # top-left as stored
    heif = pillow_heif.from_bytes("RGB", stored.size, stored.tobytes())
    exif = Image.Exif()
    exif[0x0112] = 6  # pillow-heif turns this into the container's irot transform
    heif.info["exif"] = exif.tobytes()
    out = io.BytesIO()
    heif.save(out, quality=90)
    result = process_image(out.getvalue(), "image/heic")
    assert (result.width, result.height) == (300, 400)
    full = decoded(result.variants["full"])
    assert full.size == (300, 400)
    assert near(full.getpixel((290, 10)), BLUE)  # rotated 90 degrees clockwise: now top-right
    assert near(full.getpixel((10, 10)), RED)


@pytest.mark.parametrize(
    ("stored_size", "variants"),
    [
        ((400, 300), {"thumbnail": (150, 150), "feed": (300, 400), "full": (300, 400)}),
        # 12 MP: decoded at half scale (jpeg_shrink), then turned
        ((4000, 3000), {"thumbnail": (150, 150), "feed": (480, 640), "full": (810, 1080)}),
    ],
)
def test_exif_orientation_is_applied(
    stored_size: tuple[int, int], variants: dict[str, tuple[int, int]]
) -> None:
    width, height = stored_size
    stored = Image.new("RGB", stored_size, RED)
    stored.paste(BLUE, (0, 0, width // 4, height // 3))
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    result = process_image(encode(stored, "image/jpeg", exif=exif, quality=95), "image/jpeg")
    assert (result.width, result.height) == (height, width)
    assert sizes(result) == variants
    full = decoded(result.variants["full"])
    right, bottom = full.width - 10, full.height - 10
    assert near(full.getpixel((right, 10)), BLUE)  # the stored top-left corner: now top-right
    assert near(full.getpixel((10, 10)), RED)
    assert near(full.getpixel((right, bottom)), RED)


def psnr(a: Image.Image, b: Image.Image) -> float:
    squared = [rms**2 for rms in ImageStat.Stat(ImageChops.difference(a, b)).rms]
    return 10 * math.log10(255**2 / max(1e-9, sum(squared) / len(squared)))


def test_a_jpeg_shrunk_on_load_keeps_the_picture() -> None:
    """Decoded at half scale (jpeg_shrink), a detailed 12 MP photo's 1080 px variant stays within
    what the JPEG encode itself changes (~32 dB here) of the variant a whole decode gives
    (~34 dB); a crude downscale (nearest neighbour) falls to ~23 dB."""
    noise = Image.effect_noise((4000, 3000), 40)
    bands = [ImageChops.add(band, noise, 1, -128) for band in photo(4000, 3000).split()]
    data = encode(Image.merge("RGB", bands), "image/jpeg", quality=95)
    full = decoded(process_image(data, "image/jpeg").variants["full"])
    whole = pyvips.Image.jpegload_buffer(data)  # every pixel decoded, then the same resize
    reference = whole.resize(full.width / whole.width).jpegsave_buffer(Q=JPEG_QUALITY)
    assert psnr(full, decoded(reference)) > 30


@pytest.mark.parametrize(
    ("long", "box", "factor"),
    [(4000, 1080, 2), (4320, 1080, 4), (4319, 1080, 2), (9000, 1080, 8), (1080, 1080, 1),
     (600, 1080, 1), (2159, 1080, 1), (2160, 1080, 2), (100_000, 1080, 8)],
)  # fmt: skip
def test_jpeg_shrink_keeps_the_long_side_in_the_box(long: int, box: int, factor: int) -> None:
    assert jpeg_shrink(long, box) == factor


def test_all_metadata_is_stripped() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    exif[0x0112] = 1
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/>SecretXMP</x:xmpmeta>'
    source = pyvips.Image.new_from_buffer(encode(photo(800, 600), "image/png"), "")
    source = source.icc_transform("p3", input_profile="srgb").copy()  # attaches a P3 profile
    source.set_type(pyvips.GValue.blob_type, "exif-data", exif.tobytes())
    source.set_type(pyvips.GValue.blob_type, "xmp-data", xmp)
    data = source.jpegsave_buffer(Q=90, keep=pyvips.enums.ForeignKeep.ALL)
    loaded = pyvips.Image.new_from_buffer(data, "")
    assert {"exif-data", "xmp-data", "icc-profile-data", "exif-ifd3-GPSLatitude"} <= set(
        loaded.get_fields()
    )  # the test input really carries all of it
    for variant in process_image(data, "image/jpeg").variants.values():
        fields = set(pyvips.Image.new_from_buffer(variant, "").get_fields())
        assert not {f for f in fields if f.startswith(("exif", "xmp", "icc", "iptc"))}
        assert len(decoded(variant).getexif()) == 0
        for marker in (b"Exif", b"SecretCam", b"SecretXMP", b"ICC_PROFILE", b"GPS"):
            assert marker not in variant


def test_wide_gamut_source_is_converted_to_srgb() -> None:
    red = (pyvips.Image.black(300, 200) + list(RED)).cast("uchar").copy(interpretation="srgb")
    p3 = red.icc_transform("p3", input_profile="srgb")
    assert not near(tuple(int(v) for v in p3.getpoint(5, 5)), RED, tolerance=15)
    result = process_image(p3.jpegsave_buffer(Q=95), "image/jpeg")
    assert near(decoded(result.variants["full"]).getpixel((150, 100)), RED, tolerance=15)


def test_broken_icc_profile_is_ignored_not_fatal() -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 100, 50)).save(out, "JPEG", icc_profile=b"junk" * 50)
    assert pyvips.Image.new_from_buffer(out.getvalue(), "").get_typeof("icc-profile-data")
    full = decoded(process_image(out.getvalue(), "image/jpeg").variants["full"])
    assert near(full.getpixel((150, 100)), (200, 100, 50), tolerance=10)


def test_alpha_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (50, 50, 150, 150))
    result = process_image(encode(image, "image/png"), "image/png")
    full = decoded(result.variants["full"])
    assert near(full.getpixel((5, 5)), WHITE, tolerance=8)
    assert near(full.getpixel((100, 100)), BLUE, tolerance=30)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "I;16", "CMYK"])
def test_other_pixel_modes_become_srgb(mode: str) -> None:
    image = photo(320, 240).convert("RGBA" if mode == "LA" else "RGB").convert(mode)
    content_type = "image/jpeg" if mode == "CMYK" else "image/png"
    result = process_image(encode(image, content_type), content_type)
    assert sizes(result)["full"] == (320, 240)
    assert decoded(result.variants["full"]).mode == "RGB"


def test_a_cmyk_photo_keeps_its_colours() -> None:
    """Its profile applied with the relative intent (as libvips' thumbnail converted CMYK):
    the perceptual one darkens this blue to about (26, 20, 119)."""
    rgb = pyvips.Image.black(320, 240).new_from_image([44, 42, 126]).copy(interpretation="srgb")
    cmyk = rgb.cast("uchar").icc_transform("cmyk", input_profile="srgb")
    data = cmyk.jpegsave_buffer(Q=95)  # keeps the CMYK profile
    loaded = pyvips.Image.jpegload_buffer(data)
    expected = loaded.icc_transform("srgb", embedded=True, intent="relative").getpoint(160, 120)
    full = decoded(process_image(data, "image/jpeg").variants["full"])
    assert near(full.getpixel((160, 120)), tuple(round(v) for v in expected), tolerance=6)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((300, 200), {"thumbnail": (150, 150), "feed": (300, 200), "full": (300, 200)}),
        ((100, 80), {"thumbnail": (80, 80), "feed": (100, 80), "full": (100, 80)}),
        ((1, 1), {"thumbnail": (1, 1), "feed": (1, 1), "full": (1, 1)}),
        ((900, 1000), {"thumbnail": (150, 150), "feed": (576, 640), "full": (900, 1000)}),
        ((4000, 300), {"thumbnail": (150, 150), "feed": (640, 48), "full": (1080, 81)}),
    ],
)
def test_never_upscaled_and_thumbnail_keeps_150_when_it_can(
    size: tuple[int, int], expected: dict[str, tuple[int, int]]
) -> None:
    image = photo(*size) if min(size) > 8 else Image.new("RGB", size, RED)
    result = process_image(encode(image, "image/png"), "image/png")
    assert (result.width, result.height) == size
    assert sizes(result) == expected


def test_thumbnail_is_the_centre_crop() -> None:
    image = Image.new("RGB", (900, 300), RED)
    image.paste(GREEN, (300, 0, 600, 300))
    image.paste(BLUE, (600, 0, 900, 300))
    thumbnail = decoded(
        process_image(encode(image, "image/png"), "image/png").variants["thumbnail"]
    )
    for x in (3, 75, 146):
        assert near(thumbnail.getpixel((x, 75)), GREEN)


# --- rejections -----------------------------------------------------------------------------


def rejection(data: bytes, declared: str, **limits: int) -> RejectedImage:
    with pytest.raises(RejectedImage) as caught:
        process_image(data, declared, **limits)
    error = caught.value
    assert error.reason.endswith(".")
    assert error.reason[0].isupper()
    return error


def test_pdf_renamed_jpg_is_not_an_image() -> None:
    pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    assert rejection(pdf, "image/jpeg").code == "not_an_image"
    assert rejection(b"", "image/png").code == "not_an_image"


def test_png_declared_as_jpeg_is_a_type_mismatch() -> None:
    error = rejection(encode(photo(64, 64), "image/png"), "image/jpeg")
    assert error.code == "type_mismatch"
    assert "image/png" in error.reason


def test_iso_media_that_is_not_heic_is_refused() -> None:
    avif = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(200)
    assert rejection(avif, "image/heif").code == "unsupported_type"
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(200)
    assert rejection(mp4, "image/heic").code == "not_an_image"


def test_unaccepted_types_are_unsupported() -> None:
    tiff = io.BytesIO()
    photo(64, 64).save(tiff, "TIFF")
    assert rejection(tiff.getvalue(), "image/tiff").code == "unsupported_type"
    assert rejection(tiff.getvalue(), "image/jpeg").code == "unsupported_type"
    assert rejection(encode(photo(64, 64), "image/png"), "application/pdf").code == (
        "unsupported_type"
    )


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "image/heic"])
def test_truncated_file_is_corrupt(content_type: str) -> None:
    data = encode(photo(800, 600), content_type)
    assert rejection(data[: len(data) // 2], content_type).code == "corrupt"


def test_garbage_behind_valid_magic_is_corrupt() -> None:
    garbage = b"\xff\xd8\xff\xe0" + random.Random(1).randbytes(5000)
    assert rejection(garbage, "image/jpeg").code == "corrupt"


def jpeg_header_bomb(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) claims width x height."""
    data = bytearray(encode(Image.new("RGB", (64, 48), RED), "image/jpeg"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize(
    ("content_type", "make"), [("image/png", png_header_bomb), ("image/jpeg", jpeg_header_bomb)]
)
def test_header_bomb_is_rejected_before_decoding(
    content_type: str, make: Callable[[int, int], bytes]
) -> None:
    bomb = make(20_000, 20_000)  # 400 MP, 1.2 GB decoded; a few hundred bytes here
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    error = rejection(bomb, content_type)
    elapsed = time.perf_counter() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert error.code == "too_many_pixels"
    assert "20000x20000" in error.reason
    assert elapsed < 1.0
    assert grown_mb < 100


@pytest.mark.parametrize(
    ("width", "height"),
    [(1, 700_000), (1, 15_000_000), (700_000, 1), (50, 50 * MAX_ASPECT_RATIO + 1)],
)
def test_extreme_aspect_ratio_is_rejected_before_decoding(width: int, height: int) -> None:
    """The 1 x 700,000 PNG (1.4 KB) once asked libvips for a 105 M px box and stalled the
    pipeline; 1 x 15,000,000 overflowed a C int. Both are under the pixel cap."""
    data = samples.blank_png(width, height)
    assert width * height <= MAX_PIXELS_DEFAULT
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    error = rejection(data, "image/png")
    elapsed = time.perf_counter() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert error.code == "extreme_aspect_ratio"
    assert f"{width}x{height}" in error.reason
    assert elapsed < 1.0
    assert grown_mb < 50


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((15_000, 150), {"thumbnail": (150, 150), "feed": (640, 7), "full": (1080, 11)}),
        ((150, 15_000), {"thumbnail": (150, 150), "feed": (7, 640), "full": (11, 1080)}),
        ((1, 100), {"thumbnail": (1, 1), "feed": (1, 100), "full": (1, 100)}),
    ],
)
def test_aspect_ratio_bound_is_inclusive(
    size: tuple[int, int], expected: dict[str, tuple[int, int]]
) -> None:
    assert max(size) == MAX_ASPECT_RATIO * min(size)
    result = process_image(samples.blank_png(*size), "image/png")
    assert (result.width, result.height) == size
    assert sizes(result) == expected
    wider = (size[0] + 1, size[1]) if size[0] > size[1] else (size[0], size[1] + 1)
    assert rejection(samples.blank_png(*wider), "image/png").code == "extreme_aspect_ratio"


@pytest.mark.parametrize(
    ("content_type", "size"), [("image/jpeg", (12_000, 1_000)), ("image/heic", (3_000, 250))]
)
def test_wide_panorama_is_processed(content_type: str, size: tuple[int, int]) -> None:
    result = process_image(encode(photo(*size), content_type), content_type)
    assert (result.width, result.height) == size
    assert sizes(result) == {"thumbnail": (150, 150), "feed": (640, 53), "full": (1080, 90)}


@pytest.mark.parametrize(
    "raised",
    [
        pyvips.Error("unable to call thumbnail_buffer"),
        OverflowError("integer 2250000001 does not fit '32-bit int'"),
        ValueError("bad value"),
        MemoryError(),
        RuntimeError("libheif"),
        ZeroDivisionError("division by zero"),
    ],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize(
    ("content_type", "decoder"),
    [("image/jpeg", "jpegload_buffer"), ("image/png", "thumbnail_buffer")],
)
def test_any_library_error_becomes_undecodable(
    monkeypatch: pytest.MonkeyPatch, raised: Exception, content_type: str, decoder: str
) -> None:
    def explode(*_: object, **__: object) -> None:
        raise raised

    monkeypatch.setattr(pyvips.Image, decoder, explode)
    error = rejection(encode(photo(64, 48), content_type), content_type)
    assert error.code == "undecodable"
    assert error.__cause__ is raised


REJECTION_CODES = {
    "too_large",
    "unsupported_type",
    "not_an_image",
    "type_mismatch",
    "corrupt",
    "too_many_pixels",
    "extreme_aspect_ratio",
    "undecodable",
}


@functools.cache
def valid_sample(content_type: str) -> bytes:
    return encode(photo(96, 64, seed=5), content_type)


def with_header_size(data: bytes, content_type: str, width: int, height: int) -> bytes:
    """`data` whose PNG IHDR (with a valid CRC) or JPEG SOF0 claims width x height instead."""
    out = bytearray(data)
    if content_type == "image/png":
        ihdr = struct.pack(">II", width, height) + out[24:29]
        out[16:33] = ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    elif content_type == "image/jpeg":
        sof = out.index(b"\xff\xc0")
        out[sof + 5 : sof + 9] = struct.pack(">HH", min(height, 65535), min(width, 65535))
    return bytes(out)


def outcome(data: bytes, content_type: str) -> str:
    """ "published" (all three variants) or the rejection code; anything else raised propagates."""
    try:
        result = process_image(data, content_type)
    except RejectedImage as error:
        return error.code if error.reason.endswith(".") else f"{error.code} (bad reason)"
    return "published" if set(result.variants) == set(VARIANT_BOXES) else "missing variants"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content_type=st.sampled_from([*PILLOW_FORMAT, "image/heic"]),
    overwrites=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8
    ),
    cut=st.one_of(st.none(), st.floats(0, 1)),
    inserted=st.tuples(st.floats(0, 1), st.binary(max_size=64)),
)
def test_random_corruption_only_ever_raises_rejected_image(
    content_type: str,
    overwrites: list[tuple[float, int]],
    cut: float | None,
    inserted: tuple[float, bytes],
) -> None:
    data = bytearray(valid_sample(content_type))
    for where, value in overwrites:
        data[int(where * len(data))] = value
    at, junk = inserted
    data[int(at * len(data)) : int(at * len(data))] = junk
    if cut is not None:
        del data[int(cut * len(data)) :]
    assert outcome(bytes(data), content_type) in {*REJECTION_CODES, "published"}


@settings(max_examples=200, deadline=None)
@given(
    content_type=st.sampled_from(["image/png", "image/jpeg"]),
    short=st.one_of(st.integers(1, 3), st.integers(1, 300)),
    ratio=st.one_of(st.integers(1, 2 * MAX_ASPECT_RATIO), st.integers(1, 2**20)),
    wide=st.booleans(),
)
def test_any_size_in_the_header_only_ever_raises_rejected_image(
    content_type: str, short: int, ratio: int, wide: bool
) -> None:
    """Headers lying about the size, thin shapes above all: the 1 x 700,000 PNG is one."""
    long = min(short * ratio, 2**24)
    width, height = (long, short) if wide else (short, long)
    data = with_header_size(valid_sample(content_type), content_type, width, height)
    code = outcome(data, content_type)
    assert code in {*REJECTION_CODES, "published"}
    if long > MAX_ASPECT_RATIO * short and width * height <= MAX_PIXELS_DEFAULT:
        assert code in {"extreme_aspect_ratio", "corrupt"}  # libjpeg may refuse the header first


def test_pixel_cap_is_a_parameter() -> None:
    data = encode(photo(200, 100), "image/heic")
    assert rejection(data, "image/heic", max_pixels=19_999).code == "too_many_pixels"
    assert process_image(data, "image/heic", max_pixels=20_000).width == 200


def test_file_over_the_cap_is_too_large() -> None:
    data = encode(photo(64, 64), "image/jpeg")
    assert rejection(data, "image/jpeg", max_bytes=len(data) - 1).code == "too_large"
    assert process_image(data, "image/jpeg", max_bytes=len(data)).width == 64
    huge = data + bytes(MAX_BYTES_DEFAULT)
    assert rejection(huge, "image/jpeg").code == "too_large"


# --- hashes ---------------------------------------------------------------------------------


def shrunk_and_recompressed(data: bytes) -> bytes:
    """The same picture at 70% of its size, re-encoded as a JPEG at quality 60."""
    image = decoded(data).convert("RGB")
    smaller = image.resize(
        (image.width * 7 // 10, image.height * 7 // 10), Image.Resampling.LANCZOS
    )
    return encode(smaller, "image/jpeg", quality=60)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_phash_survives_resizing_and_recompression(seed: int) -> None:
    original = encode(photo(1200, 900, seed), "image/png")
    copy = shrunk_and_recompressed(original)
    other = encode(photo(1200, 900, seed + 100), "image/png")
    a = process_image(original, "image/png").phash
    assert hamming(a, process_image(copy, "image/jpeg").phash) <= 6
    assert hamming(a, process_image(other, "image/png").phash) >= 20


def test_hamming_reads_signed_and_unsigned_alike() -> None:
    assert hamming(-1, 0) == 64
    assert hamming(-1, U64_MAX) == 0
    assert hamming(I64_MIN, 0) == 1
    assert hamming(I64_MIN, I64_MAX) == 64
    assert hamming(-2, 1) == 64
    assert hamming(5, 6) == 2
    for bad in (U64_MAX + 1, I64_MIN - 1):
        with pytest.raises(ValueError, match="64 bits"):
            hamming(bad, 0)


@given(st.integers(I64_MIN, I64_MAX), st.integers(I64_MIN, I64_MAX))
def test_hamming_is_a_metric_on_64_bits(a: int, b: int) -> None:
    assert hamming(a, b) == hamming(b, a) == bin((a ^ b) % 2**64).count("1")
    assert hamming(a, a) == 0
    assert hamming(a, a % 2**64) == 0
    assert ph.to_signed64(a % 2**64) == a


@given(st.binary(min_size=ph.TINY**2 * 3, max_size=ph.TINY**2 * 3))
def test_phash_is_a_signed_64_bit_int(rgb: bytes) -> None:
    assert I64_MIN <= ph.phash(rgb) <= I64_MAX


def test_blurhash_matches_the_reference_encoder() -> None:
    reference = pytest.importorskip("blurhash")
    rnd = random.Random(7)
    for width, height, x, y in [(32, 32, 4, 3), (32, 24, 4, 3), (17, 9, 9, 9), (5, 3, 1, 1)]:
        rgb = rnd.randbytes(width * height * 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # it calls Image.getdata()
            expected = reference.encode(Image.frombytes("RGB", (width, height), rgb), x, y)
        assert ph.blurhash(rgb, width, height, x, y) == expected
    result = process_image(encode(photo(400, 300), "image/png"), "image/png")
    assert reference.is_valid_blurhash(result.blurhash)


def test_configure_libvips_keeps_every_format_working() -> None:
    """Run in a fresh interpreter: the settings are process-wide."""
    script = (
        "import io, pillow_heif\n"
        "from PIL import Image\n"
        "from streams.media.imaging import configure_libvips, process_image\n"
        "configure_libvips(concurrency=1)\n"
        "image = Image.linear_gradient('L').convert('RGB')\n"
        "for fmt, kind in [('JPEG', 'image/jpeg'), ('PNG', 'image/png'), ('WEBP', 'image/webp'),"
        " ('GIF', 'image/gif')]:\n"
        "    out = io.BytesIO(); image.save(out, fmt)\n"
        "    assert process_image(out.getvalue(), kind).width == 256\n"
        "out = io.BytesIO(); pillow_heif.from_pillow(image).save(out)\n"
        "assert process_image(out.getvalue(), 'image/heic').width == 256\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
