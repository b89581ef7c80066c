"""The CSV export: one row per member, UTF-8 with a byte order mark so Excel reads it right."""

from __future__ import annotations

import csv
from datetime import datetime, tzinfo
from pathlib import Path

from bot.staff.data import Batch, Needs
from bot.staff.labels import Labels
from bot.staff.profiles import Cell, cells, headers, summarise


def _text(value: Cell) -> str | int:
    """A cell as CSV text: times as ``2026-11-25 14:03``, empty for nothing."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value


def _maybe_empty(header: str) -> bool:
    """Columns whose value may be a time or nothing (text columns are never ``None``)."""
    return header.endswith((" on", "Last active")) or header.startswith(
        ("First confidence", "Latest confidence")
    )


class CsvExport:
    """Writes members' summary rows to a CSV file as batches arrive."""

    needs = Needs(details=False)
    suffix = "csv"

    def __init__(self, path: Path, labels: Labels, zone: tzinfo) -> None:
        """Open the file and write the header row."""
        self.labels = labels
        self.zone = zone
        self._file = path.open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file, dialect="excel")
        self._writer.writerow(headers(labels))
        #: Columns holding times or ratings that may be empty.
        self._times = [i for i, name in enumerate(headers(labels)) if _maybe_empty(name)]

    def add(self, batch: Batch) -> None:
        """Write one row per member of the batch (times as text, empty for nothing)."""
        times = self._times
        rows = []
        for member in batch.members:
            row = cells(summarise(member, batch), self.labels, self.zone)
            for col in times:
                row[col] = _text(row[col])
            rows.append(row)
        self._writer.writerows(rows)

    def close(self) -> None:
        """Finish the file."""
        self._file.close()

    def abort(self) -> None:
        """Close the file after a failure (the caller removes it)."""
        self._file.close()
