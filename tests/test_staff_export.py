"""Staff exports read back with independent readers (csv, openpyxl, pypdf), SQLite and PostgreSQL.

Members are stored through the real repository functions; each file is written
by the real export code and read back as staff would open it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Content, load_content
from bot.settings import Settings
from bot.staff.data import ExportFilter
from bot.staff.export import ExitCode, ExportError, ExportRequest, export_members
from bot.staff.labels import Labels
from bot.staff.pdf_export import Page, PdfExport
from bot.staff.profiles import headers
from bot.staff.xlsx_export import (
    ANSWER_COLUMNS,
    DATE_FORMAT,
    RATING_COLUMNS,
    SKILL_COLUMNS,
    WISH_COLUMNS,
)
from storage import repo
from storage.models import Answer, AuditEvent, Member

INJECTIONS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", "\t=1+1", "\r=1+1"]


@pytest.fixture(scope="module")
def content() -> Content:
    """The project's real dialogues."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return load_content(settings.dialogues_dir)


@pytest.fixture(scope="module")
def labels(content: Content) -> Labels:
    """Export words from the real dialogues."""
    return Labels.from_content(content)


@dataclass(frozen=True)
class Seeded:
    """A member stored for a test."""

    id: int
    name: str
    network: str


async def add_member(
    sm: async_sessionmaker[AsyncSession],
    telegram_id: int,
    name: str,
    network: str = "north",
    *,
    consent: bool | None = True,
    words: str = "I make tea for everyone in my house",
    wish: str = "swimming",
    ratings: tuple[int, ...] = (1, 3),
    active_days_ago: int = 0,
) -> Seeded:
    """Store a member as the engine would: answers, skills, a wish, confidence ratings."""
    async with sm.begin() as session:
        member, _ = await repo.get_or_create_member(
            session, "telegram", str(telegram_id), network=network, language="en"
        )
        member.first_name = name
        member.consent = consent
        member.consent_at = datetime(2026, 3, 1, 10, 30, tzinfo=UTC) if consent else None
        member.last_active_at = datetime.now(UTC) - timedelta(days=active_days_ago)
        text = await repo.add_answer(session, member.id, "food.make_drinks", "text", words)
        button = await repo.add_answer(
            session, member.id, "thanks.kind", "button", "yes", choice="yes"
        )
        for skill_id, category, label, status, evidence in (
            ("make_hot_drinks", "cooking", "making hot drinks", "confirmed", text),
            ("being_kind", "caring", "being kind", "confirmed", button),
            ("cooking_meals", "cooking", "cooking meals", "declined", text),
        ):
            await repo.set_skill(
                session,
                member.id,
                skill_id=skill_id,
                category=category,
                label=label,
                status=status,
                source="finder" if evidence == text else "question",
                evidence_answer_id=evidence,
            )
        await repo.add_wish(session, member.id, label=wish, skill_id=None, answer_id=text)
        for session_no, value in enumerate(ratings, start=1):
            await repo.add_rating(session, member.id, "start", value, session_no)
        return Seeded(member.id, name, network)


async def export(
    sm: async_sessionmaker[AsyncSession],
    labels: Labels,
    fmt: str,
    out: Path,
    filt: ExportFilter | None = None,
    timezone: str = "UTC",
) -> list[int]:
    """Run an export as the CLI would; the exported member ids."""
    request = ExportRequest(
        fmt=fmt, filt=filt or ExportFilter(), actor="cli:test", timezone=timezone
    )
    done = await export_members(sm, request, out, labels)
    assert done.path == out and done.size > 0
    return done.member_ids


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV export, as Excel would read them."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def pdf_pages(path: Path) -> list[str]:
    """The text of each page of a PDF export."""
    return [page.extract_text() for page in PdfReader(path).pages]


# ------------------------------------------------------------------------ CSV


