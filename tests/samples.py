"""Test images made on the spot (no files from anywhere): quadrant colours make orientation
visible, EXIF carries an orientation and a GPS position that must not survive processing."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageDraw

RED, GREEN, BLUE, WHITE = (220, 30, 30), (30, 200, 30), (30, 30, 220), (240, 240, 240)


def quadrants(width: int, height: int, noise: bool = False) -> Image.Image:
    """Top-left red, top-right green, bottom-left blue, bottom-right white."""
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    w2, h2 = width // 2, height // 2
    draw.rectangle([0, 0, w2, h2], fill=RED)
    draw.rectangle([w2, 0, width, h2], fill=GREEN)
    draw.rectangle([0, h2, w2, height], fill=BLUE)
    draw.rectangle([w2, h2, width, height], fill=WHITE)
    if noise:
        rnd = random.Random(width * height)
        px = img.load()
        assert px is not None
        for _ in range(width * height // 50):
            x, y = rnd.randrange(width), rnd.randrange(height)
            px[x, y] = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
    return img


def scene(width: int, height: int, seed: int = 7) -> Image.Image:
    """A photo-like picture: a diagonal gradient with a few soft shapes (structure at several
    scales, as perceptual hashes expect of real photos)."""
    rnd = random.Random(seed)
    grad = Image.linear_gradient("L").resize((width, height)).rotate(45, expand=False)
    img = Image.merge("RGB", (grad, grad.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                              Image.new("L", (width, height), 90)))  # fmt: skip
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rnd.randrange(width), rnd.randrange(height)
        r = rnd.randrange(min(width, height) // 10, min(width, height) // 3)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return img


def jpeg(img: Image.Image, orientation: int | None = None, gps: bool = False, q: int = 90) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (52.0, 22.0, 11.0), 3: "E", 4: (4.0, 53.0, 0.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=q, exif=exif.tobytes())
    return out.getvalue()


def png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def noise_jpeg(width: int, height: int, seed: int = 1) -> bytes:
    """An incompressible-ish JPEG (random pixels), for large uploads."""
    rnd = random.Random(seed)
    img = Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95)
    return out.getvalue()


def bomb_png(side: int = 20000) -> bytes:
    """A tiny PNG whose header claims side x side pixels (one colour compresses to ~KB)."""
    img = Image.new("L", (side, side), 0)
    out = io.BytesIO()
    img.save(out, "PNG", optimize=False, compress_level=9)
    return out.getvalue()


def blank_png(width: int, height: int) -> bytes:
    """A valid, all-black 8-bit greyscale PNG of any size, deflated with zlib in 1 MiB blocks (no
    pixel buffer in memory): 1 x 700,000 is ~1.4 KB, 1 x 15,000,000 ~29 KB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    deflate = zlib.compressobj(9)
    block = bytes(1 << 20)
    blocks, rest = divmod((1 + width) * height, len(block))  # every row: filter 0, then pixels
    idat = b"".join(deflate.compress(block) for _ in range(blocks))
    idat += deflate.compress(block[:rest]) + deflate.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
