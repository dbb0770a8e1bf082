"""Media core on a 12 MP JPEG: process_image (3 variants + BlurHash + pHash) against a bare
pyvips cascade and a bare Pillow cascade (with draft(): DCT scaling on load; same encoder
settings), peak RSS against bare pyvips, two worker processes against one, and one 12 MP HEIC
through process_image against its bare pillow-heif decode.

Every process runs libvips as a media worker does (configure_libvips: one libvips thread per
process, no operation cache). Project and baseline alternate image by image after a warm-up,
so drift in machine load hits both alike. No network.
Run: python -m bench.bench_media   (make bench-media)
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pillow_heif
import pyvips
from PIL import Image, ImageOps

from streams.media.imaging import JPEG_QUALITY, VARIANT_BOXES, configure_libvips, process_image

MAX_IMAGES = 20  # every measured loop stops at this many images ...
MAX_SECONDS = 20.0  # ... or after this long, whichever comes first
WARMUP = 2  # images per path before measuring (first-call library set-up is not throughput)
SCALING_WINDOW_S = 5.0  # workers loop together this long (< MAX_SECONDS), so none runs alone
WIDTH, HEIGHT = 4000, 3000  # 12 MP, a phone's 4:3 sensor
GOAL_VS_VIPS = 0.9  # process_image throughput >= 90% of the bare pyvips cascade
GOAL_VS_PILLOW = 1.0  # ... and >= a bare Pillow cascade with draft() (DCT scaling on load)
GOAL_RSS = 1.5  # peak RSS <= 1.5x the bare pyvips cascade's
GOAL_SCALING = 1.8  # two processes on two cores >= 1.8x one
GOAL_HEIC = 1.5  # HEIC end to end <= 1.5x its bare decode

Cascade = Callable[[bytes], list[bytes]]
_THUMB, _FEED, _FULL = VARIANT_BOXES["thumbnail"], VARIANT_BOXES["feed"], VARIANT_BOXES["full"]


def synthetic_photo(width: int = WIDTH, height: int = HEIGHT) -> Any:
    """Gradients, a radial falloff and sensor-like noise, 8-bit sRGB, with EXIF incl. GPS."""
    xy = pyvips.Image.xyz(width, height)
    noise = pyvips.Image.gaussnoise(width, height, sigma=12)
    red = xy[0] * (200 / width) + 30 + noise
    green = xy[1] * (200 / height) + 20 + noise
    radius = ((xy[0] - width / 2) ** 2 + (xy[1] - height / 2) ** 2) ** 0.5
    blue = radius * (255 / width) + noise
    image = red.bandjoin([green, blue]).cast("uchar").copy(interpretation="srgb")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Bench", "Synthetic", 1
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    image = image.copy_memory()
    image.set_type(pyvips.GValue.blob_type, "exif-data", exif.tobytes())
    return image


def jpeg_12mp() -> bytes:
    data: bytes = synthetic_photo().jpegsave_buffer(Q=90, keep=pyvips.enums.ForeignKeep.ALL)
    return data


def heic_12mp() -> bytes:
    image = synthetic_photo()
    pil = Image.frombytes("RGB", (image.width, image.height), image.write_to_memory())
    out = io.BytesIO()
    pillow_heif.from_pillow(pil).save(out, quality=80)
    return out.getvalue()


def project(data: bytes) -> list[bytes]:
    return list(process_image(data, "image/jpeg").variants.values())


def _bare_vips(data: bytes, optimize_coding: bool, via_thumbnail: bool = False) -> list[bytes]:
    """The least pyvips can do for the same three sizes: one decode shrunk on load (the largest
    DCT scaling that keeps FULL px, as Pillow's draft() picks), two resizes, three saves.
    `via_thumbnail`: decode with libvips' own thumbnail instead, which keeps a further factor of
    two in hand and so decodes a 12 MP photo whole (slower; for the record)."""
    if via_thumbnail:
        full = pyvips.Image.thumbnail_buffer(data, _FULL, height=_FULL, size="down")
    else:
        long = max((header := pyvips.Image.jpegload_buffer(data)).width, header.height)
        shrink = next(f for f in (8, 4, 2, 1) if f == 1 or long // f >= _FULL)
        loaded = pyvips.Image.jpegload_buffer(data, shrink=shrink, access="sequential")
        full = loaded.resize(_FULL / max(loaded.width, loaded.height))
    full = full.copy_memory()
    feed = full.resize(_FEED / max(full.width, full.height))
    thumbnail = full.thumbnail_image(_THUMB, height=_THUMB, crop="centre")
    keep = pyvips.enums.ForeignKeep.NONE
    return [
        img.jpegsave_buffer(Q=JPEG_QUALITY, keep=keep, optimize_coding=optimize_coding)
        for img in (thumbnail, feed, full)
    ]


def bare_vips(data: bytes) -> list[bytes]:
    """Bare pyvips with the project's encoder settings (Q, no metadata, optimised Huffman)."""
    return _bare_vips(data, optimize_coding=True)


def bare_vips_default_huffman(data: bytes) -> list[bytes]:
    """Bare pyvips with libjpeg's default Huffman tables: faster, bigger files."""
    return _bare_vips(data, optimize_coding=False)


def bare_vips_thumbnail(data: bytes) -> list[bytes]:
    """Bare pyvips decoding through libvips' thumbnail (no DCT scaling at a 3.7x shrink)."""
    return _bare_vips(data, optimize_coding=True, via_thumbnail=True)


def _bare_pillow(data: bytes, draft: bool) -> list[bytes]:
    """The Pillow recipe for the same three sizes, with the project's encoder settings (quality,
    no metadata, optimised Huffman tables: `optimize=True`, as `optimize_coding` in the project
    and the pyvips baselines) so all cascades write the same kind of file."""
    with Image.open(io.BytesIO(data)) as image:
        if draft:
            image.draft("RGB", (_FULL, _FULL))
        full = ImageOps.exif_transpose(image.convert("RGB"))
    full.thumbnail((_FULL, _FULL))
    feed = full.copy()
    feed.thumbnail((_FEED, _FEED))
    thumbnail = ImageOps.fit(feed, (_THUMB, _THUMB))
    out = []
    for variant in (thumbnail, feed, full):
        buffer = io.BytesIO()
        variant.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
        out.append(buffer.getvalue())
    return out


def bare_pillow(data: bytes) -> list[bytes]:
    """The strong Pillow recipe: draft() first (libjpeg-turbo DCT scaling on load, as libvips'
    shrink-on-load), thumbnail, fit, save each. The baseline of `media_vs_pillow`."""
    return _bare_pillow(data, draft=True)


def bare_pillow_no_draft(data: bytes) -> list[bytes]:
    """Pillow decoding every pixel first, as code that skips draft() does."""
    return _bare_pillow(data, draft=False)


CASCADES: dict[str, Cascade] = {
    "project": project,
    "vips": bare_vips,
    "vips_default_huffman": bare_vips_default_huffman,
    "vips_thumbnail": bare_vips_thumbnail,
    "pillow": bare_pillow,
    "pillow_no_draft": bare_pillow_no_draft,
}


def interleaved_rates(data: bytes, cascades: list[Cascade]) -> list[float]:
    """Images/s of each cascade, run in turn image by image after WARMUP images each."""
    for cascade in cascades:
        for _ in range(WARMUP):
            cascade(data)
    spent = [0.0] * len(cascades)
    done = 0
    deadline = time.monotonic() + MAX_SECONDS
    while done < MAX_IMAGES and time.monotonic() < deadline:
        for index, cascade in enumerate(cascades):
            started = time.perf_counter()
            cascade(data)
            spent[index] += time.perf_counter() - started
        done += 1
    return [done / seconds for seconds in spent]


def _loop(cascade: Cascade, data: bytes, images: int) -> int:
    """Run `cascade` up to `images` times within MAX_SECONDS; returns how many ran."""
    deadline = time.monotonic() + MAX_SECONDS
    done = 0
    while done < images and time.monotonic() < deadline:
        cascade(data)
        done += 1
    return done


def _peak_rss_kib() -> int:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    child started from a big parent would report the parent's pages."""
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rss_child(which: str, path: str) -> None:
    """In a fresh process: run one cascade (or none) and print this process's peak RSS in KiB."""
    configure_libvips(concurrency=1)
    data = Path(path).read_bytes()
    if which != "idle":
        _loop(CASCADES[which], data, MAX_IMAGES // 2)
    print(_peak_rss_kib())


def peak_rss_mib(which: str, path: Path) -> float:
    """Peak RSS of a child process running `which` ("project", "vips" or "idle")."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_media", "--rss-child", which, str(path)],
        check=True, capture_output=True, text=True, timeout=MAX_SECONDS * 3,
    )  # fmt: skip
    return int(out.stdout.split()[-1]) / 1024


def _scaling_worker(path: str, barrier: Barrier, results: Any) -> None:
    configure_libvips(concurrency=1)
    data = Path(path).read_bytes()
    for _ in range(WARMUP):
        process_image(data, "image/jpeg")
    barrier.wait()
    started = time.perf_counter()
    deadline = time.monotonic() + SCALING_WINDOW_S  # the same window for every worker
    done = 0
    while done < MAX_IMAGES * 2 and time.monotonic() < deadline:
        process_image(data, "image/jpeg")
        done += 1
    results.put(done / (time.perf_counter() - started))


def processes_rate(path: Path, workers: int) -> float:
    """Summed images/s of `workers` processes looping process_image together."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    procs = [
        context.Process(target=_scaling_worker, args=(str(path), barrier, results))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    rates = [float(results.get(timeout=MAX_SECONDS * 3)) for _ in procs]
    for proc in procs:
        proc.join(timeout=MAX_SECONDS)
    return sum(rates)


def heic_times_ms(data: bytes) -> tuple[float, float]:
    """Best-of latency of process_image on a HEIC and of its bare pillow-heif decode."""

    def bare() -> object:
        return pillow_heif.open_heif(data).data

    def full() -> object:
        return process_image(data, "image/heic")

    best = []
    for run in (full, bare):
        run()
        times: list[float] = []
        deadline = time.monotonic() + MAX_SECONDS
        while len(times) < 3 and time.monotonic() < deadline:
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        best.append(min(times) * 1000)
    return best[0], best[1]


def main() -> None:
    from bench.harness import report  # here, so --rss-child processes load only what they use

    configure_libvips(concurrency=1)
    data = jpeg_12mp()
    mib = len(data) / 2**20
    rate = dict(zip(CASCADES, interleaved_rates(data, list(CASCADES.values())), strict=True))
    ours = rate["project"]
    variant_bytes = [
        sum(map(len, CASCADES[name](data))) for name in ("vips", "vips_default_huffman")
    ]
    report(
        "media_vs_pyvips", ours, rate["vips"], GOAL_VS_VIPS, "images/s", better="higher",
        jpeg_mib=mib,
        ratio_vs_default_huffman=ours / rate["vips_default_huffman"],
        ratio_vs_vips_thumbnail=ours / rate["vips_thumbnail"],
        huffman_bytes_saved_pct=100 * (1 - variant_bytes[0] / variant_bytes[1]),
    )  # fmt: skip
    report(
        "media_vs_pillow", ours, rate["pillow"], GOAL_VS_PILLOW, "images/s", better="higher",
        ratio_vs_no_draft=ours / rate["pillow_no_draft"],
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="photofeed-bench-media-") as tmp:
        path = Path(tmp) / "photo.jpg"
        path.write_bytes(data)
        idle = peak_rss_mib("idle", path)
        rss = {which: peak_rss_mib(which, path) for which in ("project", "vips")}
        report(
            "media_peak_rss",
            rss["project"],
            rss["vips"],
            GOAL_RSS,
            "MiB",
            better="lower",
            idle_mib=idle,
        )
        one = processes_rate(path, 1)
        two = processes_rate(path, 2)
        report("media_two_workers", two, one, GOAL_SCALING, "images/s", better="higher")
    heic = heic_12mp()
    ours_ms, decode_ms = heic_times_ms(heic)
    report(
        "media_heic_12mp",
        ours_ms,
        decode_ms,
        GOAL_HEIC,
        "ms",
        better="lower",
        heic_mib=len(heic) / 2**20,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--rss-child"]:
        _rss_child(sys.argv[2], sys.argv[3])
    else:
        main()