async def test_csv_has_one_row_per_consenting_member_with_their_profile(
    sessionmaker: async_sessionmaker[AsyncSession], labels: Labels, tmp_path: Path
) -> None:
    sam = await add_member(sessionmaker, 101, "Sam", ratings=(1, 2, 3))
    await add_member(sessionmaker, 102, "Never asked", consent=None)
    await add_member(sessionmaker, 103, "Said no", consent=False)
    out = tmp_path / "members.csv"

    ids = await export(sessionmaker, labels, "csv", out)

    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_csv(out)
    assert ids == [sam.id] and [r["First name"] for r in rows] == ["Sam"]
    row = rows[0]
    assert row["Member id"] == str(sam.id)
    assert row["Network"] == "north"
    assert row["Said yes to sharing on"] == "2026-03-01 10:30"
    assert row["Skills: cooking and food"] == "making hot drinks"  # the declined one is left out
    assert row["Skills: looking after people"] == "being kind"
    assert row["Skills: art and crafts"] == ""
    assert row["Wants to learn"] == "swimming"
    assert row["First confidence (1 low to 3 good)"] == "1"
    assert row["Latest confidence (1 low to 3 good)"] == "3"
    assert row["Last active"].startswith(datetime.now(UTC).strftime("%Y-%m-%d"))
    assert row["Opportunities said yes to"] == ""


async def test_a_member_who_withdraws_consent_is_never_exported_again(
    sessionmaker: async_sessionmaker[AsyncSession], labels: Labels, tmp_path: Path
) -> None:
    sam = await add_member(sessionmaker, 111, "Sam")
    ana = await add_member(sessionmaker, 112, "Ana")
    assert await export(sessionmaker, labels, "csv", tmp_path / "before.csv") == [sam.id, ana.id]
    async with sessionmaker.begin() as session:
        member = await session.get(Member, ana.id)
        assert member is not None
        member.consent = False

    for fmt in ("csv", "xlsx", "pdf"):
        out = tmp_path / f"after.{fmt}"
        assert await export(sessionmaker, labels, fmt, out) == [sam.id]
    assert [r["First name"] for r in read_csv(tmp_path / "after.csv")] == ["Sam"]
    book = openpyxl.load_workbook(tmp_path / "after.xlsx")
    for sheet in book.worksheets:
        member_ids = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert ana.id not in member_ids, sheet.title
    pages = pdf_pages(tmp_path / "after.pdf")
    assert len(pages) == 1 and "Ana" not in pages[0]


# ------------------------------------------------------------- formula injection


async def test_formula_like_text_is_neutralised_in_csv_and_xlsx(
    sessionmaker: async_sessionmaker[AsyncSession], labels: Labels, tmp_path: Path
) -> None:
    for n, attack in enumerate(INJECTIONS):
        await add_member(sessionmaker, 200 + n, attack, words=attack, wish=attack)
    await add_member(sessionmaker, 299, "Plain Sam", words="I cook - a lot", wish="art")

    await export(sessionmaker, labels, "csv", tmp_path / "x.csv")
    await export(sessionmaker, labels, "xlsx", tmp_path / "x.xlsx")

    rows = read_csv(tmp_path / "x.csv")
    names = [r["First name"] for r in rows]
    assert names == [f"'{a}" for a in INJECTIONS] + ["Plain Sam"]
    assert [r["Wants to learn"] for r in rows] == [f"'{a}" for a in INJECTIONS] + ["art"]

    book = openpyxl.load_workbook(tmp_path / "x.xlsx")
    for sheet in book.worksheets:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert [_ooxml(r[1]) for r in _rows(book, "Members")] == names
    words = {_ooxml(r[7]) for r in _rows(book, "Skills") if r[7]}
    assert words == {f"'{a}" for a in INJECTIONS} | {"I cook - a lot"}
    answers = {_ooxml(r[4]) for r in _rows(book, "Answers")}
    assert {f"'{a}" for a in INJECTIONS} <= answers


