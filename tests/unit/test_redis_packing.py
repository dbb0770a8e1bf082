"""The hiredis packer sends exactly the bytes redis-py's own Python packer would."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Connection

from infra.clients import pack

ARG = st.one_of(
    st.text(max_size=40), st.binary(max_size=40), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)  # fmt: skip


def python_packed(*args: Any) -> bytes:
    return b"".join(Connection().pack_command(*args))


@given(st.sampled_from(["EVALSHA", "HSET", b"ZADD", "SCRIPT LOAD", "CLIENT SETINFO"]),
       st.lists(ARG, max_size=12))  # fmt: skip
def test_packing_matches_redis_py(command: str | bytes, args: list[Any]) -> None:
    assert pack((command, *args)) == python_packed(command, *args)


@pytest.mark.parametrize("value", [0.1, 1e-7, 123456789.125, -0.0, 2.5e300])
def test_floats_pack_like_redis_py(value: float) -> None:
    assert pack(("SET", "k", value)) == python_packed("SET", "k", value)
