"""The staff desk in a real browser: Debian's Chromium driven by Playwright.

The browser is the system one (``/usr/bin/chromium``, installed by ``make
browser``); Playwright's own browser download is never used. Screenshots of the
main pages are saved under the test's temporary folder.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import Database
from tests.desk_support import NORTH_STAFF, PASSWORD, RunningDesk, desk_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium is not installed (make browser installs it)"
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium from the system packages."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def sign_in(page: Page, desk: RunningDesk, telegram_id: int, password: str) -> None:
    """Sign in on the sign-in page, with the keyboard only."""
    await page.goto(desk.url + "/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Your staff number").fill(str(telegram_id))
    await page.get_by_label("Your password").fill(password)
    await page.get_by_label("Your password").press("Enter")
    await expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()


async def test_sign_in_and_see_my_members(
    database: Database, tmp_path: Path, browser: Browser
) -> None:
    """A wrong password is said next to the field; the right one opens the members page."""
    async with desk_for(database, tmp_path) as desk:
        page = await browser.new_page()
        await page.goto(desk.url + "/members/1")
        assert page.url.endswith("/signin")
        await page.get_by_label("Your staff number").fill(str(NORTH_STAFF))
        await page.get_by_label("Your password").fill("not the password")
        await page.get_by_role("button", name="Sign in").click()
        wrong = page.get_by_text("The staff number or the password is not right")
        await expect(wrong).to_be_visible()
        await page.screenshot(path=tmp_path / "signin.png", full_page=True)
        await page.get_by_label("Your password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
        table = page.get_by_role("table")
        await expect(table.get_by_role("link", name="Ann")).to_be_visible()
        await expect(table.get_by_role("link", name="Dan")).to_have_count(0)  # south
        await expect(page.locator("svg.chart")).to_have_count(1)
        quiet = page.get_by_role("region", name="Not heard from")
        await expect(quiet.get_by_role("link")).to_have_count(1)
        await page.screenshot(path=tmp_path / "members.png", full_page=True)
        assert (tmp_path / "members.png").stat().st_size > 1000