def _ooxml(value: object) -> object:
    """Undo the file format's escape for a carriage return (Excel shows the character)."""
    return value.replace("_x000D_", "\r") if isinstance(value, str) else value


# ------------------------------------------------------------------------ XLSX


async def test_xlsx_has_every_sheet_with_headers_filters_widths_and_real_dates(
    sessionmaker: async_sessionmaker[AsyncSession], labels: Labels, tmp_path: Path
) -> None:
    sam = await add_member(sessionmaker, 301, "Sam", ratings=(1, 2))
    out = tmp_path / "members.xlsx"

    await export(sessionmaker, labels, "xlsx", out)

    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Members", "Skills", "Learning wishes", "Confidence", "Answers"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A1:")
        assert sheet["A1"].value == "Member id" and sheet["A1"].font.b
        widths = [d.width for d in sheet.column_dimensions.values()]
        assert widths and all(w >= 10 for w in widths), sheet.title
    assert _header(book, "Members") == headers(labels)
    for name, columns in SHEET_COLUMNS.items():
        assert _header(book, name) == [header for header, _, _ in columns], name
        for col, (_, width, dated) in enumerate(columns):
            assert 0 <= _width(book[name], col + 1) - width < 1, (name, col)  # Excel pads
            cell = book[name].cell(row=2, column=col + 1)
            if dated:
                assert cell.is_date and cell.number_format == DATE_FORMAT, (name, col)
            else:
                assert not cell.is_date, (name, col)
    members = list(book["Members"].iter_rows(min_row=2, values_only=True))
    assert len(members) == 1 and members[0][0] == sam.id
    consent_on = members[0][3]
    assert isinstance(consent_on, datetime) and consent_on == datetime(2026, 3, 1, 10, 30)

    skills = [dict(zip(_header(book, "Skills"), r, strict=True)) for r in _rows(book, "Skills")]
    by_skill = {s["Skill"]: s for s in skills}
    assert set(by_skill) == {"making hot drinks", "being kind", "cooking meals"}
    tea = by_skill["making hot drinks"]
    assert tea["Member said"] == "yes, that is me"
    assert tea["Member's own words"] == "I make tea for everyone in my house"
    assert tea["Question"] == labels.question("food.make_drinks") != "food.make_drinks"
    assert tea["Category"] == "cooking and food"
    assert isinstance(tea["Found on"], datetime)
    assert by_skill["cooking meals"]["Member said"] == "no"
    assert by_skill["being kind"]["Found by"] == "a question"

    wishes = _rows(book, "Learning wishes")
    assert [(w[0], w[2]) for w in wishes] == [(sam.id, "swimming")]
    ratings = _rows(book, "Confidence")
    assert [(r[0], r[5], r[6]) for r in ratings] == [(sam.id, 1, "not sure"), (sam.id, 2, "OK")]
    assert all(isinstance(r[2], datetime) for r in ratings)
    answers = [dict(zip(_header(book, "Answers"), r, strict=True)) for r in _rows(book, "Answers")]
    assert [a["Answer"] for a in answers] == [
        "I make tea for everyone in my house",
        labels.messages["button.yes"],
    ]
    assert [a["How"] for a in answers] == ["own words", "button"]
    async with sessionmaker() as session:
        stored = (
            await session.execute(
                select(Answer.created_at).where(Answer.member_id == sam.id).order_by(Answer.id)
            )
        ).scalars()
        given = [_to_the_millisecond(t.replace(tzinfo=None)) for t in stored]
    assert [a["Given on"] for a in answers] == given  # real dates, to the millisecond


def _to_the_millisecond(moment: datetime) -> datetime:
    """A time rounded as spreadsheet readers round dates."""
    return moment + timedelta(microseconds=round(moment.microsecond, -3) - moment.microsecond)


SHEET_COLUMNS = {
    "Skills": SKILL_COLUMNS,
    "Learning wishes": WISH_COLUMNS,
    "Confidence": RATING_COLUMNS,
    "Answers": ANSWER_COLUMNS,
}


