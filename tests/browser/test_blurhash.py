"""The client's BlurHash decoder (gateway/web/js/blurhash.js), run in Chromium, against the
reference implementation (blurhash-python, the C decoder) on hashes the media pipeline makes."""

from __future__ import annotations

import random

import pytest

from streams.media.phash import blurhash as encode
from tests.browser.conftest import Tabs

pytestmark = [pytest.mark.browser, pytest.mark.stack]
WIDTH, HEIGHT = 12, 9
DECODE = """async ([hash, width, height]) => {
  const { decode } = await import('/web/js/blurhash.js');
  const pixels = decode(hash, width, height);
  return pixels && Array.from(pixels);
}"""


def pipeline_hashes() -> list[str]:
    rnd = random.Random(3)
    noisy = bytes(rnd.randrange(256) for _ in range(32 * 32 * 3))
    gradient = bytes(v for y in range(32) for x in range(32) for v in (x * 8, y * 8, 128))
    return [encode(noisy, 32, 32), encode(gradient, 32, 32, 9, 9), encode(gradient, 32, 32, 1, 1)]


async def test_decoder_matches_the_reference(tabs: Tabs) -> None:
    blurhash = pytest.importorskip("blurhash")  # the dev extra's reference implementation
    tab = await tabs.open("decoder")
    await tab.page.goto("/")
    for hash_ in ["LEHV6nWB2yk8pyo0adR*.7kCMdnj", *pipeline_hashes()]:
        rgba = await tab.page.evaluate(DECODE, [hash_, WIDTH, HEIGHT])
        reference = blurhash.decode(hash_, WIDTH, HEIGHT).convert("RGB").tobytes()
        ours = bytes(v for i, v in enumerate(rgba) if i % 4 != 3)
        assert len(ours) == len(reference)
        worst = max(abs(a - b) for a, b in zip(ours, reference, strict=True))
        assert worst <= 1, (hash_, worst)  # single- vs double-precision floats
        assert all(rgba[i] == 255 for i in range(3, len(rgba), 4))  # opaque
    for invalid in ["", "LEHV6nWB2yk8", "LEHV6nWB2yk8pyo0adR*.7kCMdn€", 42]:
        assert await tab.page.evaluate(DECODE, [invalid, WIDTH, HEIGHT]) is None
    tabs.assert_clean()
