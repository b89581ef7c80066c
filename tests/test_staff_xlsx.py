"""Parts of the exports on their own: safe cell text, dates, the XLSX writer process, GC.

The whole export, read back with openpyxl from a real database, is tested in
``test_staff_export.py``.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.staff.cells import SheetClock, local_time, sheet_date
from bot.staff.export import gc_frozen
from bot.staff.xlsx_export import MAX_TEXT, WriterFailed, _Writer, safe_text

# ----------------------------------------------------------------- cell text


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1:A2)", "'+SUM(A1:A2)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\x07=1+1", "'=1+1"),  # a control character hid the formula
        ("I cook - a lot", "I cook - a lot"),
        ("line one\nline two", "line one\nline two"),
        ("\U0001f9d1\u200d\U0001f3eb teaching", "\U0001f9d1\u200d\U0001f3eb teaching"),
        ("", None),
        (None, None),
        ("\x00\x01", None),
    ],
)
def test_cell_text_is_neutralised_and_printable(stored: str | None, shown: str | None) -> None:
    assert safe_text(stored) == shown


def test_cell_text_longer_than_excel_allows_is_shortened_not_refused() -> None:
    shown = safe_text("=" + "a" * 40_000)

    assert shown is not None and len(shown) == MAX_TEXT and shown.startswith("'=a")


# ---------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "zone",
    ["UTC", "Europe/London", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kolkata"],
)
def test_sheet_clock_matches_the_exact_conversion_around_clock_changes(zone: str) -> None:
    tz = ZoneInfo(zone)
    clock = SheetClock(tz)
    year = [datetime(2026, 1, 1) + timedelta(hours=h) for h in range(365 * 24)]
    changes = [
        moment
        for moment, before in zip(year[1:], year, strict=False)
        if _offset(moment, tz) != _offset(before, tz)
    ]
    assert len(changes) == (0 if zone in ("UTC", "Asia/Kolkata") else 2)
    # Every 3 minutes for 3 hours either side of each clock change, and every
    # 5 hours through the year.
    moments = [c + timedelta(minutes=3 * n) for c in changes for n in range(-60, 61)]
    for moment in moments + year[::5]:
        expected = sheet_date(local_time(moment, tz) or moment)
        assert abs(clock(sheet_date(moment)) - expected) < 1e-9, moment  # type: ignore[operator]
        assert abs(clock(moment) - expected) < 1e-9, moment  # type: ignore[operator]
    assert clock(None) is None


def _offset(moment: datetime, zone: ZoneInfo) -> timedelta | None:
    """The zone's offset from UTC at a UTC moment."""
    return moment.replace(tzinfo=UTC).astimezone(zone).utcoffset()


def test_sheet_clock_knows_utc_needs_no_change() -> None:
    assert SheetClock(UTC).is_utc and SheetClock(ZoneInfo("UTC")).is_utc
    assert not SheetClock(ZoneInfo("Europe/London")).is_utc


# ------------------------------------------------------------- writer process


def _plan(max_rows: int, parts: int) -> dict[str, object]:
    """A one-sheet plan for the writer process."""
    return {
        "sheets": [
            {
                "name": "Answers",
                "columns": [
                    ["Member id", 10, False],
                    ["Given on", 17, True],
                    ["Answer", 60, False],
                ],
                "parts": parts,
            }
        ],
        "max_rows": max_rows,
        "date_format": "yyyy-mm-dd hh:mm",
        "header_height": 32,
    }


def _row(n: int) -> dict[str, object]:
    """One answer row as the export sends it."""
    return {"Member id": n, "Given on": 46023.5 + n, "Answer": f"=answer {n}"}


async def test_writer_process_continues_a_long_sheet_on_a_second_one(tmp_path: Path) -> None:
    out = tmp_path / "parts.xlsx"
    writer = await _Writer.start(out)

    await writer.send(_plan(max_rows=2, parts=2))
    await writer.send([_row(1), _row(2)])
    await writer.send([_row(3)])
    await writer.send(None)
    await writer.finish()

    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Answers", "Answers 2"]
    first, second = (list(book[name].values) for name in book.sheetnames)
    assert first[0] == second[0] == ("Member id", "Given on", "Answer")
    assert [r[0] for r in first[1:]] == [1, 2] and [r[0] for r in second[1:]] == [3]
    assert first[1][1] == datetime(2026, 1, 2, 12, 0)
    assert book["Answers"]["C2"].data_type == "s"  # text as given, never a formula


async def test_writer_process_failure_is_reported_with_its_reason(tmp_path: Path) -> None:
    writer = await _Writer.start(tmp_path / "no such folder" / "x.xlsx")

    await writer.send(_plan(max_rows=10, parts=1))
    await writer.send([_row(1)])
    await writer.send(None)
    with pytest.raises(WriterFailed) as caught:
        await writer.finish()

    assert "exit status 1" in str(caught.value) and "save" in str(caught.value)


async def test_writer_process_stopped_early_leaves_no_workbook(tmp_path: Path) -> None:
    out = tmp_path / "stopped.xlsx"
    writer = await _Writer.start(out)

    await writer.send(_plan(max_rows=10, parts=1))
    await writer.send([_row(1)])
    with pytest.raises(WriterFailed) as caught:
        await writer.finish()  # the sheet's end never came

    assert "before the workbook was complete" in str(caught.value)
    assert not out.exists()


# ---------------------------------------------------------- garbage collector


def test_objects_are_set_aside_from_the_collector_only_while_exports_run() -> None:
    assert gc.get_freeze_count() == 0
    with gc_frozen():
        assert gc.get_freeze_count() > 0
        with gc_frozen():  # a second export at the same time
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() > 0  # the first one is still running
    assert gc.get_freeze_count() == 0


def test_a_program_that_froze_its_objects_itself_keeps_them_frozen() -> None:
    gc.freeze()  # as the bot does once it has started
    try:
        frozen = gc.get_freeze_count()
        with gc_frozen():
            pass
        assert gc.get_freeze_count() > 0 and gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
