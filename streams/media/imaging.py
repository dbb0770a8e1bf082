"""Turn one uploaded image into its published JPEG variants, BlurHash and perceptual hash.

`process_image` is pure (bytes in, bytes out, no I/O, no globals changed) and total over its
input: it either returns a `ProcessedImage` or raises `RejectedImage`, which is final (retrying
the same bytes cannot succeed). Whatever libvips, pillow-heif or Python raise while handling one
upload (pyvips.Error, OverflowError, ValueError, MemoryError, ...) comes out as
`RejectedImage("undecodable")`, never as anything else, so no byte string can look like an
outage and stall the pipeline. Only BaseExceptions that are not Exceptions (cancellation,
interpreter exit) pass through.

Dimensions are checked from the header before any pixel is decoded: at most `max_pixels`, and
an aspect ratio of at most MAX_ASPECT_RATIO, which bounds the decode box (below). Decoding then
happens once: pyvips shrinks on load straight to the decode box (1080 px, more only for wide
panoramas so the thumbnail still gets 150 px; a JPEG by DCT scaling, see jpeg_shrink), the
result is held in memory, and every smaller variant and both hashes are cut from it. HEIC/HEIF
goes through pillow-heif because pyvips-binary ships no HEVC decoder; everything after that is
shared.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pillow_heif
import pyvips

from schemas.media import ACCEPTED_TYPES, AVATAR_SIZES, normalise_type
from streams.media.phash import TINY, blurhash, hamming, phash

__all__ = [
    "ACCEPTED_TYPES",
    "AVATAR_SIZES",
    "MAX_ASPECT_RATIO",
    "MAX_BYTES_DEFAULT",
    "MAX_PIXELS_DEFAULT",
    "VARIANT_BOXES",
    "VARIANT_CONTENT_TYPE",
    "ProcessedImage",
    "RejectedImage",
    "configure_libvips",
    "hamming",
    "jpeg_shrink",
    "process_avatar",
    "process_image",
    "sniff_type",
    "undecodable",
]

# ACCEPTED_TYPES (schemas.media): every member has a branch in sniff_type and a decoder below
MAX_BYTES_DEFAULT = 50 * 1024 * 1024  # >= the gateway's upload size cap, so it never bites first
MAX_PIXELS_DEFAULT = 50_000_000  # > 48 MP phone sensors; < what a worker can hold decoded (RGB)
MAX_ASPECT_RATIO = 100  # long side <= this x short side; camera panoramas stay far below
VARIANT_CONTENT_TYPE = "image/jpeg"
VARIANT_BOXES: dict[str, int] = {"thumbnail": 150, "feed": 640, "full": 1080}  # 150 < 640 < 1080
JPEG_QUALITY = 82  # 1..100; 82 keeps feed photos visually lossless at ~half the bytes of Q95
SNIFF_BYTES = 32  # sniff_type never reads past this; the HEIF ftyp box's first brands fit in it

_THUMB, _FEED, _FULL = VARIANT_BOXES["thumbnail"], VARIANT_BOXES["feed"], VARIANT_BOXES["full"]
_MAX_DECODE_BOX = MAX_ASPECT_RATIO * _THUMB + 1  # _decode_box <= this, so a decode holds
# at most 15,001 x 151 px (~2.3 MP): shrink-on-load fits the long side into the box and the
# short side then keeps ~THUMB px; far below the 100,000,000 px libvips accepts as a box.
_FAMILY = {"image/heif": "image/heic"}  # HEIC is HEIF holding HEVC; clients mix the two up
_VIPS_LOADERS = {  # the libvips loader each sniffed type must reach; anything else is refused
    "image/jpeg": "jpegload",
    "image/png": "pngload",
    "image/webp": "webpload",
    "image/gif": "gifload",
}
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})  # generic HEIF: accepted unless AVIF
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_OTHER_IMAGES = {  # recognised images we do not accept, for a better message than not_an_image
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"BM": "BMP",
    b"\x00\x00\x01\x00": "ICO",
    b"\xff\x0a": "JPEG XL",
    b"\x00\x00\x00\x0cJXL ": "JPEG XL",
}
_HEIF_MODES = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2}
_WHITE = [255.0, 255.0, 255.0]
_NOT_ACCEPTED = "is not accepted; upload JPEG, PNG, WebP, GIF or HEIC."
_TRANSPOSING = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height


class RejectedImage(Exception):
    """Unrecoverable: the upload can never be published."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code  # snake_case, stable, for clients and metrics
        self.reason = reason  # a sentence a client can show as is


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """What gets published for one photo or avatar. Variants carry no metadata at all (no
    EXIF/GPS/ICC)."""

    width: int  # of the original, after EXIF orientation
    height: int
    # a photo: exactly VARIANT_BOXES' keys; an avatar: str(size) of every AVATAR_SIZES ->
    # VARIANT_CONTENT_TYPE bytes
    variants: dict[str, bytes]
    blurhash: str  # 4x3 components, decode at width/height's aspect ratio
    phash: int  # 64-bit DCT pHash as a signed int (Avro long); compare with hamming()