async def test_xlsx_sheets_go_on_past_excel_row_limit_and_empty_ones_keep_their_header(
    sessionmaker: async_sessionmaker[AsyncSession],
    labels: Labels,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sam = await add_member(sessionmaker, 311, "Sam", ratings=())
    ana = await add_member(sessionmaker, 312, "Ana", ratings=())
    monkeypatch.setattr("bot.staff.xlsx_export.MAX_DATA_ROWS", 4)  # Excel's is 1,048,575
    out = tmp_path / "members.xlsx"

    await export(sessionmaker, labels, "xlsx", out)

    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [
        "Members",
        "Skills",
        "Skills 2",  # 6 skills: 4, then 2
        "Learning wishes",
        "Confidence",
        "Answers",
    ]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref is not None, sheet.title
        assert sheet["A1"].value == "Member id" and sheet["A1"].font.b, sheet.title
    assert _header(book, "Skills 2") == _header(book, "Skills")
    skills = _rows(book, "Skills") + _rows(book, "Skills 2")
    assert len(_rows(book, "Skills")) == 4
    assert [s[0] for s in skills] == [sam.id] * 3 + [ana.id] * 3  # nothing lost, in order
    assert _rows(book, "Confidence") == []  # nobody rated: the header only
    assert [a[0] for a in _rows(book, "Answers")] == [sam.id, sam.id, ana.id, ana.id]


async def test_xlsx_dates_are_shown_in_the_chosen_time_zone(
    sessionmaker: async_sessionmaker[AsyncSession], labels: Labels, tmp_path: Path
) -> None:
    await add_member(sessionmaker, 321, "Sam")

    await export(sessionmaker, labels, "xlsx", tmp_path / "utc.xlsx")
    await export(sessionmaker, labels, "xlsx", tmp_path / "india.xlsx", timezone="Asia/Kolkata")

    utc, india = (openpyxl.load_workbook(tmp_path / f) for f in ("utc.xlsx", "india.xlsx"))
    assert _rows(india, "Members")[0][3] == datetime(2026, 3, 1, 16, 0)  # 10:30 UTC + 5:30
    shift = timedelta(hours=5, minutes=30)
    for name, columns in SHEET_COLUMNS.items():
        for col, (_, _, dated) in enumerate(columns):
            if not dated:
                continue
            for here, there in zip(_rows(utc, name), _rows(india, name), strict=True):
                assert isinstance(here[col], datetime) and isinstance(there[col], datetime)
                assert abs(there[col] - here[col] - shift) < timedelta(seconds=1), name


def _width(sheet: Worksheet, column: int) -> float:
    """A column's width (neighbours of the same width share one entry in the file)."""
    for dimension in sheet.column_dimensions.values():
        if dimension.min <= column <= dimension.max:
            return float(dimension.width)
    raise AssertionError(f"column {column} of {sheet.title} has no width")


def _header(book: openpyxl.Workbook, name: str) -> list[str]:
    """The header row of a sheet."""
    return [c.value for c in book[name][1]]


def _rows(book: openpyxl.Workbook, name: str) -> list[tuple[object, ...]]:
    """The data rows of a sheet."""
    return list(book[name].iter_rows(min_row=2, values_only=True))


# ------------------------------------------------------------------------- PDF


async def test_pdf_has_one_easy_read_page_per_member_with_text_kept_literally(
    sessionmaker: async_sessionmaker[AsyncSession],
    labels: Labels,
    content: Content,
    tmp_path: Path,
) -> None:
    tricky = "Ana (test) \\ <b>bold</b> %PDF"
    await add_member(sessionmaker, 401, "Sam", wish="learning to swim")
    ana_id = (await add_member(sessionmaker, 402, tricky)).id
    await add_member(sessionmaker, 403, "Nobody", consent=False)
    async with sessionmaker.begin() as session:  # something people see in Ana, in her words
        said = await repo.add_answer(
            session, ana_id, "thanks.friend", "text", "My friends say (always) I am kind"
        )
        await repo.set_skill(
            session,
            ana_id,
            skill_id="being_a_good_friend",
            category="caring",
            label="being a good friend",
            status="confirmed",
            source="finder",
            evidence_answer_id=said,
        )
    out = tmp_path / "pages.pdf"

    await export(sessionmaker, labels, "pdf", out)

    pages = pdf_pages(out)
    assert len(pages) == 2
    sam, ana = (" ".join(p.split()) for p in pages)
    for key in ("profile.admired", "profile.skills", "profile.learn", "profile.said_yes"):
        heading = content.text(key).split(" ", 1)[1]  # the words after the emoji
        assert heading in sam and heading in ana
    assert "Sam" in sam and "making hot drinks" in sam and "being kind" in sam
    assert "learning to swim" in sam
    assert "cooking meals" not in sam  # declined skills are not the member's
    assert tricky in ana and "“My friends say (always) I am kind”" in ana
    assert "Nobody" not in sam + ana


async def test_pdf_page_fits_a_member_with_a_lot_to_show(
    sessionmaker: async_sessionmaker[AsyncSession], labels: Labels, tmp_path: Path
) -> None:
    sam = await add_member(sessionmaker, 501, "Sam", ratings=(1, 2, 3, 2, 3, 3, 3, 1))
    async with sessionmaker.begin() as session:
        for n in range(25):
            await repo.set_skill(
                session,
                sam.id,
                skill_id=f"extra_{n}",
                category="arts",
                label=f"drawing style number {n}",
                status="confirmed",
                source="finder",
                evidence_answer_id=None,
            )
            await repo.add_wish(session, sam.id, label=f"wish {n}", skill_id=None, answer_id=None)
    out = tmp_path / "full.pdf"

    await export(sessionmaker, labels, "pdf", out)

    pages = pdf_pages(out)
    assert len(pages) == 1
    text = " ".join(pages[0].split())
    assert "And 13 more" in text  # 27 skills, 14 shown
    assert "And 22 more" in text  # 26 wishes, 4 shown
    assert "drawing style number 0" in text


# --------------------------------------------------------------- scope and errors


async def test_filters_select_by_network_member_and_activity(
    sessionmaker: async_sessionmaker[AsyncSession], labels: Labels, tmp_path: Path
) -> None:
    north = await add_member(sessionmaker, 601, "Sam", "north")
    south = await add_member(sessionmaker, 602, "Ana", "south", active_days_ago=30)
    quiet = await add_member(sessionmaker, 603, "Bo", "north", active_days_ago=60)

    by_network = await export(
        sessionmaker, labels, "csv", tmp_path / "n.csv", ExportFilter(network="north")
    )
    by_member = await export(
        sessionmaker, labels, "csv", tmp_path / "m.csv", ExportFilter(member_ids=(south.id,))
    )
    recent = await export(
        sessionmaker,
        labels,
        "csv",
        tmp_path / "r.csv",
        ExportFilter(since=datetime.now(UTC) - timedelta(days=45)),
    )

    assert by_network == [north.id, quiet.id]
    assert {r["Network"] for r in read_csv(tmp_path / "n.csv")} == {"north"}
    assert by_member == [south.id]
    assert recent == [north.id, south.id]


@pytest.mark.parametrize(
    ("filt", "code", "words"),
    [
        (ExportFilter(network="nowhere"), ExitCode.UNKNOWN, "no network called 'nowhere'"),
        (ExportFilter(member_ids=(99999,)), ExitCode.UNKNOWN, "no member with id 99999"),
        (ExportFilter(network="east"), ExitCode.NOTHING, "said yes to sharing"),
    ],
)
async def test_impossible_exports_say_what_to_fix_and_leave_no_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    labels: Labels,
    tmp_path: Path,
    filt: ExportFilter,
    code: ExitCode,
    words: str,
) -> None:
    await add_member(sessionmaker, 701, "Sam", "north")
    await add_member(sessionmaker, 702, "Ana", "east", consent=False)

    folder = tmp_path / "out"
    folder.mkdir()

    with pytest.raises(ExportError) as caught:
        await export_members(sessionmaker, ExportRequest("csv", filt), folder / "x.csv", labels)

    assert caught.value.code == code and words in caught.value.message
    assert list(folder.iterdir()) == []
    async with sessionmaker() as session:
        assert (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "export"))
        ).all() == []


