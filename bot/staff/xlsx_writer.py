"""The XLSX writer process: reads sheets of rows on standard input and writes the workbook.

:mod:`bot.staff.xlsx_export` starts it (:func:`main`, with the file's path)
and keeps reading the database while this process writes: the two run on two
cores at once (in one process they would take turns, Python running one thing
at a time). It imports nothing else from SkillSpark, so it starts in a few
hundredths of a second.

What comes in is a stream of frames, each a 4-byte big-endian length and a
:mod:`marshal` payload (both ends are this program, run by the same Python):

1. the plan: ``{"sheets": [{"name", "columns": [[header, width, dated], ...],
   "parts"}, ...], "max_rows", "date_format", "header_height"}``;
2. for each sheet in the plan's order: chunks of rows, then ``None``. A row
   maps each column's header to its value (text, a number or ``None``), in
   the plan's column order: the writer takes rows as such mappings, and
   :mod:`marshal` builds them faster than Python code here could.

A sheet of more than ``max_rows`` rows (Excel's limit, ``MAX_DATA_ROWS``) goes
on as ``Name 2``, ``Name 3``: the plan says how many parts, the last part
takes the rest, and the writer fails rather than drop rows past Excel's limit.
Values are written as given: text stays text (never a formula), numbers are
numbers, numbers in date columns show as dates. Exit status 0 means the
workbook is complete; otherwise the reason is on standard error.
"""

from __future__ import annotations

import gc
import itertools
import marshal
import struct
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

import rustpy_xlsxwriter as xlsx

#: Data rows a sheet can hold: Excel's 1,048,576 rows less the header row.
MAX_DATA_ROWS = 1_048_575
#: Each frame starts with its length (4 bytes, big-endian).
LENGTH = struct.Struct(">I")

Row = dict[str, Any]


class Frames:
    """Reads the frames of standard input, one at a time."""

    def __init__(self, stream: BinaryIO) -> None:
        """Read from ``stream``."""
        self.stream = stream

    def next(self) -> Any:
        """The next frame's value (an error at the end of the input: a frame was missing)."""
        head = self.stream.read(LENGTH.size)
        if len(head) < LENGTH.size:
            raise EOFError("the export stopped before the workbook was complete")
        (size,) = LENGTH.unpack(head)
        body = self.stream.read(size)
        if len(body) < size:
            raise EOFError("the export stopped before the workbook was complete")
        return marshal.loads(body)

    def chunks(self) -> Iterator[list[Row]]:
        """One sheet's chunks of rows, up to the sheet's end."""
        while (chunk := self.next()) is not None:
            yield chunk


def _at_least_one(rows: Iterator[Row], blank: Row) -> Iterator[Row]:
    """The rows, or one blank row when there are none (the header comes from a row's keys)."""
    empty = True
    for row in rows:
        empty = False
        yield row
    if empty:
        yield blank


def part_name(name: str, part: int) -> str:
    """``Answers`` for the first part of a sheet, then ``Answers 2``, ``Answers 3``..."""
    return name if part == 1 else f"{name} {part}"


def write(path: str, frames: Frames) -> None:
    """Write the workbook the frames describe to ``path``."""
    plan = frames.next()
    date = xlsx.Format().set_num_format(plan["date_format"])
    header = (
        xlsx.Format().set_bold().set_text_wrap().set_align("top").set_background_color("#E8F1EE")
    )
    entries: list[tuple[str, Iterator[Row]]] = []
    widths: dict[str, list[float]] = {}
    formats: dict[str, list[xlsx.Format | None]] = {}
    for sheet in plan["sheets"]:
        columns = sheet["columns"]
        names = [column[0] for column in columns]
        # Sheets are written one after the other and a generator reads its first
        # chunk only when the writer starts the sheet, so each sheet reads its
        # rows from the input when the one before it is done.
        rows = itertools.chain.from_iterable(frames.chunks())
        parts = max(1, sheet["parts"])
        for part in range(1, parts + 1):
            name = part_name(sheet["name"], part)
            piece = rows if part == parts else itertools.islice(rows, plan["max_rows"])
            entries.append((name, _at_least_one(piece, dict.fromkeys(names))))
            widths[name] = [column[1] for column in columns]
            formats[name] = [date if column[2] else None for column in columns]
    xlsx.write_worksheets(
        entries,  # type: ignore[arg-type]
        path,
        freeze_panes={"general": {"row": 1, "col": 0}},
        datetime_format=plan["date_format"],
        autofit=False,
        column_widths=widths,  # type: ignore[arg-type]
        column_formats=formats,  # type: ignore[arg-type]
        header_format={name: header for name, _ in entries},
        row_heights={name: {0: plan["header_height"]} for name, _ in entries},
        autofilter={name: True for name, _ in entries},
    )
    if frames.stream.read(1):
        raise ValueError("more input came after the last sheet")


def main() -> None:
    """``python -m bot.staff.xlsx_writer PATH``: the workbook from standard input."""
    if len(sys.argv) != 2:
        sys.exit("usage: python -m bot.staff.xlsx_writer PATH (sheets come on standard input)")
    # Rows are freed as soon as they are written and make no cycles: the cyclic
    # garbage collector would only rescan them, costing seconds.
    gc.disable()
    try:
        write(sys.argv[1], Frames(sys.stdin.buffer))
    except Exception as exc:  # the parent reports it; no traceback with member data
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
