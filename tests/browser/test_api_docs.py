"""The API reference page in Chromium: Swagger UI renders every operation of /openapi.json
from local files under the page's strict CSP (a refused script or style would be a console
error), and its "Try it out" reaches the API."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import Tabs

pytestmark = [pytest.mark.browser, pytest.mark.stack]


async def test_the_docs_page_renders_every_operation_and_calls_the_api(tabs: Tabs) -> None:
    async with httpx.AsyncClient(base_url=tabs.site) as site:
        document = (await site.get("/openapi.json")).json()
    operations = sum(
        len([m for m in item if m != "servers"]) for item in document["paths"].values()
    )
    tab = await tabs.open("reader")
    await tab.page.goto("/docs")
    blocks = tab.page.locator(".opblock")
    await blocks.nth(operations - 1).wait_for()
    assert await blocks.count() == operations
    assert await tab.page.locator(".opblock-tag").count() == len(document["tags"])
    healthz = tab.page.locator("#operations-system-healthz")
    await healthz.locator(".opblock-summary").click()
    await healthz.get_by_role("button", name="Try it out").click()
    async with tab.page.expect_response(lambda r: r.url.endswith("/healthz")) as answered:
        await healthz.get_by_role("button", name="Execute").click()
    assert (await answered.value).status == 200
    await healthz.locator(".responses-table .response-col_status").first.wait_for()
    tabs.assert_clean()
