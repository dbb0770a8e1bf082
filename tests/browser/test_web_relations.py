"""The web client's Mute and Block on someone's profile, in Chromium against the real stack: a
mute toggles in place (and holds on reload); a block asks first, leaves the profile (now hidden)
for Settings, whose lists of blocked and muted accounts undo each."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import Tabs
from tests.browser.flows import show, sign_up
from tests.fixtures import register

pytestmark = [pytest.mark.browser, pytest.mark.stack]


async def test_mute_and_block_from_a_profile_and_undo_them_in_settings(
    tabs: Tabs, api: httpx.AsyncClient
) -> None:
    bob_name = f"bob_{uuid.uuid4().hex[:8]}"
    bob, _ = await register(api, bob_name)
    tab = await tabs.open("ana")
    page = tab.page
    await sign_up(tab, f"ana_{uuid.uuid4().hex[:8]}")
    await show(page, f"#/u/{bob}")
    profile = page.locator("header.profile")
    mute = profile.locator("button.mute")
    await expect(mute).to_have_accessible_name(f"Mute {bob_name}")
    await expect(mute).to_have_attribute("aria-pressed", "false")
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await expect(mute).to_have_accessible_name(f"Muted {bob_name}")
    await show(page, f"#/u/{bob}")  # the API says so too (the client waits for its writes)
    await expect(profile.get_by_role("button", name=f"Muted {bob_name}")).to_have_attribute(
        "aria-pressed", "true"
    )

    await profile.get_by_role("button", name=f"Block {bob_name}").click()
    dialog = page.get_by_role("dialog", name=f"Block {bob_name}?")
    await dialog.get_by_role("button", name="Block").click()
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    blocked = page.get_by_role("list", name="Blocked accounts")
    muted = page.get_by_role("list", name="Muted accounts")
    await expect(blocked.locator(".name", has_text=bob_name)).to_be_visible()
    await expect(muted.locator(".name", has_text=bob_name)).to_be_visible()
    await show(page, f"#/u/{bob}")  # hidden from the blocker too
    await expect(page.get_by_role("alert")).to_be_visible()

    await show(page, "#/settings")
    await blocked.get_by_role("button", name=f"Unblock {bob_name}").click()
    await expect(blocked.locator(".name", has_text=bob_name)).to_have_count(0)
    await muted.get_by_role("button", name=f"Unmute {bob_name}").click()
    await expect(muted.locator(".name", has_text=bob_name)).to_have_count(0)
    await show(page, f"#/u/{bob}")
    await expect(profile.get_by_role("button", name=f"Mute {bob_name}")).to_be_visible()
    tabs.assert_clean(allow=("404",))
