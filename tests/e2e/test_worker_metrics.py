"""The worker's `/metrics` counts what its agents did, through the real API and worker: events
per projection group, home-feed entries pushed, an upload's outcome and processing time, and a
dead letter per source topic and reason (deltas, since other tests share the worker)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from infra.kafka import producer_config
from infra.settings import Settings
from infra.topics import FOLLOWS
from tests import samples
from tests.fixtures import bearer, eventually, register

pytestmark = pytest.mark.stack
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]
FOLLOWS_AGENT = "project_photofeed_follows"
POSTS_AGENT = "project_photofeed_posts"


async def scrape(worker: httpx.AsyncClient) -> tuple[str, Series]:
    r = await worker.get("/metrics")
    assert r.status_code == 200
    series = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in text_string_to_metric_families(r.text) for s in f.samples}  # fmt: skip
    return r.text, series


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def grew(before: Series, name: str, by: float, **labels: str) -> Callable[[Series], bool]:
    return lambda now: value(now, name, **labels) - value(before, name, **labels) >= by


async def test_worker_metrics_count_projection_fanout_media_and_dead_letters(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    base = f"http://{settings.host}:{settings.worker_port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as worker:
        text, before = await scrape(worker)
        for name, kind in [("photofeed_projection_events_total", "counter"),
                           ("photofeed_fanout_deliveries_total", "counter"),
                           ("photofeed_media_uploads_total", "counter"),
                           ("photofeed_media_processing_seconds", "histogram"),
                           ("photofeed_dead_letters_total", "counter")]:  # fmt: skip
            assert f"# TYPE {name} {kind}\n" in text
            assert f"# HELP {name} " in text

        _, token = await register(api)
        author, author_token = await register(api)
        assert (await api.post(f"/follow/{author}", headers=bearer(token))).status_code == 204
        upload = await api.post(
            "/photos", headers=bearer(author_token), data={"caption": "metered"},
            files={"photo": ("m.png", samples.png(samples.quadrants(320, 240)), "image/png")},
        )  # fmt: skip
        assert upload.status_code == 202, upload.text
        garbage = Producer(producer_config(settings.bootstrap))
        garbage.produce(FOLLOWS.name, key=f"metrics-{uuid.uuid4().hex}", value=b"not avro")
        assert garbage.flush(10) == 0

        async def feed() -> list[str]:
            r = await api.get("/feed", headers=bearer(token))
            return [p["caption"] for p in r.json()["posts"]]

        await eventually(feed, lambda captions: "metered" in captions, timeout_s=60)

        async def metrics() -> Series:
            return (await scrape(worker))[1]

        for name, labels in [
            ("photofeed_projection_events_total", {"agent": FOLLOWS_AGENT, "group": "graph"}),
            ("photofeed_projection_events_total", {"agent": POSTS_AGENT, "group": "feeds"}),
            ("photofeed_fanout_deliveries_total", {"agent": POSTS_AGENT}),  # the follower's feed
            ("photofeed_media_uploads_total", {"outcome": "published"}),
            ("photofeed_media_processing_seconds_count", {}),
            ("photofeed_dead_letters_total",
             {"agent": FOLLOWS_AGENT, "topic": FOLLOWS.name, "reason": "bad_input"}),
        ]:  # fmt: skip
            await eventually(metrics, grew(before, name, 1, **labels), timeout_s=15)
        after = await metrics()
        # the upload's processing time fell in some bucket, and the +Inf bucket counts them all
        inf = ("photofeed_media_processing_seconds_bucket", (("le", "+Inf"),))
        assert after[inf] == after[("photofeed_media_processing_seconds_count", ())]
        assert after[("photofeed_media_processing_seconds_sum", ())] > before.get(
            ("photofeed_media_processing_seconds_sum", ()), 0.0
        )
