"""Snowflake ids: strictly increasing per generator, whatever the clock does; decimal ids parse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.ids import (
    EPOCH_MS,
    MAX_SEQUENCE,
    MAX_WORKER,
    SEQUENCE_BITS,
    WORKER_BITS,
    SnowflakeGenerator,
    id_to_datetime,
    id_to_ms,
    min_id_at,
    parse_id,
)

TIME_BITS = 41
MAX_MS = EPOCH_MS + (1 << TIME_BITS) - 1  # the last millisecond ids can encode
T0 = EPOCH_MS + 1_000_000_000  # some millisecond in 2025


def clock_from(readings: list[int]) -> Callable[[], int]:
    """A clock that returns `readings` in turn, then keeps returning the last one."""
    it: Iterator[int] = iter(readings)
    last = [readings[0]]

    def clock() -> int:
        last[0] = next(it, last[0])
        return last[0]

    return clock


def worker_of(snowflake: int) -> int:
    return (snowflake >> SEQUENCE_BITS) & MAX_WORKER


def sequence_of(snowflake: int) -> int:
    return snowflake & MAX_SEQUENCE


def assert_strictly_increasing(ids: list[int]) -> None:
    assert all(a < b for a, b in pairwise(ids))


# invariants of the constants ------------------------------------------------------------------


def test_constants_hold_their_invariants() -> None:
    assert MAX_SEQUENCE == 4095 == (1 << SEQUENCE_BITS) - 1
    assert MAX_WORKER == 1023 == (1 << WORKER_BITS) - 1
    assert TIME_BITS + WORKER_BITS + SEQUENCE_BITS == 63  # the sign bit stays clear
    assert datetime.fromtimestamp(EPOCH_MS / 1000, tz=UTC) == datetime(2025, 1, 1, tzinfo=UTC)


def test_ids_stay_positive_63_bit_until_2094() -> None:
    last = SnowflakeGenerator(MAX_WORKER, clock_from([MAX_MS])).next_id()
    assert 0 < last < 1 << 63
    assert id_to_datetime(last).year == 2094


# ordering ---------------------------------------------------------------------------------------


def test_real_clock_ids_strictly_increase_over_100k_calls() -> None:
    gen = SnowflakeGenerator(7)
    ids = [gen.next_id() for _ in range(100_000)]
    assert_strictly_increasing(ids)
    assert all(worker_of(i) == 7 for i in ids)
    assert all(i > 0 for i in ids)


@given(
    st.lists(st.integers(T0 - 5_000, T0 + 5_000), min_size=1, max_size=300),
    st.integers(0, MAX_WORKER),
)
def test_ids_increase_even_when_the_clock_jumps_around(readings: list[int], worker: int) -> None:
    gen = SnowflakeGenerator(worker, clock_from(readings))
    ids = [gen.next_id() for _ in readings]
    assert_strictly_increasing(ids)
    for k, snowflake in enumerate(ids):
        assert worker_of(snowflake) == worker
        assert id_to_ms(snowflake) >= max(readings[: k + 1])  # never older than the clock


def test_a_clock_stepping_back_does_not_reissue_ids() -> None:
    readings = [T0, T0 + 1, T0 - 1000, T0 - 1000, T0 - 999, T0 + 1, T0 + 2]
    gen = SnowflakeGenerator(1, clock_from(readings))
    ids = [gen.next_id() for _ in readings]
    assert_strictly_increasing(ids)
    assert len(set(ids)) == len(ids)
    assert id_to_ms(ids[-1]) == T0 + 2  # once the clock passes the logical ms, it follows the clock


@pytest.mark.parametrize("count", [MAX_SEQUENCE + 1, MAX_SEQUENCE + 2, 3 * (MAX_SEQUENCE + 1) + 5])
def test_sequence_overflow_at_a_frozen_clock_borrows_milliseconds(count: int) -> None:
    gen = SnowflakeGenerator(3, clock_from([T0]))
    ids = [gen.next_id() for _ in range(count)]
    assert_strictly_increasing(ids)
    per_ms = MAX_SEQUENCE + 1
    borrowed = (count - 1) // per_ms  # whole milliseconds beyond T0 the generator needs
    assert id_to_ms(ids[0]) == T0
    assert all(id_to_ms(i) == T0 for i in ids[:per_ms])
    assert 0 <= id_to_ms(ids[-1]) - T0 <= borrowed
    if count > per_ms:
        assert id_to_ms(ids[-1]) > T0  # it had to borrow
    assert all(worker_of(i) == 3 for i in ids)


def test_ids_at_one_millisecond_use_sequences_in_order() -> None:
    gen = SnowflakeGenerator(0, clock_from([T0]))
    ids = [gen.next_id() for _ in range(10)]
    assert [sequence_of(i) for i in ids] == list(range(10))


# worker bounds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("worker", [-1, MAX_WORKER + 1, 1024, 10**6])
def test_worker_ids_out_of_range_are_refused(worker: int) -> None:
    with pytest.raises(ValueError, match="worker_id"):
        SnowflakeGenerator(worker)


@pytest.mark.parametrize("worker", [0, 1, MAX_WORKER])
def test_worker_ids_in_range_are_encoded(worker: int) -> None:
    snowflake = SnowflakeGenerator(worker, clock_from([T0])).next_id()
    assert worker_of(snowflake) == worker
    assert id_to_ms(snowflake) == T0


# time <-> id --------------------------------------------------------------------------------------


@given(st.integers(EPOCH_MS, MAX_MS))
def test_min_id_at_and_id_to_ms_agree(ms: int) -> None:
    assert id_to_ms(min_id_at(ms)) == ms
    assert min_id_at(ms) >= 0


@given(st.integers(EPOCH_MS, MAX_MS - 1), st.integers(0, MAX_WORKER))
def test_generated_ids_fall_between_min_ids_of_their_ms(ms: int, worker: int) -> None:
    snowflake = SnowflakeGenerator(worker, clock_from([ms])).next_id()
    assert min_id_at(ms) <= snowflake < min_id_at(ms + 1)
    assert id_to_ms(snowflake) == ms
    expected = datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=ms % 1000 * 1000)
    assert id_to_datetime(snowflake) == expected


def test_min_id_at_the_epoch_is_zero_and_grows_by_one_ms_step() -> None:
    assert min_id_at(EPOCH_MS) == 0
    assert min_id_at(EPOCH_MS + 1) == 1 << (WORKER_BITS + SEQUENCE_BITS)


# parse_id -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("1", 1), ("42", 42), (str(2**63 - 1), 2**63 - 1)])
def test_parse_id_accepts_positive_63_bit_decimals(text: str, expected: int) -> None:
    assert parse_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0",
        "-1",
        "abc",
        "1.5",
        "1e3",
        "+1",
        " 1",
        "1 ",
        "0x10",
        "1" * 20,
        "9" * 20,
        str(2**63),
        str(2**64),
        "\u0661",  # ARABIC-INDIC DIGIT ONE: str.isdigit() says yes
        "\uff11",  # FULLWIDTH DIGIT ONE
        "\u00b9",  # SUPERSCRIPT ONE: isdigit() but int() refuses it
    ],
)
def test_parse_id_rejects_everything_else(text: str) -> None:
    assert parse_id(text) is None


@given(st.integers(1, 2**63 - 1))
def test_parse_id_round_trips_every_valid_id(value: int) -> None:
    assert parse_id(str(value)) == value


@given(st.integers(max_value=0) | st.integers(min_value=2**63))
def test_parse_id_rejects_out_of_range_integers(value: int) -> None:
    assert parse_id(str(value)) is None


@given(st.text())
def test_parse_id_never_raises(text: str) -> None:
    result = parse_id(text)
    assert result is None or 0 < result < 2**63
