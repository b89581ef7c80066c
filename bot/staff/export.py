"""Run one export: check the request, stream members into a file, audit it, put it in place.

Used by the CLI (``skillspark export``) and by :mod:`bot.staff.desk` for Telegram.
The file is written next to its target under a temporary name and renamed only
after the audit event is stored, so every export that leaves a file is audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.staff.csv_export import CsvExport
from bot.staff.data import Batch, ExportFilter, Needs, count_members, iter_batches
from bot.staff.labels import Labels
from bot.staff.pdf_export import PdfExport
from bot.staff.roles import known_networks
from bot.staff.xlsx_export import XlsxExport
from storage import repo
from storage.models import Member


class ExitCode(IntEnum):
    """Exit codes of ``skillspark export`` (and what went wrong, for other callers)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    UNKNOWN = 3  # no such network or member
    UNWRITABLE = 4  # the file cannot be written where asked
    NOTHING = 5  # no member who said yes to sharing matches
    TOO_BIG = 6  # the file is larger than the caller can send


class ExportError(Exception):
    """An export that cannot be done; the message says what to fix."""

    def __init__(self, code: ExitCode, message: str) -> None:
        """Keep the exit code with the message."""
        super().__init__(message)
        self.code = code
        self.message = message


class Exporter(Protocol):
    """A file format: takes batches of members, then finishes the file."""

    needs: Needs
    suffix: str

    def add(self, batch: Batch) -> None:
        """Write the batch's members."""
        ...

    def close(self) -> None:
        """Finish and close the file."""
        ...

    def abort(self) -> None:
        """Give up after a failure."""
        ...


#: Called with (members written, members in all) as the export goes on.
Progress = Callable[[int, int], None]


@runtime_checkable
class FileExporter(Protocol):
    """A file format that reads what it needs itself (the XLSX workbook, sheet by sheet)."""

    suffix: str

    async def write_file(
        self, session: AsyncSession, filt: ExportFilter, total: int, progress: Progress | None
    ) -> list[int]:
        """Write the whole file; the ids of the members in it."""
        ...


ExporterType = Callable[[Path, Labels, ZoneInfo], Exporter | FileExporter]
FORMATS: dict[str, ExporterType] = {"csv": CsvExport, "xlsx": XlsxExport, "pdf": PdfExport}


@dataclass(frozen=True)
class ExportRequest:
    """What to export, for whom, in which format."""

    fmt: str
    filt: ExportFilter = field(default_factory=ExportFilter)
    actor: str = "cli"
    channel: str = "cli"
    timezone: str = "UTC"
    max_bytes: int | None = None


@dataclass(frozen=True)
class ExportDone:
    """A finished export."""

    path: Path
    fmt: str
    member_ids: list[int]
    size: int
    notes: list[str]


def default_filename(fmt: str, now: datetime | None = None) -> str:
    """``skillspark-members-2026-11-25-1403.csv``."""
    moment = now or datetime.now(UTC)
    return f"skillspark-members-{moment:%Y-%m-%d-%H%M}.{fmt}"