def configure_libvips(*, concurrency: int = 1) -> None:
    """Per-process libvips settings for a media worker; call once from the composition root.

    Blocks loaders libvips marks untrusted, turns off the operation cache (no two uploads share
    work, so it only holds memory), and sets libvips' thread count: 1 when one worker process
    runs per core, which is how throughput scales best.
    """
    pyvips.block_untrusted_set(True)
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(concurrency)


def sniff_type(head: bytes) -> str | None:
    """The accepted content type that the magic bytes announce, or None.

    Reads at most the first SNIFF_BYTES bytes. A HEIF container counts as image/heic when its
    brands name HEVC and as image/heif otherwise; AVIF and other HEIF codecs give None.
    """
    head = head[:SNIFF_BYTES]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    brands = _ftyp_brands(head)
    if brands & _HEIC_BRANDS:
        return "image/heic"
    if head[8:12] in _HEIF_BRANDS and not brands & _AVIF_BRANDS:
        return "image/heif"
    return None


def _ftyp_brands(head: bytes) -> set[bytes]:
    """Major and compatible brands of an ISO-BMFF ftyp box (HEIF, AVIF, MP4) within `head`."""
    if head[4:8] != b"ftyp":
        return set()
    box_end = min(int.from_bytes(head[:4], "big"), len(head))
    return {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}


def _other_image(head: bytes) -> str | None:
    """Name of an image format we recognise but do not accept, else None."""
    if _ftyp_brands(head[:SNIFF_BYTES]) & _AVIF_BRANDS:
        return "AVIF"
    return next((name for magic, name in _OTHER_IMAGES.items() if head.startswith(magic)), None)


