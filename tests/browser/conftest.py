"""Browser tests: Playwright (from PyPI) driving Debian's Chromium against the session's real
stack (tests/fixtures.py: `gateway`, `worker`, `settings`). Select them with `-m browser`.

Playwright never downloads a browser here: it launches Debian's `chromium` from the PATH
(/usr/bin/chromium; `make test` installs it with apt; PHOTOFEED_CHROMIUM names another). A
missing browser fails these tests loudly, never skips them.
Every tab records console errors and uncaught page errors; `Tabs.assert_clean` fails on any
the test did not expect. A 403/404 answered with `Photofeed-Consistency: stale` is no error:
the projections had not yet applied the tab's own writes, and the client asks again
(gateway/web/js/api.js), so the console line Chromium logs for each such answer is not
counted. A failing test leaves a screenshot of each of its tabs in its pytest tmp dir (the
path is printed).
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    async_playwright,
)

from gateway.consistency import STALE, VERDICT
from infra.processes import ManagedProcess
from infra.settings import Settings
from photofeed.bootstrap import s3_store

CHROMIUM = Path(
    os.environ.get("PHOTOFEED_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 900}
FAILED_LOAD = "Failed to load resource: the server responded with a status of"
PHONE = {"width": 375, "height": 812}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives Chromium through Playwright against the real stack"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can tell that the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@dataclass
class Tab:
    """One browser context (its own storage: one signed-in user) with one page."""

    context: BrowserContext
    page: Page
    name: str
    errors: list[str] = field(default_factory=list)
    lagged: Counter[str] = field(default_factory=Counter)  # url -> stale 403/404 answers

    def record(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} @ {message.location.get('url')}")

    def record_lag(self, response: Response) -> None:
        if response.status in (403, 404) and response.headers.get(VERDICT.lower()) == STALE:
            self.lagged[response.url] += 1

    def unexpected(self) -> list[str]:
        """The errors, less one failed-load console line per stale 403/404 of its url."""
        excused, out = Counter(self.lagged), []
        for error in self.errors:
            url = error.rpartition(" @ ")[2]
            if error.startswith(f"console: {FAILED_LOAD}") and excused[url] > 0:
                excused[url] -= 1
            else:
                out.append(error)
        return out


class Tabs:
    """The tabs of one test, each with its console watched."""

    def __init__(self, browser: Browser, site: str) -> None:
        self.browser = browser
        self.site = site
        self.tabs: list[Tab] = []

    async def open(
        self, name: str, viewport: dict[str, int] = DESKTOP, mobile: bool = False
    ) -> Tab:
        context = await self.browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            device_scale_factor=2 if mobile else 1,
            is_mobile=mobile,
            has_touch=mobile,
            base_url=self.site,
        )
        context.set_default_timeout(15_000)
        page = await context.new_page()
        tab = Tab(context, page, name)
        page.on("console", tab.record)
        page.on("response", tab.record_lag)
        page.on("pageerror", lambda exc: tab.errors.append(f"pageerror: {exc}"))
        self.tabs.append(tab)
        return tab

    def assert_clean(self, allow: Iterable[str] = ()) -> None:
        """No console error or page error in any tab, except those matching an `allow`
        pattern (an HTTP error the test provoked on purpose shows as a console error)."""
        patterns = [re.compile(p) for p in allow]
        unexpected = [f"{t.name}: {e}" for t in self.tabs for e in t.unexpected()
                      if not any(p.search(e) for p in patterns)]  # fmt: skip
        assert not unexpected, "\n".join(unexpected)

    async def screenshots(self, directory: Path) -> list[Path]:
        saved = []
        for i, tab in enumerate(self.tabs):
            path = directory / f"failure-{i}-{tab.name}.png"
            try:
                await tab.page.screenshot(path=str(path), full_page=True)
            except Exception as exc:  # a crashed page must not hide the test's own failure
                print(f"no screenshot of {tab.name}: {exc!r}")
                continue
            saved.append(path)
        return saved

    async def close(self) -> None:
        for tab in self.tabs:
            await tab.context.close()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """The browser's executable; its absence fails every browser test (never a skip)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"no browser at {CHROMIUM}: install Debian's chromium (`apt-get install -y "
            "chromium`; `make test` does it) or set PHOTOFEED_CHROMIUM",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
def site(gateway: str, worker: ManagedProcess, settings: Settings) -> str:
    """The web client's origin (the gateway's), with the worker running behind it. The bucket's
    CORS rules are set for it again: a test process's own `ensure_bucket()` (no PHOTOFEED_*
    environment) allows the default gateway URL instead."""
    s3_store(settings).allow_web_origins(settings.web_origin_list)
    return gateway.removesuffix("/api/v1")


@pytest.fixture
async def tabs(
    browser: Browser, site: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Tabs]:
    opened = Tabs(browser, site)
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for path in await opened.screenshots(tmp_path):
            print(f"screenshot: {path}")
    await opened.close()
