"""The web client keeps the newest Photofeed-Position an answer carried and sends it back on
every request, so its reads wait for its own writes (gateway/web/js/api.js)."""

from __future__ import annotations

import os
import signal
import uuid

import pytest
from playwright.async_api import Request, expect

from gateway.consistency import HEADER
from infra.positions import decode_token
from infra.processes import ManagedProcess
from infra.topics import USERS
from tests.browser.conftest import Tab, Tabs
from tests.browser.flows import sign_up
from tests.fixtures import eventually

pytestmark = [pytest.mark.browser, pytest.mark.stack]
POSITION_KEY = "photofeed.position"  # api.js: sessionStorage, per tab


async def test_the_client_sends_back_the_position_of_its_sign_up(tabs: Tabs) -> None:
    tab = await tabs.open("ryw")
    sent: list[tuple[str, str | None]] = []

    def record(r: Request) -> None:
        if "/api/v1/" in r.url:
            sent.append(
                (f"{r.method} {r.url.split('/api/v1', 1)[1]}", r.headers.get(HEADER.lower()))
            )

    tab.page.on("request", record)
    await sign_up(tab, f"ryw_{uuid.uuid4().hex[:8]}")
    kept = await tab.page.evaluate(f"sessionStorage.getItem('{POSITION_KEY}')")
    assert kept, sent
    assert {p.topic for p in decode_token(kept)} == {USERS.name}  # UserRegistered's position
    assert sent[0] == ("POST /users", None), sent  # nothing written yet: nothing to send
    after = sent[1:]
    assert after, sent  # logging in and the first feed read follow the registration
    assert all(position == kept for _, position in after), sent
    tabs.assert_clean()


async def test_a_view_asks_again_while_the_worker_lags_behind_the_sign_up(
    tabs: Tabs, worker: ManagedProcess
) -> None:
    """Settings right after sign-up, with the worker paused: the gateway waits for the sign-up
    to be applied, then answers the profile's GET 404 `stale`; the client asks again
    (api.js STALE_ASKS) instead of showing an error, and the view comes up once the worker goes
    on (it is resumed after the first stale answer)."""
    tab = await tabs.open("lag")
    page = tab.page
    pid = worker.pid()
    assert pid is not None
    os.killpg(pid, signal.SIGSTOP)
    try:
        me = await sign_up(tab, f"lag_{uuid.uuid4().hex[:8]}")
        profile = f"/api/v1/users/{me}"
        stale = [u for u in tab.lagged if u.endswith(profile)]
        assert not stale, "nothing asked for the profile yet"
        await page.goto("/#/settings")

        async def stale_answers() -> int:
            return _stale_answers(tab, profile)

        await eventually(stale_answers, lambda n: n > 0, timeout_s=15)
    finally:
        os.killpg(pid, signal.SIGCONT)
    await expect(page.get_by_label("Private account")).to_be_visible()
    await expect(page.get_by_label("Private account")).not_to_be_checked()
    assert _stale_answers(tab, profile) >= 1  # the view came up through a second ask
    tabs.assert_clean()


def _stale_answers(tab: Tab, path: str) -> int:
    return sum(n for url, n in tab.lagged.items() if url.endswith(path))
