"""The web client keeps the newest Photofeed-Position an answer carried and sends it back on
every request, so its reads wait for its own writes (gateway/web/js/api.js)."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Request

from gateway.consistency import HEADER
from infra.positions import decode_token
from infra.topics import USERS
from tests.browser.conftest import Tabs
from tests.browser.flows import sign_up

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
