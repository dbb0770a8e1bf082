"""The web client's private accounts in Chromium, against the real stack: the Settings switch,
a stranger's view of a private profile and its "Requested" follow button, the owner approving
the request from Settings, and the follower's view afterwards."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Tabs
from tests.browser.flows import show, sign_up, until

pytestmark = [pytest.mark.browser, pytest.mark.stack]


async def test_a_private_account_is_asked_and_approves_from_settings(tabs: Tabs) -> None:
    ana_tab, bob_tab = await tabs.open("ana"), await tabs.open("bob")
    ana, bob = ana_tab.page, bob_tab.page
    ana_name, bob_name = f"ana_{uuid.uuid4().hex[:8]}", f"bob_{uuid.uuid4().hex[:8]}"
    ana_id = await sign_up(ana_tab, ana_name)
    await sign_up(bob_tab, bob_name)

    await show(ana, "#/settings")
    switch = ana.get_by_label("Private account")
    await switch.check()
    await expect(ana.locator("#toast")).to_contain_text("Your account is private")
    await show(ana, "#/settings")  # read back (the page waits for its own write)
    await expect(ana.get_by_label("Private account")).to_be_checked()

    # the stranger: the profile, a notice instead of the posts, and a request
    await show(bob, f"#/u/{ana_id}")
    await expect(bob.get_by_text("This account is private")).to_be_visible()
    await bob.get_by_role("button", name=f"Follow {ana_name}").click()
    await expect(bob.get_by_role("button", name=f"Requested {ana_name}")).to_be_visible()
    await show(bob, f"#/u/{ana_id}")
    await expect(bob.get_by_role("button", name=f"Requested {ana_name}")).to_be_visible()

    # the owner approves from Settings
    await show(ana, "#/settings")
    requests = ana.get_by_role("list", name="Follow requests")
    await expect(requests.get_by_role("link", name=bob_name)).to_be_visible()
    await requests.get_by_role("button", name=f"Approve {bob_name}").click()
    await expect(requests.get_by_role("link", name=bob_name)).to_have_count(0)

    # the follower sees the grid (empty) and is following: ana's write, which bob's reads do
    # not wait for (his position token holds only his own), so he looks again until it shows
    following = bob.get_by_role("button", name=f"Following {ana_name}")
    await until(lambda: show(bob, f"#/u/{ana_id}"), following.is_visible)
    await expect(bob.get_by_text("This account is private")).to_have_count(0)
    await expect(bob.get_by_role("list", name=f"Posts by {ana_name}")).to_be_attached()
    tabs.assert_clean()
