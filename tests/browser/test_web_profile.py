"""The web client's "Edit profile" in Chromium, against the real stack: display name, bio and an
avatar set from the user's own profile page and shown there at once; an avatar that is not an
image says why; removing the avatar."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests import samples
from tests.browser.conftest import Tabs
from tests.browser.flows import image_loaded, show, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.stack]


async def test_edit_profile_sets_name_bio_and_avatar(tabs: Tabs, tmp_path: Path) -> None:
    tab = await tabs.open("ana")
    page, username = tab.page, f"ana_{uuid.uuid4().hex[:8]}"
    me = await sign_up(tab, username)
    picture = tmp_path / "me.jpg"
    picture.write_bytes(samples.jpeg(samples.scene(900, 600, seed=5)))
    await show(page, f"#/u/{me}")
    await page.get_by_role("button", name="Edit profile").click()
    form = page.get_by_role("form", name="Edit profile")
    await form.get_by_label("Display name").fill("Ana Lima")
    await form.get_by_label("Bio").fill("light chaser\nLisbon")
    await form.get_by_label("New avatar").set_input_files(str(picture))
    await form.get_by_role("button", name="Save").click()
    profile = page.locator("header.profile")
    await expect(profile.locator(".display-name")).to_have_text("Ana Lima", timeout=60_000)
    await expect(profile.locator(".bio")).to_have_text("light chaser\nLisbon")
    shown = profile.locator("img.avatar")
    await expect(shown).to_have_attribute("src", re.compile(rf"/v/a/{me}/[0-9]+/150\.jpg$"))
    await image_loaded(shown)

    # an avatar that is not an image: the API's reason, and the avatar stays
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not an image, whatever the name says" * 10)
    await page.get_by_role("button", name="Edit profile").click()
    await form.get_by_label("New avatar").set_input_files(str(fake))
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("alert")).to_contain_text("This avatar could not be used:",
                                                            timeout=60_000)  # fmt: skip
    await form.get_by_role("button", name="Cancel").click()

    # removing it
    await page.get_by_role("button", name="Edit profile").click()
    await form.get_by_label("Remove my avatar").check()
    await form.get_by_role("button", name="Save").click()
    await expect(profile.locator("img.avatar")).to_have_count(0)
    await expect(profile.locator(".display-name")).to_have_text("Ana Lima")
    tabs.assert_clean()
