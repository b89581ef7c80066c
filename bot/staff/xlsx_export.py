"""The XLSX export: sheets for members, skills with evidence, wishes, confidence and answers.

Written with XlsxWriter in ``constant_memory`` mode: each row goes to disk as
soon as it is complete, so memory stays flat. Every sheet has a frozen header
row, filters, set column widths and real dates. A sheet that outgrows Excel's
row limit continues on a second sheet (``Answers 2``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

from bot.staff.cells import local_time, safe_cell, sheet_date
from bot.staff.data import Batch, Needs
from bot.staff.labels import Labels
from bot.staff.profiles import Cell, cells, headers, summarise, time_columns

#: Excel's last row number (from 0); the header takes row 0.
MAX_ROW = 1_048_575
DATE_FORMAT = "yyyy-mm-dd hh:mm"

STATUS_WORDS = {
    "confirmed": "yes, that is me",
    "declined": "no",
    "unsure": "not sure",
    "suggested": "not answered yet",
}
SOURCE_WORDS = {"question": "a question", "finder": "their own words"}
MOMENT_WORDS = {"start": "start of a chat", "end": "end of a chat"}
FEELINGS = {1: "not sure", 2: "OK", 3: "good"}
KIND_WORDS = {"button": "button", "text": "own words", "command": "command"}

Column = tuple[str, float]  # header, width


class _Sheet:
    """One worksheet written row by row; a new part starts at Excel's row limit."""

    def __init__(self, book: Any, name: str, columns: Sequence[Column], styles: _Styles) -> None:
        """Add the worksheet and its header row."""
        self.book = book
        self.name = name
        self.columns = columns
        self.styles = styles
        self.parts = 0
        self.rows_written = 0
        self._new_part()

    def _new_part(self) -> None:
        """Start a worksheet (the first, or the next part after the row limit)."""
        if self.parts:
            self._finish_part()
        self.parts += 1
        title = self.name if self.parts == 1 else f"{self.name} {self.parts}"
        ws = self.book.add_worksheet(title)
        ws.set_row(0, 32)  # room for headers wrapped on 2 lines
        for col, (header, width) in enumerate(self.columns):
            ws.set_column(col, col, width)
            ws.write_string(0, col, header, self.styles.header)
        ws.freeze_panes(1, 0)
        self.ws = ws
        self.row = 0

    def _finish_part(self) -> None:
        """Put filters over the rows of the current part."""
        self.ws.autofilter(0, 0, max(self.row, 1), len(self.columns) - 1)

    def write(self, values: Sequence[Cell]) -> None:
        """Append one row: numbers as numbers, times as dates, text as (safe) text."""
        if self.row >= MAX_ROW:
            self._new_part()
        self.row += 1
        self.rows_written += 1
        row, date = self.row, self.styles.date
        write_string, write_number = self.ws.write_string, self.ws.write_number
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                write_string(row, col, value)
            elif isinstance(value, datetime):
                # A date is a number with a date format; computing it here is 10 times
                # faster than XlsxWriter's general converter and gives the same value.
                write_number(row, col, sheet_date(value), date)
            else:
                write_number(row, col, value)

    def finish(self) -> None:
        """Finish the last part."""
        self._finish_part()


class _Styles:
    """The workbook's cell formats."""

    def __init__(self, book: Any) -> None:
        """Create the header and date formats."""
        self.header = book.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#E8F1EE"}
        )
        self.date = book.add_format({"num_format": DATE_FORMAT})


