"""Settings read from a PHOTOFEED_* mapping, and the topic catalogue."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.settings import Settings, load_settings
from infra.topics import CATALOGUE, DEAD_LETTER, catalogue_markdown, key_of, topic_of
from schemas import events as ev
from schemas.events import EVENT_TYPES
from tests.unit.strategies import any_event

HINTS = typing.get_type_hints(Settings)
FIELDS = [f for f in dataclasses.fields(Settings) if f.name != "extra"]


def env_name(field: str) -> str:
    return f"PHOTOFEED_{field.upper()}"


def fields_of(kind: type) -> list[str]:
    return [f.name for f in FIELDS if HINTS[f.name] is kind]


# load_settings ------------------------------------------------------------------------------------


def test_an_empty_environment_gives_the_defaults() -> None:
    assert load_settings({}) == Settings()


def test_other_variables_are_ignored() -> None:
    assert load_settings({"HOME": "/root", "KAFKA_PORT": "1", "photofeed_kafka_port": "2"}) == (
        Settings()
    )


@pytest.mark.parametrize("name", fields_of(float))
@pytest.mark.parametrize("raw", ["abc", "", "1.5s"])
def test_a_bad_float_names_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ValueError, match=env_name(name)):
        load_settings({env_name(name): raw})


@pytest.mark.parametrize("name", fields_of(int))
def test_int_variables_become_ints(name: str) -> None:
    settings = load_settings({env_name(name): "12345"})
    assert getattr(settings, name) == 12345
    assert type(getattr(settings, name)) is int


@pytest.mark.parametrize("name", fields_of(bool))
@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("TRUE", True), ("yes", True), ("0", False), ("false", False),
     ("False", False), ("no", False)],
)  # fmt: skip
def test_bool_variables_become_bools(name: str, raw: str, expected: bool) -> None:
    assert getattr(load_settings({env_name(name): raw}), name) is expected


@pytest.mark.parametrize("name", fields_of(Path))
def test_path_variables_become_paths(name: str) -> None:
    settings = load_settings({env_name(name): "/srv/photofeed/data"})
    assert getattr(settings, name) == Path("/srv/photofeed/data")
    assert isinstance(getattr(settings, name), Path)


@pytest.mark.parametrize("name", fields_of(str))
def test_str_variables_stay_verbatim(name: str) -> None:
    assert getattr(load_settings({env_name(name): " spaced 42 "}), name) == " spaced 42 "


def test_every_field_has_a_converted_type() -> None:
    assert {HINTS[f.name] for f in FIELDS} <= {int, bool, str, Path, float}
    assert fields_of(int)
    assert fields_of(float)
    assert fields_of(bool)
    assert fields_of(Path)


@pytest.mark.parametrize("name", fields_of(int))
@pytest.mark.parametrize("raw", ["abc", "", "1.5", "12a", "0x10"])
def test_a_bad_int_names_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ValueError, match=env_name(name)):
        load_settings({env_name(name): raw})


@pytest.mark.parametrize("name", fields_of(bool))
@pytest.mark.parametrize("raw", ["", "maybe", "2", "on"])
def test_a_bad_bool_names_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ValueError, match=env_name(name)):
        load_settings({env_name(name): raw})


def test_unknown_photofeed_variables_land_in_extra() -> None:
    settings = load_settings({"PHOTOFEED_FEATURE_X": "on", "PHOTOFEED_KAFKA_PORT": "19092"})
    assert settings.extra == {"feature_x": "on"}
    assert settings.kafka_port == 19092


def _settings_strategy() -> st.SearchStrategy[Settings]:
    by_type: dict[Any, st.SearchStrategy[Any]] = {
        int: st.integers(-(2**63), 2**63),
        bool: st.booleans(),
        float: st.floats(allow_nan=False, allow_infinity=False),
        str: st.text(),
        Path: st.text().map(Path),
    }
    return st.builds(Settings, **{f.name: by_type[HINTS[f.name]] for f in FIELDS})


@given(_settings_strategy())
def test_to_env_round_trips_through_load_settings(settings: Settings) -> None:
    env = settings.to_env()
    assert set(env) == {env_name(f.name) for f in FIELDS}
    assert all(isinstance(v, str) for v in env.values())
    assert load_settings(env) == settings


def test_to_env_round_trips_the_defaults() -> None:
    assert load_settings(Settings().to_env()) == Settings()


@given(st.text(min_size=1), st.integers(1, 65535), st.integers(1, 65535), st.integers(1, 65535))
def test_service_addresses_default_from_host_and_port(
    host: str, kafka: int, redis: int, s3: int
) -> None:
    s = Settings(host=host, kafka_port=kafka, redis_port=redis, s3_port=s3)
    assert s.bootstrap == f"{host}:{kafka}"
    assert s.redis_address == f"redis://{host}:{redis}/0"
    assert s.s3 == f"{host}:{s3}"


def test_explicit_addresses_win_over_host_and_port() -> None:
    s = Settings(
        kafka_bootstrap="k1:9092,k2:9092",
        redis_url="redis://cache:6380/2",
        s3_endpoint="s3.example.com",
    )
    assert s.bootstrap == "k1:9092,k2:9092"
    assert s.redis == "redis://cache:6380/2"
    assert s.s3 == "s3.example.com"


def test_defaults_point_at_the_local_stack() -> None:
    s = Settings()
    assert s.bootstrap == f"{s.host}:{s.kafka_port}"
    assert s.gateway_url == f"http://{s.host}:{s.gateway_port}"


# topics -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda t: t.__name__)
def test_every_event_type_is_in_exactly_one_topic(cls: type[ev.Event]) -> None:
    holders = [t for t in CATALOGUE if cls in t.events]
    assert len(holders) == 1
    assert topic_of(cls) is holders[0]


def test_the_catalogue_carries_only_known_events_and_unique_names() -> None:
    carried = [e for t in CATALOGUE for e in t.events]
    assert set(carried) == set(EVENT_TYPES)
    names = [t.name for t in CATALOGUE]
    assert len(set(names)) == len(names)
    assert all(t.partitions >= 1 for t in CATALOGUE)


@pytest.mark.parametrize("spec", [t for t in CATALOGUE if t.events], ids=lambda t: t.name)
def test_every_event_of_a_topic_has_the_key_field(spec: Any) -> None:
    for cls in spec.events:
        assert spec.key_field in {f.name for f in dataclasses.fields(cls)}, cls.__name__


def test_an_event_type_outside_the_catalogue_has_no_topic() -> None:
    class Unlisted(ev.Event):
        pass

    with pytest.raises(KeyError, match="Unlisted"):
        topic_of(Unlisted)


def test_the_dead_letter_topic_carries_no_event_type() -> None:
    assert DEAD_LETTER.events == ()
    assert DEAD_LETTER in CATALOGUE


@given(any_event())
def test_key_of_is_the_decimal_key_field_as_bytes(event: ev.Event) -> None:
    spec = topic_of(type(event))
    value = getattr(event, spec.key_field)
    assert isinstance(value, int)
    key = key_of(event)
    assert isinstance(key, bytes)
    assert key.isdigit()
    assert int(key) == value


def test_key_of_examples() -> None:
    at = datetime(2025, 1, 2, tzinfo=UTC)
    like = ev.PostLiked(event_id=1, occurred_at=at, actor_id=2, post_id=345, author_id=6)
    follow = ev.UserFollowed(event_id=1, occurred_at=at, actor_id=78, followee_id=9)
    assert key_of(like) == b"345"
    assert key_of(follow) == b"78"


def test_the_catalogue_markdown_lists_every_topic() -> None:
    table = catalogue_markdown()
    lines = table.splitlines()
    assert len(lines) == len(CATALOGUE) + 2  # header, rule, one row per topic
    for spec, row in zip(CATALOGUE, lines[2:], strict=True):
        assert f"`{spec.name}`" in row
        for cls in spec.events:
            assert f"`{cls.__name__}`" in row