def zone_for(name: str) -> ZoneInfo:
    """A time zone by name (``Europe/London``); ExportError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExportError(
            ExitCode.USAGE, f"unknown time zone {name!r}: use a name like UTC or Europe/London"
        ) from None


def target_path(out: Path | None, fmt: str) -> Path:
    """Where the file goes: ``out``, or a dated name inside ``out`` when it is a folder."""
    if out is None:
        return Path.cwd() / default_filename(fmt)
    if out.is_dir():
        return out / default_filename(fmt)
    return out


def claim_part_file(target: Path) -> Path:
    """Create the temporary file beside the target; ExportError saying why it cannot be."""
    folder = target.parent
    if not folder.is_dir():
        raise ExportError(
            ExitCode.UNWRITABLE,
            f"cannot write {target}: the folder {folder} does not exist; create it or choose "
            "another --out",
        )
    part = folder / f".{target.name}.{uuid.uuid4().hex[:8]}.part"
    try:
        part.touch(exist_ok=False)
    except OSError as exc:
        raise ExportError(
            ExitCode.UNWRITABLE,
            f"cannot write in {folder} ({exc.strerror or exc}): choose another --out",
        ) from None
    return part


async def check_filter(session: AsyncSession, filt: ExportFilter) -> list[str]:
    """Refuse unknown networks and members; notes for members left out for consent."""
    notes: list[str] = []
    if filt.network is not None:
        networks = await known_networks(session)
        if filt.network not in networks:
            known = ", ".join(networks) or "none yet"
            raise ExportError(
                ExitCode.UNKNOWN,
                f"there is no network called {filt.network!r} (networks: {known}); "
                "check the spelling of --network",
            )
    if filt.member_ids:
        rows = await session.execute(
            select(Member.id, Member.consent).where(Member.id.in_(filt.member_ids))
        )
        consent = {mid: given for mid, given in rows.all()}
        unknown = sorted(set(filt.member_ids) - consent.keys())
        if unknown:
            raise ExportError(
                ExitCode.UNKNOWN,
                f"no member with id {', '.join(map(str, unknown))}: check --member "
                "(ids are in the first column of an export)",
            )
        for mid in sorted(m for m, given in consent.items() if given is not True):
            notes.append(f"member {mid} has not said yes to sharing, so they are left out")
    return notes


async def export_members(
    sessionmaker: async_sessionmaker[AsyncSession],
    request: ExportRequest,
    out: Path | None,
    labels: Labels,
    progress: Progress | None = None,
) -> ExportDone:
    """Write the export file, audit it, and return what was done (ExportError if not)."""
    make = FORMATS.get(request.fmt)
    if make is None:
        raise ExportError(ExitCode.USAGE, f"unknown format {request.fmt!r}: use csv, xlsx or pdf")
    zone = zone_for(request.timezone)
    target = target_path(out, request.fmt)
    part = claim_part_file(target)
    try:
        with gc_frozen():
            ids, notes = await _write(sessionmaker, request, part, labels, zone, make, progress)
        size = part.stat().st_size
        if request.max_bytes is not None and size > request.max_bytes:
            raise ExportError(ExitCode.TOO_BIG, f"the file is {size} bytes, over the limit")
        async with sessionmaker.begin() as session:
            await repo.audit(
                session, request.actor[:64], "export", None, _detail(request, target, ids, size)
            )
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return ExportDone(target, request.fmt, ids, size, notes)


async def _write(
    sessionmaker: async_sessionmaker[AsyncSession],
    request: ExportRequest,
    part: Path,
    labels: Labels,
    zone: ZoneInfo,
    make: ExporterType,
    progress: Progress | None,
) -> tuple[list[int], list[str]]:
    """Stream the selected members into the temporary file; their ids and notes."""
    ids: list[int] = []
    async with sessionmaker() as session:
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            # One snapshot for the whole export: every batch sees the same data.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        notes = await check_filter(session, request.filt)
        total = await count_members(session, request.filt)
        if total == 0:
            raise ExportError(ExitCode.NOTHING, _nothing_message(request.filt))
        exporter = make(part, labels, zone)
        if progress is not None:
            progress(0, total)
        if isinstance(exporter, FileExporter):
            return await exporter.write_file(session, request.filt, total, progress), notes
        try:
            async for batch in iter_batches(session, request.filt, exporter.needs):
                # Writing is CPU work: a worker thread keeps the event loop (and a bot
                # serving other members on it) responsive during a large export.
                await asyncio.to_thread(exporter.add, batch)
                ids.extend(m.id for m in batch.members)
                if progress is not None:
                    progress(len(ids), total)
        except BaseException:
            exporter.abort()
            raise
    await asyncio.to_thread(exporter.close)
    return ids, notes


_exports_running = 0
_froze = False


@contextlib.contextmanager
def gc_frozen() -> Iterator[None]:
    """Leave the objects alive now out of the garbage collector's scans while an export runs.

    An export makes millions of short-lived rows; each time enough of them pile
    up, Python's collector scans every object of the program (SQLAlchemy's,
    the content's) looking for cycles. ``gc.freeze`` sets those objects aside,
    which made the XLSX and CSV exports about a third faster in the command
    line; ``gc.unfreeze`` puts them back when the last export running ends.

    A program that froze its objects itself (the bot does after start-up:
    :func:`bot.app.settle_memory`) is left as it is: its objects are out of the
    way already, and unfreezing would undo its choice.
    """
    global _exports_running, _froze
    if _exports_running == 0:
        _froze = gc.get_freeze_count() == 0
        if _froze:
            gc.freeze()
    _exports_running += 1
    try:
        yield
    finally:
        _exports_running -= 1
        if _exports_running == 0 and _froze:
            _froze = False
            gc.unfreeze()


def _nothing_message(filt: ExportFilter) -> str:
    """Why nothing was exported."""
    where = f" in network {filt.network!r}" if filt.network else ""
    since = f" active since {filt.since:%Y-%m-%d}" if filt.since else ""
    return (
        f"no member{where}{since} has said yes to sharing their answers, so there is "
        "nothing to export (members who said no or changed their mind are never exported)"
    )


def _detail(request: ExportRequest, target: Path, ids: list[int], size: int) -> dict[str, object]:
    """The audit event's detail: which format, which members, which filters."""
    filt = request.filt
    return {
        "format": request.fmt,
        "channel": request.channel,
        "members": ids,
        "count": len(ids),
        "network": filt.network,
        "member_filter": list(filt.member_ids),
        "since": filt.since.isoformat() if filt.since else None,
        "file": target.name,
        "bytes": size,
    }