class XlsxExport:
    """Writes an XLSX workbook as batches of members arrive."""

    needs = Needs(skill_statuses=None, answers=True)
    suffix = "xlsx"

    def __init__(self, path: Path, labels: Labels, zone: tzinfo) -> None:
        """Create the workbook and its five sheets."""
        self.labels = labels
        self.zone = zone
        self.book = xlsxwriter.Workbook(
            str(path),
            {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False},
        )
        self.book.set_properties({"title": "SkillSpark members' skills", "author": "SkillSpark"})
        styles = _Styles(self.book)
        widths = {"Member id": 10.0, "First name": 16.0, "Network": 14.0}
        profile_columns = [(h, widths.get(h, 20.0)) for h in headers(labels)]
        for col in time_columns(labels):
            profile_columns[col] = (profile_columns[col][0], 17.0)
        self.members = _Sheet(self.book, "Members", profile_columns, styles)
        self.skills = _Sheet(
            self.book,
            "Skills",
            [
                ("Member id", 10),
                ("First name", 16),
                ("Category", 24),
                ("Skill", 30),
                ("Member said", 18),
                ("Found by", 16),
                ("Question", 50),
                ("Member's own words", 50),
                ("Found on", 17),
                ("Member answered on", 17),
            ],
            styles,
        )
        self.wishes = _Sheet(
            self.book,
            "Learning wishes",
            [
                ("Member id", 10),
                ("First name", 16),
                ("Wants to learn", 36),
                ("Question", 50),
                ("Member's own words", 50),
                ("Said on", 17),
            ],
            styles,
        )
        self.ratings = _Sheet(
            self.book,
            "Confidence",
            [
                ("Member id", 10),
                ("First name", 16),
                ("Said on", 17),
                ("When", 16),
                ("Chat number", 12),
                ("Confidence (1 low to 3 good)", 16),
                ("Feeling", 12),
            ],
            styles,
        )
        self.answers = _Sheet(
            self.book,
            "Answers",
            [
                ("Member id", 10),
                ("Given on", 17),
                ("Question", 50),
                ("How", 12),
                ("Answer", 60),
            ],
            styles,
        )
        self._choice_words: dict[str, str] = {}
        self._question = _cached(lambda qid: safe_cell(labels.question(qid)))

    def add(self, batch: Batch) -> None:
        """Write the batch's rows to every sheet."""
        labels, zone = self.labels, self.zone
        question = self._question
        for member in batch.members:
            mid = member.id
            name = safe_cell(member.first_name)
            self.members.write(cells(summarise(member, batch), labels, zone))
            for s in batch.skills.get(mid, []):
                self.skills.write(
                    (
                        mid,
                        name,
                        labels.category(s.category),
                        safe_cell(s.label),
                        STATUS_WORDS.get(s.status, s.status),
                        SOURCE_WORDS.get(s.source or "", s.source or ""),
                        question(s.question_id) if s.question_id else "",
                        safe_cell(s.words),
                        local_time(s.created_at, zone),
                        local_time(s.updated_at, zone),
                    )
                )
            for w in batch.wishes.get(mid, []):
                self.wishes.write(
                    (
                        mid,
                        name,
                        safe_cell(w.label),
                        question(w.question_id) if w.question_id else "",
                        safe_cell(w.words),
                        local_time(w.created_at, zone),
                    )
                )
            for r in batch.ratings.get(mid, []):
                self.ratings.write(
                    (
                        mid,
                        name,
                        local_time(r.created_at, zone),
                        MOMENT_WORDS.get(r.moment, r.moment),
                        r.session_no,
                        r.value,
                        FEELINGS.get(r.value, ""),
                    )
                )
            write_answer = self.answers.write
            for a in batch.answers.get(mid, []):
                shown = self._choice(a.choice) if a.kind == "button" and a.choice else a.text
                write_answer(
                    (
                        mid,
                        local_time(a.created_at, zone),
                        question(a.question_id),
                        KIND_WORDS.get(a.kind, a.kind),
                        safe_cell(shown),
                    )
                )

    def _choice(self, choice: str) -> str:
        """A button's words as the member saw them (its id when unknown)."""
        words = self._choice_words.get(choice)
        if words is None:
            words = self.labels.messages.get(f"button.{choice}", choice)
            self._choice_words[choice] = words
        return words

    def close(self) -> None:
        """Add filters and write the workbook out."""
        for sheet in (self.members, self.skills, self.wishes, self.ratings, self.answers):
            sheet.finish()
        self.book.close()

    def abort(self) -> None:
        """Drop the workbook after a failure (its temporary files are removed)."""
        with contextlib.suppress(Exception):  # the caller removes the partial file anyway
            self.book.close()


def _cached(lookup: Callable[[str], str]) -> Callable[[str], str]:
    """A lookup that remembers its answers (question texts repeat on every row)."""
    memo: dict[str, str] = {}

    def get(key: str) -> str:
        """The remembered answer, looked up once."""
        found = memo.get(key)
        if found is None:
            found = memo[key] = lookup(key)
        return found

    return get