def _check_dimensions(width: int, height: int, max_pixels: int) -> None:
    """Refuse, from the header alone, what is too big to decode or too thin to shrink sanely."""
    if width * height > max_pixels:
        raise RejectedImage(
            "too_many_pixels",
            f"The image is {width}x{height} pixels; at most {max_pixels / 1e6:g} megapixels "
            "are accepted.",
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise RejectedImage(
            "extreme_aspect_ratio",
            f"The image is {width}x{height} pixels; its long side may be at most "
            f"{MAX_ASPECT_RATIO} times its short side.",
        )


def _corrupt(detail: str) -> RejectedImage:
    return RejectedImage("corrupt", f"The image file is damaged or incomplete ({detail}).")


@dataclass(frozen=True, slots=True)
class _Box:
    """What a decode must keep: the long side fits `fit`, widened so the short side keeps
    `keep` pixels (a photo: FULL and the thumbnail's THUMB; an avatar: its largest square)."""

    fit: int
    keep: int


_PHOTO_BOX = _Box(_FULL, _THUMB)
_AVATAR_BOX = _Box(_FULL, max(AVATAR_SIZES))  # as a photo's unless very wide: the same hashes


def _decode_box(width: int, height: int, box: _Box = _PHOTO_BOX) -> int:
    """Square box to shrink into on load: `box.fit`, widened so the short side keeps `box.keep`
    pixels.

    Never more than MAX_ASPECT_RATIO * keep + 1 (reached at MAX_ASPECT_RATIO, which
    _check_dimensions enforces first; the clamp keeps this total for any positive size): for a
    photo _MAX_DECODE_BOX, for an avatar 32,001 x 321 px (~10 MP) at the worst. Up to an aspect
    ratio of 27:8 an avatar's box is a photo's.
    """
    short, long = min(width, height), max(width, height)
    if short * box.fit >= long * box.keep:
        return box.fit
    side = math.ceil(long * box.keep / short) + 1  # +1: rounding can never leave keep - 1
    return min(side, MAX_ASPECT_RATIO * box.keep + 1)


def _decode_vips(
    data: bytes, content_type: str, max_pixels: int, box_of: _Box = _PHOTO_BOX
) -> tuple[Any, int, int]:
    """Header checks, then the single shrink-on-load decode (lazy), with the upright size."""
    try:
        header = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="truncated")
    except pyvips.Error as error:
        raise _corrupt("unreadable header") from error
    loader = str(header.get("vips-loader"))
    if not loader.startswith(_VIPS_LOADERS[content_type]):
        raise _corrupt(f"decoded by {loader}")
    _check_dimensions(header.width, header.height, max_pixels)
    box = _decode_box(header.width, header.height, box_of)
    orientation = header.get("orientation") if header.get_typeof("orientation") else 1
    if content_type == "image/jpeg":
        lazy = _jpeg_decode(data, box, max(header.width, header.height), orientation)
    else:
        # fail_on must travel in option_string: thumbnail's own fail_on argument does not
        # reach the loader (libvips 8.18), and without it a truncated PNG decodes silently.
        lazy = pyvips.Image.thumbnail_buffer(
            data, box, height=box, size="down", option_string="fail_on=truncated"
        )
    if orientation in _TRANSPOSING:
        return lazy, header.height, header.width
    return lazy, header.width, header.height