async def test_an_unwritable_path_is_refused_before_reading_members(
    sessionmaker: async_sessionmaker[AsyncSession], labels: Labels, tmp_path: Path
) -> None:
    await add_member(sessionmaker, 801, "Sam")
    (tmp_path / "a_file").write_text("not a folder")

    for out, words in (
        (tmp_path / "missing" / "x.csv", "does not exist"),
        (tmp_path / "a_file" / "x.csv", "does not exist"),
        (Path("/proc/skillspark-export.csv"), "cannot write in /proc"),
    ):
        with pytest.raises(ExportError) as caught:
            await export_members(sessionmaker, ExportRequest("csv"), out, labels)
        assert caught.value.code == ExitCode.UNWRITABLE and words in caught.value.message


async def test_a_folder_as_out_gets_a_dated_file_name(
    sessionmaker: async_sessionmaker[AsyncSession], labels: Labels, tmp_path: Path
) -> None:
    await add_member(sessionmaker, 851, "Sam")
    folder = tmp_path / "out"
    folder.mkdir()

    done = await export_members(sessionmaker, ExportRequest("xlsx"), folder, labels)

    assert done.path.parent == folder and done.path.suffix == ".xlsx"
    assert [p.name for p in folder.iterdir()] == [done.path.name]


# ------------------------------------------------------------------------ audit


