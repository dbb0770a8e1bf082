"""What a person does in the web client, as steps the browser tests share, plus seeding
through the API and the log for what a test does not exercise in the page."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Locator, Page, expect

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from schemas import events as ev
from tests.browser.conftest import Tab
from tests.fixtures import bearer, eventually
from tests.integration.helpers import IDS

PASSWORD = "correct horse battery"  # accounts made through the page
API_PASSWORD = "correct horse"  # accounts made by tests.fixtures.register
SESSION_KEY = "photofeed.session"
expect.set_options(timeout=15_000)


async def sign_up(tab: Tab, username: str, password: str = PASSWORD) -> str:
    """Create an account through the sign-up page; return the new user's id."""
    page = tab.page
    await page.goto("/#/signup")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_role("feed")).to_be_attached()
    return await user_id(page)


async def log_in(tab: Tab, username: str, password: str = PASSWORD) -> str:
    page = tab.page
    await page.goto("/#/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("feed")).to_be_attached()
    return await user_id(page)


async def user_id(page: Page) -> str:
    value = await page.evaluate(f"JSON.parse(localStorage.getItem('{SESSION_KEY}')).user_id")
    return str(value)


async def nav(page: Page, name: str) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


async def upload(
    page: Page, image: Path, caption: str, alt: str, *, throttle_bytes_per_s: int = 0
) -> list[int]:
    """Share `image` through the New post page; return the progress values the bar showed.
    With `throttle_bytes_per_s`, uploads are slowed (DevTools network emulation) so the bar's
    intermediate values can be seen."""
    await nav(page, "Create")
    await page.get_by_label("Photo", exact=True).set_input_files(str(image))
    await page.get_by_label("Caption").fill(caption)
    await page.get_by_label("Alt text").fill(alt)
    await page.evaluate(
        """() => {
          window.__progress = [];
          const bar = document.getElementById('upload-progress');
          new MutationObserver(() => window.__progress.push(bar.value))
            .observe(bar, {attributes: true, attributeFilter: ['value']});
        }"""
    )
    cdp = None
    if throttle_bytes_per_s:
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Network.enable")
        await cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1,
            "uploadThroughput": throttle_bytes_per_s,
        })  # fmt: skip
    await page.get_by_role("button", name="Share").click()
    if throttle_bytes_per_s:
        await js_true(page, "() => { const v = document.getElementById('upload-progress').value;"
                            " return v >= 20 && v < 90; }", interval_s=0.02)  # fmt: skip
        await docs_screenshot(page, "upload-progress", settle=False)
    await expect(page.locator(".stage")).to_have_text("Published.", timeout=60_000)
    if cdp is not None:
        await cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1,
        })  # fmt: skip
        await cdp.detach()
    values: list[int] = await page.evaluate("window.__progress.map(Number)")
    return values


async def show(page: Page, hash_path: str) -> None:
    """Open `hash_path` ("#/", "#/search?q=…") and wait for its first page of data, fetched
    afresh even when the page is there already."""
    if page.url.endswith(hash_path):
        await page.reload()
    else:
        await page.goto("/" + hash_path)
    await expect(page.locator("main[aria-busy]")).to_have_count(0)


