"""The XLSX export: sheets for members, skills with evidence, wishes, confidence and answers.

A workbook of 10,000 members holds about 8 million cells. It is written by
rustpy-xlsxwriter (Python bindings to rust_xlsxwriter, the Rust port of
XlsxWriter) in its constant-memory mode, so rows go to disk as they arrive and
memory stays flat; a pure-Python writer manages about 180,000 cells a second
on the 2-core machine, this one about a million (docs/staff.md, Speed).

Two processes share the work, one core each: this one reads the database (one
streamed query per sheet, :mod:`bot.staff.data`) and turns rows into cell
values, made safe against formula injection; the writer process
(:mod:`bot.staff.xlsx_writer`) takes them in chunks through a pipe and writes
the file. Within one process they would take turns.

Every sheet has a frozen header row, filters, set column widths and real dates.
A sheet that outgrows Excel's row limit continues on a second sheet
(``Answers 2``); rows are never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import marshal
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import bot
from bot.staff import xlsx_writer
from bot.staff.cells import FORMULA_STARTS, SheetClock, printable, sheet_date
from bot.staff.data import (
    ExportFilter,
    Needs,
    answers_sheet_query,
    iter_batches,
    ratings_sheet_query,
    sheet_rows,
    sheet_size,
    skills_sheet_query,
    wishes_sheet_query,
)
from bot.staff.labels import Labels
from bot.staff.profiles import cells, headers, summarise, time_columns
from storage.models import Answer, ConfidenceRating, LearningWish, MemberSkill

#: Data rows a sheet can hold: Excel's 1,048,576 rows less the header row.
MAX_DATA_ROWS = xlsx_writer.MAX_DATA_ROWS
#: The longest text an Excel cell holds.
MAX_TEXT = 32_767
DATE_FORMAT = "yyyy-mm-dd hh:mm"
HEADER_HEIGHT = 32  # room for headers wrapped on 2 lines
#: What the Members sheet reads: the same summary as the CSV file.
MEMBERS_NEEDS = Needs(details=False)
#: Members sheet rows sent at a time (other sheets: a database chunk at a time).
MEMBERS_CHUNK = 200

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

#: The folder holding the ``bot`` package: the writer process runs the same code.
_CODE_ROOT = str(Path(bot.__file__).resolve().parent.parent)
#: Starts the writer process (``-P``: nothing from the current folder is imported).
_BOOT = (
    "import sys; root = sys.argv.pop(1); root in sys.path or sys.path.insert(0, root); "
    "from bot.staff.xlsx_writer import main; main()"
)

Column = tuple[str, float, bool]  # header, width, holds dates
Cell = str | int | float | None
#: A row: each column's header and value, in the sheet's column order.
Row = dict[str, Cell]
#: Called with (members written, members in all) as the export goes on.
Progress = Callable[[int, int], None]

SKILL_COLUMNS: list[Column] = [
    ("Member id", 10, False),
    ("First name", 16, False),
    ("Category", 24, False),
    ("Skill", 30, False),
    ("Member said", 18, False),
    ("Found by", 16, False),
    ("Question", 50, False),
    ("Member's own words", 50, False),
    ("Found on", 17, True),
    ("Member answered on", 17, True),
]
WISH_COLUMNS: list[Column] = [
    ("Member id", 10, False),
    ("First name", 16, False),
    ("Wants to learn", 36, False),
    ("Question", 50, False),
    ("Member's own words", 50, False),
    ("Said on", 17, True),
]
RATING_COLUMNS: list[Column] = [
    ("Member id", 10, False),
    ("First name", 16, False),
    ("Said on", 17, True),
    ("When", 16, False),
    ("Chat number", 12, False),
    ("Confidence (1 low to 3 good)", 16, False),
    ("Feeling", 12, False),
]
ANSWER_COLUMNS: list[Column] = [
    ("Member id", 10, False),
    ("Given on", 17, True),
    ("Question", 50, False),
    ("How", 12, False),
    ("Answer", 60, False),
]


def safe_text(text: str | None) -> str | None:
    """Member or staff text for one cell: printable, neutralised, within Excel's length.

    The same as :func:`bot.staff.cells.safe_cell`, quicker for the usual case of
    text without control characters (this runs for every text cell).
    """
    if not text:
        return None
    if not text.isprintable():  # also false for tabs, line breaks, some emoji joiners
        text = printable(text)
        if not text:
            return None
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT]


class Words(dict[str, str | None]):
    """Cell text for stored ids, each worked out once (labels and questions repeat a lot).

    ``words[key]`` is a dictionary look-up; an id not seen before is turned into
    safe cell text by ``lookup``.
    """

    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        """Words made by ``lookup``."""
        super().__init__()
        self.lookup = lookup

    def __missing__(self, key: str) -> str | None:
        """Work out a new id's words and keep them."""
        found = self[key] = self.lookup(key)
        return found


