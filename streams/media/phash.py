"""Pure fingerprints of a tiny RGB image: the 64-bit DCT pHash and the BlurHash placeholder.

Both read the same TINY x TINY sRGB thumbnail (8-bit, 3 bands, rows packed), so the caller
shrinks the photo once. Neither needs numpy: only the few DCT / cosine terms that are kept
are computed, separably, which costs well under a millisecond per image.
"""

from __future__ import annotations

import math
from operator import mul

TINY = 32  # side of the square input, as in phash.org; > HASH_SIDE (DCT terms 1..8)
HASH_SIDE = 8  # HASH_SIDE ** 2 == 64 bits, the width of an Avro long
HASH_BITS = HASH_SIDE * HASH_SIDE
BLURHASH_X, BLURHASH_Y = 4, 3  # components; BlurHash allows 1..9 each, 4x3 suits 4:3 photos

_U64 = (1 << 64) - 1
_I64_MIN = -(1 << 63)
_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"

# DCT-II basis rows cos(pi * (2x + 1) * u / 2N) for u = 1..HASH_SIDE (the DC row is skipped,
# as in phash.org's ph_dct_imagehash, which keeps the 8x8 block starting at (1, 1)).
_DCT_ROWS = tuple(
    tuple(math.cos(math.pi * (2 * x + 1) * u / (2 * TINY)) for x in range(TINY))
    for u in range(1, HASH_SIDE + 1)
)
# sRGB byte -> linear light, as BlurHash's reference encoder computes it.
_SRGB_TO_LINEAR = tuple(
    v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    for v in (i / 255 for i in range(256))
)


def to_signed64(value: int) -> int:
    """The two's-complement signed reading of an unsigned 64-bit value (fits an Avro long)."""
    if not 0 <= value <= _U64:
        raise ValueError(f"{value} is not an unsigned 64-bit value")
    return value - (1 << 64) if value >> 63 else value


def hamming(a: int, b: int) -> int:
    """Number of bits that differ between two 64-bit hashes.

    Each hash may be given signed (as stored in Avro) or unsigned; only its 64 bits count.
    Raises ValueError for an int that does not fit 64 bits either way.
    """
    for value in (a, b):
        if not _I64_MIN <= value <= _U64:
            raise ValueError(f"{value} does not fit 64 bits")
    return ((a ^ b) & _U64).bit_count()


def _luma(rgb: bytes) -> list[float]:
    """Rec. 601 luma of each pixel of packed 8-bit RGB."""
    return [
        0.299 * r + 0.587 * g + 0.114 * b
        for r, g, b in zip(rgb[0::3], rgb[1::3], rgb[2::3], strict=True)
    ]


def phash(rgb: bytes) -> int:
    """64-bit DCT perceptual hash of a TINY x TINY RGB image, as a signed 64-bit int.

    Bits, most significant first, are the 8x8 low-frequency DCT terms (1..8, 1..8) of the luma,
    row by row, each set when above their median. Resizing, re-encoding and mild colour changes
    move few bits; unrelated pictures differ in about half of them.
    """
    if len(rgb) != TINY * TINY * 3:
        raise ValueError(f"phash needs {TINY}x{TINY} RGB bytes, got {len(rgb)} bytes")
    gray = _luma(rgb)
    rows = [gray[y * TINY : (y + 1) * TINY] for y in range(TINY)]
    # Separable DCT: first along x for the kept u, then along y for the kept v.
    along_x = [[sum(map(mul, row, basis)) for basis in _DCT_ROWS] for row in rows]
    terms = [
        sum(basis_y[y] * along_x[y][u] for y in range(TINY))
        for basis_y in _DCT_ROWS
        for u in range(HASH_SIDE)
    ]
    ordered = sorted(terms)
    median = (ordered[HASH_BITS // 2 - 1] + ordered[HASH_BITS // 2]) / 2
    bits = 0
    for term in terms:
        bits = (bits << 1) | (term > median)
    return to_signed64(bits)


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - i - 1)) % 83] for i in range(length))


def _linear_to_srgb(value: float) -> int:
    v = min(1.0, max(0.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _sign_sqrt(value: float) -> float:
    return math.copysign(math.sqrt(abs(value)), value)


def blurhash(
    rgb: bytes,
    width: int,
    height: int,
    x_components: int = BLURHASH_X,
    y_components: int = BLURHASH_Y,
) -> str:
    """BlurHash of packed 8-bit RGB pixels, identical to the reference C encoder's output.

    BlurHash components live in normalised coordinates, so a squashed thumbnail hashes like the
    photo itself; clients decode the string at the post's own width/height.
    """
    if len(rgb) != width * height * 3 or width < 1 or height < 1:
        raise ValueError(f"{len(rgb)} bytes are not {width}x{height} RGB")
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("BlurHash components must be within 1..9")
    channels = [[_SRGB_TO_LINEAR[v] for v in rgb[c::3]] for c in range(3)]
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(x_components)]
    cos_y = [
        [math.cos(math.pi * j * y / height) for y in range(height)] for j in range(y_components)
    ]
    # along_x[c][y][i] = sum over x of cos_x[i][x] * linear pixel (x, y) of channel c
    along_x = [
        [
            [sum(map(mul, basis, channel[y * width : (y + 1) * width])) for basis in cos_x]
            for y in range(height)
        ]
        for channel in channels
    ]
    factors: list[tuple[float, float, float]] = []
    for j in range(y_components):
        for i in range(x_components):
            scale = (1 if i == j == 0 else 2) / (width * height)
            r, g, b = (
                scale * sum(cos_y[j][y] * along_x[c][y][i] for y in range(height)) for c in range(3)
            )
            factors.append((r, g, b))
    dc, ac = factors[0], factors[1:]
    out = _base83((x_components - 1) + (y_components - 1) * 9, 1)
    if ac:
        actual_max = max(abs(v) for term in ac for v in term)
        quantised_max = int(max(0.0, min(82.0, math.floor(actual_max * 166 - 0.5))))
        max_value = (quantised_max + 1) / 166
    else:
        quantised_max, max_value = 0, 1.0
    out += _base83(quantised_max, 1)
    r, g, b = (_linear_to_srgb(v) for v in dc)
    out += _base83((r << 16) + (g << 8) + b, 4)
    for term in ac:
        q = [
            int(max(0.0, min(18.0, math.floor(_sign_sqrt(v / max_value) * 9 + 9.5)))) for v in term
        ]
        out += _base83(q[0] * 19 * 19 + q[1] * 19 + q[2], 2)
    return out
