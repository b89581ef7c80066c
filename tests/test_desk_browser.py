"""The staff desk in a real browser: Debian's Chromium driven by Playwright.

The browser is the system one (``/usr/bin/chromium``, installed by ``make
browser``); Playwright's own browser download is never used. Screenshots of the
main pages are saved under the test's temporary folder.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path

import openpyxl
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select

from bot.nudges.pacer import Pacer
from bot.nudges.sender import NudgeService
from storage.models_nudges import Opportunity, PeerMatch
from tests.botapi_peer import BotApiPeer
from tests.conftest import Database, needs_tool, shared_parts
from tests.desk_support import NORTH_STAFF, PASSWORD, RunningDesk, desk_for
from tests.test_nudges_support import FakeClock, outbox, peer_bot, peer_sender

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

pytestmark = needs_tool(
    Path(CHROMIUM).exists(), "chromium is not installed (make browser installs it)"
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


async def deliver_nudges(desk: RunningDesk, peer: BotApiPeer) -> int:
    """Run the real send sweep against the Bot API peer at the time the nudges are due."""
    rows = await outbox(desk.sessionmaker)
    clock = FakeClock(max(r.due_at for r in rows).replace(tzinfo=UTC) + timedelta(minutes=1))
    content, _ = shared_parts()
    async with peer_bot(peer) as bot:
        service = NudgeService(
            desk.sessionmaker,
            content,
            peer_sender(bot),
            staff_contact=desk.settings.staff_contact,
            pacer=Pacer(30, clock=clock.monotonic, sleep=clock.sleep),
            now=clock.now,
        )
        report = await service.drain()
    return report.sent


async def test_staff_work_through_the_desk(
    database: Database, tmp_path: Path, browser: Browser
) -> None:
    """Open a profile, approve a swap, add and close an opportunity, see an alert, get a file."""
    with BotApiPeer() as peer:
        await staff_work(database, tmp_path, browser, peer)
    assert screenshots(tmp_path) == [
        "alerts.png",
        "nudges.png",
        "opportunities.png",
        "opportunity-error.png",
        "profile.png",
        "swaps.png",
    ]


def screenshots(folder: Path) -> list[str]:
    """The pictures saved in a folder."""
    return sorted(p.name for p in folder.glob("*.png"))


async def staff_work(
    database: Database, tmp_path: Path, browser: Browser, peer: BotApiPeer
) -> None:
    """The steps of :func:`test_staff_work_through_the_desk`."""
    async with desk_for(database, tmp_path) as desk:
        peer.user(9001, "Ann")
        peer.user(9002, "Bob")
        context = await browser.new_context(accept_downloads=True)
        page = await context.new_page()
        await sign_in(page, desk, NORTH_STAFF, PASSWORD)

        # a profile: the same headings as the PDF page
        await page.get_by_role("table").get_by_role("link", name="Ann").click()
        await expect(page.get_by_role("heading", name="All about Ann")).to_be_visible()
        await expect(page.get_by_role("heading", name="⭐ My skills")).to_be_visible()
        await expect(page.get_by_role("listitem").filter(has_text="cooking")).not_to_have_count(0)
        await page.screenshot(path=tmp_path / "profile.png", full_page=True)

        # download the spreadsheet and open it
        async with page.expect_download() as info:
            await page.get_by_role("link", name="Spreadsheet (XLSX)").click()
        download = await info.value
        saved = tmp_path / "ann.xlsx"
        await download.save_as(saved)
        book = openpyxl.load_workbook(saved)
        cells = [
            str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row
        ]
        assert "Ann" in cells and "Bob" not in cells

        # approve the skill swap: both members get their easy-read message
        await page.get_by_role("link", name="Skill swaps").click()
        await expect(page.get_by_role("heading", name="Ann could help Bob")).to_be_visible()
        await page.screenshot(path=tmp_path / "swaps.png", full_page=True)
        await page.get_by_role("button", name="Approve: ask them both").click()
        await expect(page.get_by_role("status")).to_contain_text("Approved")
        assert await deliver_nudges(desk, peer) == 2
        (to_ann,) = peer.sent(9001)
        (to_bob,) = peer.sent(9002)
        assert "Hello Ann" in to_ann["text"] and "cooking" in to_ann["text"]
        assert "Hello Bob" in to_bob["text"] and "Bob" not in to_ann["text"]
        async with desk.sessionmaker() as session:
            match = await session.get(PeerMatch, desk.seeded.match_id)
            assert match is not None and match.status == "approved"
            assert match.decided_by == f"desk:{NORTH_STAFF}"

        # add an opportunity with a wrong date: the error is next to the field
        await page.get_by_role("link", name="Opportunities").click()
        await page.get_by_role("link", name="Add an opportunity").click()
        await page.get_by_label("Title").fill("Garden day")
        await page.get_by_label("What it is about").fill("🌻 Come and help in the garden.")
        await page.get_by_label("Kinds of skill it needs").select_option("gardening")
        await page.get_by_label("Who to contact").fill("Priya at the centre")
        await page.get_by_label("Last day to say yes").fill("31/12/2030")
        await page.get_by_role("button", name="Add it").click()
        closes = page.get_by_label("Last day to say yes")
        await expect(closes).to_have_attribute("aria-invalid", "true")
        error_id = (await closes.get_attribute("aria-describedby") or "").split()[-1]
        await expect(page.locator(f"#{error_id}")).to_contain_text("is not a date like")
        await expect(page.get_by_label("Title")).to_have_value("Garden day")  # nothing lost
        await page.screenshot(path=tmp_path / "opportunity-error.png", full_page=True)
        await closes.fill("2030-12-31")
        await page.get_by_role("button", name="Add it").click()
        await expect(page.get_by_role("status")).to_contain_text("Added: Garden day")
        await page.screenshot(path=tmp_path / "opportunities.png", full_page=True)

        # close it
        await page.get_by_role("button", name="Close “Garden day”").click()
        await expect(page.get_by_role("status")).to_contain_text("Closed: Garden day")
        async with desk.sessionmaker() as session:
            (opp,) = (await session.execute(select(Opportunity))).scalars()
            assert opp.status == "closed" and opp.network == "north"

        # a safety alert: "I have seen this", then who and when
        await page.get_by_role("link", name="Alerts").click()
        card = page.locator(f"#alert-{desk.seeded.alert_id}")
        await expect(card).to_contain_text("I feel unsafe")
        await expect(page.get_by_text("Dan said")).to_have_count(0)  # south
        await card.get_by_role("button", name="I have seen this").click()
        await expect(card).to_contain_text("Seen by Nora")
        await page.screenshot(path=tmp_path / "alerts.png", full_page=True)

        await page.get_by_role("link", name="Nudges").click()
        await expect(page.get_by_role("heading", name="Nudges in the last 7 days")).to_be_visible()
        await page.screenshot(path=tmp_path / "nudges.png", full_page=True)

        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await context.close()


async def test_keyboard_skip_link_and_focus(
    sqlite_db: Database, tmp_path: Path, browser: Browser
) -> None:
    """The first Tab shows the skip link; it moves focus to the main content."""
    async with desk_for(sqlite_db, tmp_path) as desk:
        page = await browser.new_page()
        await sign_in(page, desk, NORTH_STAFF, PASSWORD)
        await page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to the main content")
        await expect(skip).to_be_focused()
        box = await skip.bounding_box()
        assert box is not None and box["x"] >= 0  # visible when focused
        outline = await skip.evaluate("e => getComputedStyle(e).outlineStyle")
        assert outline != "none"
        await page.keyboard.press("Enter")
        await expect(page.locator("main")).to_be_focused()
