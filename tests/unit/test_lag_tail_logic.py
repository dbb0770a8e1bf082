"""Pure parts of lag, top, tail and demo: lag arithmetic, per-topic sums, events/s from
snapshots, the JSON a tail prints, Prometheus gauges, generated demo content, and the
constants' invariants."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime
from typing import Any

import orjson
import pyvips
from hypothesis import given, settings

from infra import lag
from infra.consumers import consumer_config
from infra.lag import PartitionLag, lag_families, lag_topics
from infra.settings import Settings
from infra.topics import CATALOGUE, DEAD_LETTER
from photofeed import demo_images, top_cli, topics_cli
from photofeed.demo import NAMES, caption, usernames
from photofeed.demo_images import demo_jpeg
from photofeed.lag_views import Rates, agent_topics, by_topic, short_agent
from photofeed.tail_json import event_fields, message_json, rfc3339
from schemas.codec import default_codec
from schemas.events import Event, PhotoProcessed, UserFollowed
from streams.media.imaging import VARIANT_BOXES
from tests.unit.strategies import any_event


@dataclasses.dataclass
class FakeMessage:
    value_: bytes | None
    key_: bytes | None = b"42"
    headers_: list[tuple[str, str | bytes | None]] | None = None
    ts: tuple[int, int] = (1, 1_777_636_800_123)

    def topic(self) -> str:
        return "photofeed.follows"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return 17

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def timestamp(self) -> tuple[int, int]:
        return self.ts

    def headers(self) -> list[tuple[str, str | bytes | None]] | None:
        return self.headers_


def test_lag_counts_from_the_committed_offset_or_the_first_stored_one() -> None:
    assert PartitionLag("t", 0, committed=7, start=0, end=10).lag == 3
    assert PartitionLag("t", 0, committed=None, start=4, end=10).lag == 6  # never committed
    assert PartitionLag("t", 0, committed=None, start=None, end=10).lag == 10
    assert PartitionLag("t", 0, committed=10, start=0, end=10).lag == 0
    assert PartitionLag("t", 0, committed=12, start=0, end=10).lag == 0  # never negative
    assert PartitionLag("t", 0, committed=3, start=0, end=None).lag is None  # end unknown


def test_lag_topics_are_the_catalogue_without_dead_letters() -> None:
    assert lag_topics() == [t.name for t in CATALOGUE if t is not DEAD_LETTER]
    assert DEAD_LETTER.name not in lag_topics()


def test_by_topic_sums_partitions_and_unknown_parts_make_the_sum_unknown() -> None:
    rows = [
        PartitionLag("a", 0, 5, 0, 8),
        PartitionLag("a", 1, None, 2, 4),
        PartitionLag("b", 0, 1, 0, None),
    ]
    a, b = by_topic(rows)
    assert (a.topic, a.partitions, a.committed, a.end, a.lag) == ("a", 2, 7, 12, 5)
    assert (b.topic, b.end, b.lag) == ("b", None, None)


def test_rates_need_two_snapshots_and_ignore_a_repeated_one() -> None:
    def snap(at: float, processed: int) -> dict[str, Any]:
        return {"pid": 9, "at": at, "agents": {"x": {"processed": processed}}}

    rates = Rates()
    rates.update([snap(100.0, 50)])
    assert rates.of(9, "x") is None
    rates.update([snap(102.0, 250)])
    assert rates.of(9, "x") == 100.0
    rates.update([snap(102.0, 250)])  # the same snapshot seen again: the rate stays
    assert rates.of(9, "x") == 100.0
    rates.update([snap(104.0, 250)])
    assert rates.of(9, "x") == 0.0
    rates.update([snap(106.0, 10)])  # a restarted count never shows a negative rate
    assert rates.of(9, "x") == 0.0


def test_agents_map_to_their_topics_even_before_reading() -> None:
    idle: dict[str, Any] = {"partitions": []}
    assert agent_topics("project_photofeed_users", idle) == {"photofeed.users"}
    assert agent_topics("media_process_uploads", {"partitions": [{"topic": "photofeed.photos"}]})
    assert agent_topics("media_process_uploads", idle) == set()
    assert short_agent("project_photofeed_engagement") == "project_engagement"


def test_tail_json_of_an_event_has_ids_as_strings_and_rfc3339_times() -> None:
    when = datetime(2026, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    event = UserFollowed(event_id=2**62 + 1, occurred_at=when, actor_id=2**60 + 3, followee_id=9)
    row, decoded = message_json(FakeMessage(default_codec().encode(event)), default_codec())
    assert decoded == event
    assert row == {
        "topic": "photofeed.follows", "partition": 2, "offset": 17, "key": "42",
        "timestamp": "2026-05-01T12:00:00.123Z", "type": "UserFollowed",
        "event_id": str(2**62 + 1), "occurred_at": "2026-05-01T12:00:00.123Z",
        "actor_id": str(2**60 + 3), "followee_id": "9",
    }  # fmt: skip
    assert orjson.loads(orjson.dumps(row)) == row


def test_tail_json_of_garbage_is_undecodable_with_the_bytes_and_the_error() -> None:
    garbage = b"\xc3\x01not a fingerprint"
    row, decoded = message_json(
        FakeMessage(garbage, key_=None, headers_=[("source_topic", b"t"), ("x", None)]),
        default_codec(),
    )
    assert decoded is None
    assert base64.b64decode(row["undecodable"]) == garbage
    assert "fingerprint" in row["error"]
    assert row["key"] is None
    assert row["headers"] == {"source_topic": "t", "x": ""}
    assert "type" not in row
    row, _ = message_json(FakeMessage(None), default_codec())
    assert row["undecodable"] is None
    assert row["error"] == "null value"


@settings(max_examples=200, deadline=None)
@given(any_event())
def test_tail_json_of_any_event_keeps_every_field_exactly(event: Event) -> None:
    fields = event_fields(event)
    text = orjson.dumps(fields)  # JSON-ready: nothing orjson refuses
    back = orjson.loads(text)
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, int) and (f.name.endswith("_id") or f.name == "phash"):
            assert back[f.name] == str(value)  # exact past 2**53
        elif isinstance(value, datetime):
            assert back[f.name] == rfc3339(value)
            parsed = datetime.fromisoformat(back[f.name])
            assert abs((parsed - value).total_seconds()) < 0.001
    if isinstance(event, PhotoProcessed):
        assert back["variants"] == dataclasses.asdict(event.variants)


def test_lag_gauges_carry_every_known_figure_and_the_probe_state() -> None:
    rows = [PartitionLag("t", 0, 3, 0, 5), PartitionLag("t", 1, None, 0, None)]
    committed, end, lag_, up = lag_families(rows, "g")
    assert [(s.labels, s.value) for s in committed.samples] == [
        ({"group": "g", "topic": "t", "partition": "0"}, 3.0)
    ]
    assert [(s.labels, s.value) for s in end.samples] == [({"topic": "t", "partition": "0"}, 5)]
    assert [s.value for s in lag_.samples] == [2.0]
    assert [s.value for s in up.samples] == [1.0]
    assert [s.value for s in lag_families([], "g", ok=False)[3].samples] == [0.0]


def test_consumer_config_is_the_one_place_and_options_override_defaults() -> None:
    config = consumer_config(Settings(kafka_port=9999), {"group.id": "g"})
    assert config["bootstrap.servers"] == "127.0.0.1:9999"
    assert config["enable.auto.commit"] is False
    assert config["group.id"] == "g"
    assert consumer_config("h:1", {"enable.auto.commit": True})["enable.auto.commit"] is True


def test_probe_and_refresh_constants_hold_their_invariants() -> None:
    assert lag.POLL_S * 1000 < lag.FETCH_WAIT_MS * 2
    assert top_cli.TOP_PROBE_S < top_cli.REFRESH_S
    assert topics_cli.POLL_S * 1000 > topics_cli.TAIL_FETCH_WAIT_MS


def test_demo_usernames_are_distinct_and_valid_past_the_name_list() -> None:
    names = usernames(len(NAMES) * 2 + 3, "demo_")
    assert len(set(names)) == len(names)
    assert all(3 <= len(n) <= 30 and n.replace("_", "").isalnum() for n in names)
    text, tags = caption(5)
    assert all(f"#{t}" in text for t in tags)
    assert caption(5) == (text, tags)


def test_demo_photos_are_wider_than_the_feed_variant() -> None:
    assert VARIANT_BOXES["feed"] < demo_images.WIDTH  # so every variant is really cut


def test_demo_photos_are_deterministic_jpegs_that_differ_by_seed() -> None:
    first = demo_jpeg(1, 160, 120)
    assert first == demo_jpeg(1, 160, 120)  # a retried upload is the same request
    assert first != demo_jpeg(2, 160, 120)
    image = pyvips.Image.new_from_buffer(first, "")
    assert (image.width, image.height, image.bands) == (160, 120, 3)
    assert image.deviate() > 5  # a gradient, not a flat colour
