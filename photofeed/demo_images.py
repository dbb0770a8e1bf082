"""Generated sample photos for `photofeed demo`: a gradient sky, a glowing sun and a hill line,
in colours drawn from a seed. Same seed, same JPEG bytes (so a retried upload is the same
request)."""

from __future__ import annotations

import colorsys
import math
import random

import pyvips

WIDTH, HEIGHT = 800, 600  # 4:3, wider than the 640 px feed variant: every variant is cut
QUALITY = 85


def _rgb(hue: float, saturation: float, value: float) -> list[float]:
    return [c * 255 for c in colorsys.hsv_to_rgb(hue % 1.0, saturation, value)]


def demo_jpeg(seed: int, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A width x height JPEG whose colours, light and horizon depend on `seed` only."""
    rng = random.Random(seed)
    hue = rng.random()
    low = _rgb(hue, rng.uniform(0.55, 0.95), rng.uniform(0.35, 0.65))
    high = _rgb(hue + rng.uniform(0.1, 0.5), rng.uniform(0.4, 0.9), rng.uniform(0.8, 1.0))
    xyz = pyvips.Image.xyz(width, height)
    x, y = xyz[0] / width, xyz[1] / height
    angle = rng.uniform(0, 2 * math.pi)
    cos, sin = math.cos(angle), math.sin(angle)
    t = (x * cos + y * sin - min(0.0, cos) - min(0.0, sin)) / (abs(cos) + abs(sin))  # 0..1
    sky = [t * (high[i] - low[i]) + low[i] for i in range(3)]
    image = sky[0].bandjoin(sky[1:])
    cx, cy, radius = rng.uniform(0.2, 0.8), rng.uniform(0.15, 0.5), rng.uniform(0.08, 0.2)
    d = ((x - cx) ** 2 + ((y - cy) * height / width) ** 2) ** 0.5
    glow = (d < radius).ifthenelse(1 - d / radius, 0)
    sun = [255.0, rng.uniform(180, 240), rng.uniform(60, 180)]
    image = image + glow.bandjoin([glow, glow]) * sun
    horizon = rng.uniform(0.6, 0.85)
    amplitude, waves, phase = rng.uniform(0.03, 0.1), rng.uniform(1, 3.5), rng.uniform(0, 360)
    ridge = (x * (waves * 360) + phase).sin() * amplitude + horizon  # libvips sin: degrees
    land = _rgb(hue + 0.5, rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.3))
    image = (y > ridge).ifthenelse(land, image)
    image = (image > 255).ifthenelse(255, image)
    return bytes(image.cast("uchar").write_to_buffer(".jpg", Q=QUALITY))