def jpeg_shrink(long: int, box: int) -> int:
    """The DCT scaling to decode a JPEG with (1, 2, 4 or 8): the largest that still leaves the
    long side at least `box`, as Pillow's draft() picks. libvips' thumbnail keeps a further
    factor of two in hand, so a 12 MP photo fitted into 1080 px was decoded whole: 20% more
    CPU per upload. Measured: bench_media's 12 MP photo decoded at half scale is at 46 dB PSNR
    against the whole decode at 1080 px; a detailed photo, after the Q82 encode, at 34 dB (the
    encode alone changes it by 32 dB)."""
    return next(factor for factor in (8, 4, 2, 1) if factor == 1 or long // factor >= box)


def _jpeg_decode(data: bytes, box: int, long: int, orientation: int) -> Any:
    """A JPEG shrunk on load by jpeg_shrink, fitted into box x box and turned upright (lazy).
    Read top to bottom unless it must be turned: a turn reads the rows out of order."""
    upright = orientation == 1
    loaded = pyvips.Image.jpegload_buffer(
        data,
        shrink=jpeg_shrink(long, box),
        access="sequential" if upright else "random",
        fail_on="truncated",
    )
    fitted = _fit(loaded, box)
    return fitted if upright else fitted.autorot()


def _decode_heif(data: bytes, max_pixels: int, box_of: _Box = _PHOTO_BOX) -> tuple[Any, int, int]:
    """pillow-heif decodes (libheif applies the irot/imir orientation), pyvips shrinks."""
    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
        width, height = heif.size
        mode = heif.mode
    except (ValueError, RuntimeError, OSError, EOFError, SyntaxError, IndexError) as error:
        raise _corrupt("unreadable HEIF container") from error
    _check_dimensions(width, height, max_pixels)
    bands = _HEIF_MODES.get(mode)
    if bands is None:
        raise RejectedImage(
            "unsupported_type", f"HEIF images in pixel mode {mode} are not accepted."
        )
    try:
        pixels, stride = heif.data, heif.stride
    except (ValueError, RuntimeError, OSError, EOFError) as error:
        raise _corrupt("undecodable HEIF image") from error
    if stride % bands:
        raise _corrupt(f"HEIF row stride {stride} for {bands} bands")
    image = pyvips.Image.new_from_memory(pixels, stride // bands, height, bands, "uchar")
    if stride // bands != width:
        image = image.crop(0, 0, width, height)
    image = image.copy(interpretation="b-w" if bands <= 2 else "srgb")
    icc = heif.info.get("icc_profile")
    if icc:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(icc))
    box = _decode_box(width, height, box_of)
    return image.thumbnail_image(box, height=box, size="down"), width, height


def _srgb(image: Any) -> Any:
    """8-bit sRGB, 3 bands: embedded profile applied, alpha flattened onto white. A CMYK
    photo's profile is applied with the relative colorimetric intent, as libvips' thumbnail
    converts CMYK (the photos decoded through it kept their colours); any other profile with
    the perceptual one."""
    if image.get_typeof("icc-profile-data"):
        intent = "relative" if image.interpretation == "cmyk" else "perceptual"
        image = image.icc_transform("srgb", embedded=True, intent=intent)
    if image.interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.hasalpha():
        image = image.flatten(background=_WHITE)
    if image.bands > 3:
        image = image.extract_band(0, n=3)
    return image.cast("uchar")


def _fit(image: Any, box: int) -> Any:
    """Shrink to fit a box x box square; never enlarges."""
    long = max(image.width, image.height)
    if long <= box:
        return image
    width = max(1, round(image.width * box / long))
    height = max(1, round(image.height * box / long))
    return image.resize(width / image.width, vscale=height / image.height)


def _centre_square(image: Any, side: int) -> Any:
    """The centred square of the short side, shrunk to side x side when larger."""
    short = min(image.width, image.height)
    square = image.crop((image.width - short) // 2, (image.height - short) // 2, short, short)
    return square if short <= side else square.resize(side / short)


def _jpeg(image: Any) -> bytes:
    data: bytes = image.jpegsave_buffer(
        Q=JPEG_QUALITY, keep=pyvips.enums.ForeignKeep.NONE, optimize_coding=True
    )
    return data


def _render(decoded: Any, width: int, height: int) -> ProcessedImage:
    """Variants and hashes from the in-memory decode; no further file decoding."""
    full = _fit(decoded, _FULL)
    feed = _fit(full, _FEED).copy_memory()
    source = feed if min(feed.width, feed.height) >= _THUMB else decoded
    thumbnail = _centre_square(source, _THUMB)
    return _processed(
        width, height, {"thumbnail": _jpeg(thumbnail), "feed": _jpeg(feed), "full": _jpeg(full)},
        feed,
    )  # fmt: skip


def _render_avatar(decoded: Any, width: int, height: int) -> ProcessedImage:
    """The avatar's squares (each cut from the largest, so one crop) and the hashes of the
    whole picture, fitted into FULL then FEED exactly as a photo's are (the same picture as a
    photo and as an avatar has the same pHash, so one blocklist entry catches both)."""
    largest = _centre_square(decoded, max(AVATAR_SIZES)).copy_memory()
    squares = {str(size): _jpeg(_centre_square(largest, size)) for size in AVATAR_SIZES}
    return _processed(width, height, squares, _fit(_fit(decoded, _FULL), _FEED).copy_memory())


def _processed(width: int, height: int, variants: dict[str, bytes], whole: Any) -> ProcessedImage:
    """The result, with the BlurHash and pHash of `whole` (the picture, fitted into FEED)."""
    tiny = whole.resize(TINY / whole.width, vscale=TINY / whole.height)
    tiny_rgb = bytes(tiny.write_to_memory())
    return ProcessedImage(
        width=width,
        height=height,
        variants=variants,
        blurhash=blurhash(tiny_rgb, TINY, TINY),
        phash=phash(tiny_rgb),
    )


def undecodable(error: BaseException) -> RejectedImage:
    """The rejection for bytes that passed every check but that the libraries cannot handle.

    `error` (what they raised) becomes the rejection's __cause__, for logs; the reason stays
    generic because its text is shown to clients.
    """
    rejected = RejectedImage(
        "undecodable", "The image could not be decoded; export it again as JPEG or PNG."
    )
    rejected.__cause__ = error
    return rejected


def _reject_type(data: bytes, declared: str) -> str:
    """The sniffed type when it may be decoded as `declared`; raises RejectedImage otherwise."""
    if declared not in ACCEPTED_TYPES:
        raise RejectedImage("unsupported_type", f"The type {declared or '(none)'} {_NOT_ACCEPTED}")
    sniffed = sniff_type(data[:SNIFF_BYTES])
    if sniffed is None:
        other = _other_image(data[:SNIFF_BYTES])
        if other is not None:
            raise RejectedImage("unsupported_type", f"{other} {_NOT_ACCEPTED}")
        raise RejectedImage("not_an_image", "The file is not an image.")
    if _FAMILY.get(sniffed, sniffed) != _FAMILY.get(declared, declared):
        raise RejectedImage(
            "type_mismatch", f"The file was sent as {declared} but its content is {sniffed}."
        )
    return sniffed


def process_image(
    data: bytes,
    declared_type: str,
    *,
    max_bytes: int = MAX_BYTES_DEFAULT,
    max_pixels: int = MAX_PIXELS_DEFAULT,
) -> ProcessedImage:
    """Validate an upload and produce everything published for it.

    Checks run cheapest first: size, declared type, magic bytes against the declared type,
    then the pixel count and aspect ratio from the header before any pixel is decoded. GIF/WebP
    animations give their first frame. Raises RejectedImage (see its `code`) for anything
    unpublishable, and nothing else for any bytes: what the libraries raise on bytes that passed
    the checks becomes code `undecodable` (see `undecodable`).
    """
    try:
        return _process(data, declared_type, max_bytes, max_pixels)
    except RejectedImage:
        raise
    except Exception as error:  # the contract: bad bytes never escape as other errors
        raise undecodable(error) from error


def process_avatar(
    data: bytes,
    declared_type: str,
    *,
    max_bytes: int = MAX_BYTES_DEFAULT,
    max_pixels: int = MAX_PIXELS_DEFAULT,
) -> ProcessedImage:
    """Validate an avatar upload exactly as `process_image` validates a photo (the same checks,
    codes and promise: RejectedImage and nothing else) and cut its centred squares, one per
    AVATAR_SIZES (variants keyed "64", "150", "320"). Never enlarged: an image whose short side
    is below a size gives a square of its short side there. The BlurHash and pHash are the
    whole picture's, computed as a photo's are, so the blocklist catches an avatar as it
    catches the same picture posted."""
    try:
        return _process(data, declared_type, max_bytes, max_pixels, _AVATAR_BOX, _render_avatar)
    except RejectedImage:
        raise
    except Exception as error:  # the contract: bad bytes never escape as other errors
        raise undecodable(error) from error


def _process(
    data: bytes, declared_type: str, max_bytes: int, max_pixels: int, box: _Box = _PHOTO_BOX,
    render: Callable[[Any, int, int], ProcessedImage] | None = None,
) -> ProcessedImage:  # fmt: skip
    """process_image's checks and pipeline (`render`: the photo's variants unless given); may
    raise anything the libraries raise."""
    if len(data) > max_bytes:
        raise RejectedImage(
            "too_large",
            f"The file is {len(data) / 2**20:.1f} MB; at most {max_bytes / 2**20:g} MB "
            "are accepted.",
        )
    content_type = _reject_type(data, normalise_type(declared_type))
    if content_type in _VIPS_LOADERS:
        lazy, width, height = _decode_vips(data, content_type, max_pixels, box)
    else:
        lazy, width, height = _decode_heif(data, max_pixels, box)
    try:
        return (render or _render)(_srgb(lazy).copy_memory(), width, height)
    except pyvips.Error as error:
        raise _corrupt("undecodable pixel data") from error