async def js_true(
    page: Page, function: str, timeout_s: float = 15, interval_s: float = 0.05
) -> Any:
    """Poll `function` in the page until it returns something truthy (Playwright's own
    wait_for_function evaluates a string in the page, which the page's CSP refuses)."""
    deadline = time.monotonic() + timeout_s
    while not (value := await page.evaluate(function)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{function} stayed false for {timeout_s} s")
        await asyncio.sleep(interval_s)
    return value


A11Y_PROBLEMS = """() => {
  const problems = [];
  const named = (el) => (el.getAttribute('aria-label') || el.textContent || '').trim()
    || el.querySelector('img[alt]:not([alt=""])');
  for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt')) problems.push(`image without alt: ${img.src}`);
  }
  for (const el of document.querySelectorAll('input, textarea, select')) {
    if (!el.labels?.length && !el.getAttribute('aria-label')) {
      problems.push(`unlabelled ${el.name}`);
    }
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!named(el)) problems.push(`nameless ${el.outerHTML.slice(0, 80)}`);
  }
  if (!document.querySelector('main h1')) problems.push('no h1 in main');
  return problems;
}"""


async def assert_accessible_basics(page: Page) -> None:
    """Images have alt text, form controls labels, buttons and links names, the view an h1."""
    problems = await page.evaluate(A11Y_PROBLEMS)
    assert not problems, problems


def post_card(page: Page, post_id: str) -> Locator:
    return page.locator(f'article[data-post-id="{post_id}"]')


async def image_loaded(image: Locator) -> None:
    """Wait until `image` has decoded pixels (naturalWidth > 0)."""
    await image.scroll_into_view_if_needed()
    await expect(image).to_have_js_property("complete", True)
    width = await image.evaluate("img => img.naturalWidth")
    assert width > 0, await image.get_attribute("src")


async def until(
    step: Callable[[], Awaitable[Any]], check: Callable[[], Awaitable[bool]], timeout_s: float = 30
) -> None:
    """Repeat `step` (a reload, a navigation) until `check` holds: projections are eventually
    consistent, and the page shows what the API answers when it asks."""
    deadline = time.monotonic() + timeout_s
    while True:
        await step()
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout_s} s")
        await asyncio.sleep(0.3)


async def docs_screenshot(page: Page, name: str, settle: bool = True) -> None:
    """Save a screenshot for the README when PHOTOFEED_DOCS_SCREENSHOTS names a directory
    (`settle`: once the passing status message is gone)."""
    directory = os.environ.get("PHOTOFEED_DOCS_SCREENSHOTS")
    if directory:
        if settle:
            await expect(page.locator("#toast.show")).to_have_count(0)
            await page.wait_for_timeout(500)  # images fade in over 0.3 s
        await page.screenshot(path=str(Path(directory) / f"{name}.png"))  # makes the dir


# --- seeding through the API and the log ------------------------------------------------------


async def api_upload(api: httpx.AsyncClient, token: str, data: bytes, caption: str) -> str:
    """A presigned upload through the API, completed; the photo id."""
    ticket = (await api.post("/photos", headers=bearer(token), json={
        "filename": "seed.jpg", "content_type": "image/jpeg", "size_bytes": len(data),
        "caption": caption,
    })).json()  # fmt: skip
    async with httpx.AsyncClient() as s3:
        put = await s3.put(ticket["upload_url"], content=data, headers=ticket["upload_headers"])
        assert put.status_code == 200, put.text
    done = await api.post(f"/photos/{ticket['photo_id']}/complete", headers=bearer(token))
    assert done.status_code == 202, done.text
    photo_id: str = ticket["photo_id"]
    return photo_id


async def published_status(api: httpx.AsyncClient, token: str, photo_id: str) -> dict[str, Any]:
    async def status() -> dict[str, Any]:
        body: dict[str, Any] = (
            await api.get(f"/photos/{photo_id}/status", headers=bearer(token))
        ).json()
        return body

    answer = await eventually(status, lambda s: s.get("status") != "processing", timeout_s=60)
    assert answer["status"] == "published", answer
    return answer


async def seed_posts(
    event_log: KafkaEventLog, settings: Settings, author: str, status: dict[str, Any],
    captions: list[str],
) -> list[str]:  # fmt: skip
    """Publish one post per caption for `author` straight to the log, all showing the real,
    already processed variants of `status` (so every image loads); the post ids, in order."""
    prefix = f"{settings.s3_public.rstrip('/')}/{settings.s3_bucket}/"
    keys = {name: url.removeprefix(prefix) for name, url in status["urls"].items()}
    ids = []
    for caption in captions:
        post = IDS.next_id()
        await event_log.append(ev.PostPublished(
            event_id=IDS.next_id(), occurred_at=datetime.now(tz=UTC), actor_id=int(author),
            post_id=post, photo_id=post, caption=caption, tags=(),
            variants=ev.Variants(keys["thumbnail"], keys["feed"], keys["full"]),
            width=status["width"], height=status["height"], blurhash=status["blurhash"],
        ))  # fmt: skip
        ids.append(str(post))
    return ids


async def feed_size(api: httpx.AsyncClient, token: str) -> int:
    r = await api.get("/feed", params={"limit": 100}, headers=bearer(token))
    return len(r.json()["posts"])
