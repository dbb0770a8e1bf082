"""The web client's #tags and @mentions in Chromium, against the real stack: a caption's hashtag
links to its tag page (GET /tags/{tag}), which lists the post; an @name that names a user links
to their profile, one that names nobody stays text; the mentioned user's notifications say so,
for a caption and for a comment."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import expect

from tests import samples
from tests.browser.conftest import Tabs
from tests.browser.flows import api_upload, post_card, published_status, show, sign_up, until
from tests.fixtures import bearer, register

pytestmark = [pytest.mark.browser, pytest.mark.stack]


async def test_tags_link_to_their_page_and_mentions_to_profiles_and_notify(
    tabs: Tabs, api: httpx.AsyncClient
) -> None:
    bob = await tabs.open("bob")
    bob_name, tag = f"bob_{uuid.uuid4().hex[:8]}", f"dusk{uuid.uuid4().hex[:8]}"
    bob_id = await sign_up(bob, bob_name)
    _, token = await register(api)
    ghost = f"ghost_{uuid.uuid4().hex[:8]}"
    caption = f"Harbour #{tag.upper()} with @{bob_name} and @{ghost}"
    photo = await api_upload(api, token, samples.jpeg(samples.scene(320, 240, seed=11)), caption)
    post_id = (await published_status(api, token, photo))["post_id"]
    comment = await api.post(f"/posts/{post_id}/comments", headers=bearer(token),
                             json={"text": f"@{bob_name} look"})  # fmt: skip
    assert comment.status_code == 201, comment.text

    # the post: the tag and the mention are links, the unknown name is text
    page = bob.page
    card = post_card(page, post_id)
    in_comments = card.locator(".comments").get_by_role("link", name=f"@{bob_name}")
    await until(lambda: show(page, f"#/p/{post_id}"), in_comments.is_visible)
    caption_box = card.locator(".caption")
    await expect(caption_box.get_by_role("link", name=f"@{bob_name}")).to_have_attribute(
        "href", f"#/u/{bob_id}"
    )
    await expect(caption_box.get_by_role("link", name=f"@{ghost}")).to_have_count(0)
    await expect(caption_box).to_contain_text(f"@{ghost}")

    # the tag's page lists the post, whatever the spelling of the link
    await caption_box.get_by_role("link", name=f"#{tag.upper()}").click()
    await expect(page.get_by_role("heading", name=f"#{tag.upper()}")).to_be_visible()
    await expect(page.locator(f'.grid [data-post-id="{post_id}"]')).to_be_visible()
    await show(page, f"#/t/{tag}")
    await expect(page.locator(f'.grid [data-post-id="{post_id}"]')).to_be_visible()

    # bob's notifications: the caption's mention and the comment's
    notices = page.locator(".notices")
    in_comment = notices.get_by_text(f"mentioned you in a comment: @{bob_name} look")
    await until(lambda: show(page, "#/notifications"), in_comment.is_visible)
    await expect(notices).to_contain_text("mentioned you in a post.")
    tabs.assert_clean()
