"""User text that looks like a seal (`sealed1.…`) is sealed like any other: a user registered as
`sealed1.x…` is a visible actor, and neither the name nor such a caption stays plaintext in the
log. Real stack: gateway, Tansu, worker."""

from __future__ import annotations

import uuid

import httpx
import pytest

from infra.settings import Settings
from infra.topics import USERS
from replay.reader import LogReader
from tests.fixtures import bearer, eventually

pytestmark = pytest.mark.stack


def raw_log(settings: Settings, topic: str) -> bytes:
    reader = LogReader(settings.bootstrap, [topic])
    return b"".join(r.value for batch in reader.batches() for r in batch)


async def test_a_look_alike_sealed_username_is_sealed_and_visible(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    name = f"sealed1.x{uuid.uuid4().hex[:10]}"
    body = {"username": name, "password": "correct horse"}
    created = await api.post("/users", json=body)
    assert created.status_code == 201, created.text
    user_id = created.json()["user_id"]
    token = (await api.post("/sessions", json=body)).json()["token"]

    profile = await eventually(
        lambda: api.get(f"/users/{user_id}"), lambda r: r.status_code == 200, timeout_s=20
    )
    assert profile.json()["username"] == name  # not an invisible actor any more
    me = await api.get(f"/users/{user_id}", headers=bearer(token))
    assert me.json()["username"] == name
    assert name.encode() not in raw_log(settings, USERS.name)  # sealed in the log