async def test_every_export_is_audited_with_who_when_which_members_and_format(
    sessionmaker: async_sessionmaker[AsyncSession], labels: Labels, tmp_path: Path
) -> None:
    sam = await add_member(sessionmaker, 901, "Sam", "north")
    await add_member(sessionmaker, 902, "Ana", "south")
    before = datetime.now(UTC) - timedelta(seconds=5)

    await export(sessionmaker, labels, "pdf", tmp_path / "x.pdf", ExportFilter(network="north"))

    async with sessionmaker() as session:
        events = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "export")))
            .scalars()
            .all()
        )
    assert len(events) == 1
    event = events[0]
    at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
    assert event.actor == "cli:test" and at >= before
    assert event.detail["format"] == "pdf"
    assert event.detail["members"] == [sam.id] and event.detail["count"] == 1
    assert event.detail["network"] == "north" and event.detail["channel"] == "cli"
    assert event.detail["file"] == "x.pdf"


@pytest.mark.parametrize("quotes", [True, False])
def test_a_page_crowded_in_every_section_still_fits_above_the_footer(
    labels: Labels, tmp_path: Path, quotes: bool
) -> None:
    words = "People tell me I am the kindest neighbour they have ever had " * 3
    page = Page(
        name="Alexandra-Christina Montgomery-Smythe",
        admired=[("💛", f"being kind {n}", words if quotes else "") for n in range(8)],
        skills=[("🎨", f"drawing style number {n}") for n in range(40)],
        wishes=[("🌱", f"wish {n}") for n in range(12)],
        said_yes=[f"an opportunity {n}" for n in range(6)],
        ratings=[(n % 3 + 1, datetime(2026, 1, n + 1)) for n in range(9)],
    )
    exporter = PdfExport(tmp_path / "crowded.pdf", labels, UTC)

    exporter.draw(page)
    exporter.close()

    assert exporter.content_bottom <= exporter.pdf.h - 16
    pages = pdf_pages(tmp_path / "crowded.pdf")
    assert len(pages) == 1
    text = " ".join(pages[0].split())
    assert "Made with SkillSpark" in text and "an opportunity 0" in text and "more" in text
