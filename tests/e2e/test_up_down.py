"""`photofeed up` / `down` as a user runs them: a scripted session; a restart keeps all data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from infra.ports import settings_on_free_ports
from infra.settings import Settings
from tests.fixtures import bearer, eventually, register

pytestmark = pytest.mark.stack


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photofeed", *args],
        env=settings.to_env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip


async def test_scripted_session_then_down_and_up_keeps_everything(tmp_path: Path) -> None:
    settings = settings_on_free_ports(tmp_path, tansu_storage="s3", topic_partitions=2)
    up = cli(settings, "up")
    assert up.returncode == 0, up.stderr
    try:
        async with httpx.AsyncClient(base_url=f"{settings.gateway_url}/api/v1") as api:
            (ana, ana_token), (bob, bob_token), (cid, _) = [await register(api) for _ in range(3)]
            assert (await api.post(f"/follow/{bob}", headers=bearer(ana_token))).status_code == 204
            assert (await api.post(f"/follow/{cid}", headers=bearer(ana_token))).status_code == 204
            assert (await api.post(f"/follow/{cid}", headers=bearer(bob_token))).status_code == 204
            assert (
                await api.delete(f"/follow/{bob}", headers=bearer(ana_token))
            ).status_code == 204

            async def counts() -> tuple[int, int, int]:
                c = (await api.get(f"/users/{cid}")).json()
                a = (await api.get(f"/users/{ana}")).json()
                b = (await api.get(f"/users/{bob}")).json()
                return c.get("follower_count"), a.get("following_count"), b.get("follower_count")

            await eventually(counts, lambda v: v == (2, 1, 0), timeout_s=20)

        down = cli(settings, "down")
        assert down.returncode == 0, down.stderr
        assert "stopped gateway" in down.stderr
        up = cli(settings, "up")
        assert up.returncode == 0, up.stderr

        async with httpx.AsyncClient(base_url=f"{settings.gateway_url}/api/v1") as api:
            assert await counts() == (2, 1, 0)
            followers = (await api.get(f"/users/{cid}/followers")).json()
            assert {u["user_id"] for u in followers["users"]} == {ana, bob}
            again = await api.post("/sessions", json={"username": "x" * 3, "password": "nope nope"})
            assert again.status_code == 401
        # the log survived too: a rebuild from it reproduces the same projections
        replay = cli(settings, "replay", "graph")
        assert replay.returncode == 0, replay.stderr
        assert "swapped" in replay.stderr
    finally:
        cli(settings, "down")