@dataclass
class _Sheet:
    """One sheet to write: its columns and its rows, a chunk at a time."""

    name: str
    columns: Sequence[Column]
    chunks: AsyncGenerator[list[Row]]
    #: At most this many rows (decides how many parts the sheet needs).
    rows: int

    @property
    def plan(self) -> dict[str, Any]:
        """The sheet as the writer process reads it."""
        parts = max(1, -(-self.rows // MAX_DATA_ROWS))
        return {"name": self.name, "columns": [list(c) for c in self.columns], "parts": parts}


class WriterFailed(Exception):
    """The writer process stopped without finishing the workbook."""


class _Writer:
    """The writer process, fed frames through its standard input."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        """Watch the process's error output from the start (so it never fills up)."""
        self.process = process
        assert process.stdin is not None and process.stderr is not None
        self.stdin = process.stdin
        self.errors = asyncio.ensure_future(process.stderr.read())

    @classmethod
    async def start(cls, path: Path) -> _Writer:
        """Start :func:`bot.staff.xlsx_writer.main` for ``path`` with this Python and code."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",
            "-c",
            _BOOT,
            _CODE_ROOT,
            str(path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def send(self, value: Any) -> None:
        """One frame: the length, then the value; waits while the writer catches up."""
        body = marshal.dumps(value)
        self.stdin.write(xlsx_writer.LENGTH.pack(len(body)) + body)
        await self.stdin.drain()

    async def finish(self) -> None:
        """Close the input and wait for the workbook; WriterFailed with the reason if not."""
        self.stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self.stdin.wait_closed()
        code = await self.process.wait()
        if code != 0:
            raise WriterFailed(await self._reason(code))

    async def fail(self, error: BaseException) -> BaseException:
        """After a broken pipe: the writer's own reason, as WriterFailed."""
        code = await self.process.wait()
        return WriterFailed(await self._reason(code)) if code else error

    async def kill(self) -> None:
        """Stop the writer (after a failure here) and wait for it to go."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        self.errors.cancel()

    async def _reason(self, code: int) -> str:
        """What the writer said on its way out."""
        said = (await self.errors).decode(errors="replace").strip()
        return f"the XLSX writer stopped (exit status {code}): {said or 'no reason given'}"


class XlsxExport:
    """Writes the XLSX workbook: five sheets, each streamed from the database."""

    suffix = "xlsx"

    def __init__(self, path: Path, labels: Labels, zone: tzinfo) -> None:
        """Get ready to write ``path``; dates are shown in ``zone``."""
        self.path = path
        self.labels = labels
        self.zone = zone
        self.clock = SheetClock(zone)
        self.questions = Words(lambda qid: safe_text(labels.question(qid)))
        self.texts = Words(safe_text)
        self.categories = Words(lambda c: safe_text(labels.category(c)))
        self.statuses = Words(lambda s: STATUS_WORDS.get(s) or safe_text(s))
        self.sources = Words(lambda s: SOURCE_WORDS.get(s) or safe_text(s))
        self.moments = Words(lambda m: MOMENT_WORDS.get(m) or safe_text(m))
        self.kinds = Words(lambda k: KIND_WORDS.get(k) or safe_text(k))
        self.choices = Words(lambda c: safe_text(labels.messages.get(f"button.{c}", c)))

    async def write_file(
        self, session: AsyncSession, filt: ExportFilter, total: int, progress: Progress | None
    ) -> list[int]:
        """Write the workbook; the ids of the members in it (those on the Members sheet)."""
        bind = session.bind
        dialect = bind.dialect.name if bind is not None else ""
        # Times come from SQLite as UTC date numbers, right as they are for UTC;
        # other databases give times, always turned into numbers.
        clock = None if dialect == "sqlite" and self.clock.is_utc else self.clock
        ids: list[int] = []
        exported: set[int] = set()
        skills = await sheet_size(session, MemberSkill, filt)
        wishes = await sheet_size(session, LearningWish, filt)
        ratings = await sheet_size(session, ConfidenceRating, filt)
        answers = await sheet_size(session, Answer, filt, answers_since=True)
        streams: list[AsyncGenerator[Sequence[Any]]] = []

        def stream(stmt: Any) -> AsyncGenerator[Sequence[Any]]:
            """A sheet query's rows (closed at the end, whatever happens)."""
            streams.append(sheet_rows(session, stmt))
            return streams[-1]

        sheets = [
            _Sheet(
                "Members",
                self._member_columns(),
                self._members(session, filt, ids, exported),
                total,
            ),
            _Sheet(
                "Skills",
                SKILL_COLUMNS,
                self._skills(stream(skills_sheet_query(filt, skills, dialect)), exported, clock),
                skills.rows,
            ),
            _Sheet(
                "Learning wishes",
                WISH_COLUMNS,
                self._wishes(stream(wishes_sheet_query(filt, wishes, dialect)), exported, clock),
                wishes.rows,
            ),
            _Sheet(
                "Confidence",
                RATING_COLUMNS,
                self._ratings(stream(ratings_sheet_query(filt, ratings, dialect)), exported, clock),
                ratings.rows,
            ),
            _Sheet(
                "Answers",
                ANSWER_COLUMNS,
                self._answers(
                    stream(answers_sheet_query(filt, answers, dialect)),
                    exported,
                    clock,
                    Progressing(ids, progress),
                ),
                answers.rows,
            ),
        ]
        plan = {
            "sheets": [sheet.plan for sheet in sheets],
            "max_rows": MAX_DATA_ROWS,
            "date_format": DATE_FORMAT,
            "header_height": HEADER_HEIGHT,
        }
        writer = await _Writer.start(self.path)
        try:
            try:
                await writer.send(plan)
                for sheet in sheets:
                    async for chunk in sheet.chunks:
                        if chunk:
                            await writer.send(chunk)
                        # Let the event loop's other work in between chunks (a bot's
                        # members): neither the pipe nor SQLite calls run inline wait.
                        await asyncio.sleep(0)
                    await writer.send(None)
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise await writer.fail(exc) from None
            await writer.finish()
        except BaseException:
            await writer.kill()
            raise
        finally:
            for closing in [*(sheet.chunks for sheet in sheets), *streams]:
                await closing.aclose()
        if progress is not None:
            progress(len(ids), total)
        return ids

    # ----------------------------------------------------------------- sheets
    #
    # Each sheet yields its rows in chunks. The rows are written out as mapping
    # literals with the headers of the sheet's columns, in their order (a test
    # reads every header row back). Only members on the Members sheet (those
    # in ``exported``) get rows on the others, whatever changed since.

    def _member_columns(self) -> list[Column]:
        """The Members sheet's columns: the CSV file's, times as dates."""
        widths = {"Member id": 10.0, "First name": 16.0, "Network": 14.0}
        dated = set(time_columns(self.labels))
        return [
            (name, 17.0 if col in dated else widths.get(name, 20.0), col in dated)
            for col, name in enumerate(_unique(headers(self.labels)))
        ]

    async def _members(
        self, session: AsyncSession, filt: ExportFilter, ids: list[int], exported: set[int]
    ) -> AsyncGenerator[list[Row]]:
        """One summary row per member (the CSV file's); notes each member written."""
        names = [name for name, _, _ in self._member_columns()]
        async for batch in iter_batches(session, filt, MEMBERS_NEEDS):
            # In small chunks: a summary row takes a while to make.
            for start in range(0, len(batch.members), MEMBERS_CHUNK):
                rows: list[Row] = []
                for member in batch.members[start : start + MEMBERS_CHUNK]:
                    values = cells(summarise(member, batch), self.labels, self.zone)
                    cells_ = (sheet_date(v) if isinstance(v, datetime) else v for v in values)
                    rows.append(dict(zip(names, cells_, strict=True)))
                    ids.append(member.id)
                    exported.add(member.id)
                yield rows

    async def _skills(
        self, chunks: AsyncIterator[Sequence[Any]], exported: set[int], clock: SheetClock | None
    ) -> AsyncGenerator[list[Row]]:
        """Every skill proposed to a member, with its evidence."""
        categories, texts, statuses = self.categories, self.texts, self.statuses
        sources, questions = self.sources, self.questions
        last, name = None, None
        async for chunk in chunks:
            rows: list[Row] = []
            for mid, first, cat, lab, stat, src, found, answered, qid, kind, text in chunk:
                if mid not in exported:
                    continue
                if mid != last:
                    last, name = mid, safe_text(first)
                rows.append(
                    {
                        "Member id": mid,
                        "First name": name,
                        "Category": categories[cat],
                        "Skill": texts[lab],
                        "Member said": statuses[stat],
                        "Found by": sources[src] if src else None,
                        "Question": questions[qid] if qid else None,
                        "Member's own words": safe_text(text) if kind == "text" else None,
                        "Found on": clock(found) if clock else found,
                        "Member answered on": clock(answered) if clock else answered,
                    }
                )
            yield rows

    async def _wishes(
        self, chunks: AsyncIterator[Sequence[Any]], exported: set[int], clock: SheetClock | None
    ) -> AsyncGenerator[list[Row]]:
        """Every learning wish, with the question and the member's words."""
        texts, questions = self.texts, self.questions
        async for chunk in chunks:
            yield [
                {
                    "Member id": mid,
                    "First name": safe_text(first),
                    "Wants to learn": texts[lab],
                    "Question": questions[qid] if qid else None,
                    "Member's own words": safe_text(text) if kind == "text" else None,
                    "Said on": clock(said) if clock else said,
                }
                for mid, first, lab, said, qid, kind, text in chunk
                if mid in exported
            ]

    async def _ratings(
        self, chunks: AsyncIterator[Sequence[Any]], exported: set[int], clock: SheetClock | None
    ) -> AsyncGenerator[list[Row]]:
        """Every confidence rating over time."""
        moments = self.moments
        async for chunk in chunks:
            yield [
                {
                    "Member id": mid,
                    "First name": safe_text(first),
                    "Said on": clock(said) if clock else said,
                    "When": moments[moment],
                    "Chat number": chat,
                    "Confidence (1 low to 3 good)": value,
                    "Feeling": FEELINGS.get(value),
                }
                for mid, first, said, moment, chat, value in chunk
                if mid in exported
            ]

    async def _answers(
        self,
        chunks: AsyncIterator[Sequence[Any]],
        exported: set[int],
        clock: SheetClock | None,
        progressing: Progressing,
    ) -> AsyncGenerator[list[Row]]:
        """Every stored answer; button presses as the button's words."""
        questions, kinds, choices = self.questions, self.kinds, self.choices
        async for chunk in chunks:
            yield [
                {
                    "Member id": mid,
                    "Given on": clock(given) if clock else given,
                    "Question": questions[qid],
                    "How": kinds[kind],
                    "Answer": choices[choice] if kind == "button" and choice else safe_text(text),
                }
                for mid, given, qid, kind, choice, text in chunk
                if mid in exported
            ]
            if chunk:
                progressing.reached(chunk[-1][0])


class Progressing:
    """Reports progress as the last sheet (Answers) goes on: a member there is done."""

    def __init__(self, ids: list[int], progress: Progress | None) -> None:
        """Members in the order they are written (filled while the Members sheet is)."""
        self.ids = ids
        self.progress = progress
        self.place: dict[int, int] | None = None

    def reached(self, member_id: int) -> None:
        """Every member before this one is done."""
        if self.progress is None:
            return
        if self.place is None:
            self.place = {mid: n for n, mid in enumerate(self.ids)}
        self.progress(self.place.get(member_id, 0), len(self.ids))


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (a row is a mapping from name to value)."""
    seen: dict[str, int] = {}
    found = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        found.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return found
