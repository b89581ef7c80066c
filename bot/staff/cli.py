"""``skillspark export`` and ``skillspark staff add|list|remove``.

Mounted in :mod:`bot.cli` with ``app.command("export")(export_command)`` and
``app.add_typer(staff_app, name="staff")``. Exit codes: :class:`ExitCode`.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings, get_settings
from bot.staff import roles
from bot.staff.cells import time_text
from bot.staff.data import ExportFilter
from bot.staff.export import (
    ExitCode,
    ExportDone,
    ExportError,
    ExportRequest,
    export_members,
    zone_for,
)
from bot.staff.labels import Labels

T = TypeVar("T")

staff_app = typer.Typer(
    help="Staff who may export members' skills (own network, or every network for admins).",
    no_args_is_help=True,
)


class Format(StrEnum):
    """File formats of ``skillspark export``."""

    csv = "csv"
    xlsx = "xlsx"
    pdf = "pdf"


def _actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _err() -> Console:
    """A console on standard error (progress and messages)."""
    return Console(stderr=True)


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The configured database, migrated to the latest schema."""
    from storage.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(settings.effective_database_url())
    try:
        await upgrade(engine)
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


def _labels(settings: Settings) -> Labels:
    """Words from the dialogues (ids are used when they cannot be read)."""
    from bot.content import ContentError, load_content

    try:
        content = load_content(settings.dialogues_dir, default_language=settings.default_language)
    except ContentError as exc:
        _err().print(f"[yellow]dialogues have problems; ids are shown instead: {exc}[/]")
        return Labels()
    return Labels.from_content(content)


def parse_since(value: str | None, timezone: str) -> datetime | None:
    """``--since 2026-01-31``: the start of that day in ``timezone``, as UTC."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date: write it as YEAR-MONTH-DAY, like 2026-01-31",
            param_hint="--since",
        ) from None
    return datetime.combine(day, time(), tzinfo=zone_for(timezone)).astimezone(UTC)


def export_command(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="csv, xlsx or pdf.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="File to write, or a folder for a dated file name."),
    ] = None,
    network: Annotated[
        str | None, typer.Option("--network", help="Only members of this network.")
    ] = None,
    member: Annotated[
        list[int] | None, typer.Option("--member", help="Only this member id (repeatable).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only members active since this date (YEAR-MONTH-DAY)."),
    ] = None,
    timezone: Annotated[
        str, typer.Option("--timezone", help="Time zone for dates, like Europe/London.")
    ] = "UTC",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Export the skills of members who said yes to sharing (CSV, XLSX or printable PDF)."""
    settings = get_settings()
    console = _err()
    try:
        zone_for(timezone)
        filt = ExportFilter(
            network=network.strip() if network else None,
            member_ids=tuple(member or ()),
            since=parse_since(since, timezone),
        )
    except ExportError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(exc.code) from None
    request = ExportRequest(fmt=fmt.value, filt=filt, actor=_actor(), timezone=timezone)
    try:
        done = asyncio.run(_run_export(settings, request, out, quiet))
    except ExportError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(exc.code) from None
    for note in done.notes:
        console.print(f"[yellow]{note}[/]")
    typer.echo(f"exported {len(done.member_ids)} members to {done.path} ({done.size:,} bytes)")


async def _run_export(
    settings: Settings, request: ExportRequest, out: Path | None, quiet: bool
) -> ExportDone:
    """Run the export with a progress bar on standard error."""
    labels = _labels(settings)
    async with _database(settings) as sessionmaker:
        if quiet:
            return await export_members(sessionmaker, request, out, labels)
        with Progress(
            TextColumn(f"exporting {request.fmt}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("members"),
            TimeElapsedColumn(),
            console=_err(),
            transient=False,
        ) as bar:
            task = bar.add_task("export", total=None)

            def advance(done: int, total: int) -> None:
                """Move the bar."""
                bar.update(task, completed=done, total=total)

            return await export_members(sessionmaker, request, out, labels, advance)


def _run(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    """Run one database task for a staff command."""
    settings = get_settings()

    async def go() -> T:
        """Open the database and do the work."""
        async with _database(settings) as sessionmaker:
            return await work(sessionmaker)

    return asyncio.run(go())


@staff_app.command("add")
def staff_add(
    telegram_id: Annotated[int, typer.Argument(help="The person's Telegram user id (a number).")],
    network: Annotated[str, typer.Option("--network", help="The network they work in.")],
    admin: Annotated[bool, typer.Option("--admin", help="May export every network.")] = False,
    name: Annotated[str | None, typer.Option("--name", help="A name to show in lists.")] = None,
) -> None:
    """Give someone a staff role (or change their network or admin rights)."""

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
        """Add or update the staff row."""
        async with sessionmaker.begin() as session:
            known = await roles.known_networks(session)
            _, created = await roles.add_staff(
                session, telegram_id, network, is_admin=admin, name=name, added_by=_actor()
            )
        if network.strip() not in known:
            _err().print(f"[yellow]note: no member is in network {network.strip()!r} yet[/]")
        return created

    try:
        created = _run(work)
    except roles.RoleError as exc:
        _err().print(f"[red]{exc}[/]")
        raise typer.Exit(ExitCode.USAGE) from None
    role = "admin (every network)" if admin else f"staff for network {network.strip()!r}"
    typer.echo(f"{'added' if created else 'updated'} {telegram_id}: {role}")


@staff_app.command("list")
def staff_list(
    network: Annotated[str | None, typer.Option("--network", help="Only this network.")] = None,
) -> None:
    """Show everyone with a staff role."""

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[str, ...]]:
        """Read the staff rows."""
        async with sessionmaker() as session:
            rows = await roles.list_staff(session, network)
        return [
            (
                str(r.telegram_id),
                r.name or "",
                r.network,
                "yes" if r.is_admin else "no",
                time_text(r.added_at),
            )
            for r in rows
        ]

    found = _run(work)
    if not found:
        typer.echo(
            "no staff yet: add someone with 'skillspark staff add TELEGRAM_ID --network NAME'"
        )
        return
    table = Table("Telegram id", "Name", "Network", "Admin", "Added (UTC)")
    for row in found:
        table.add_row(*row)
    Console().print(table)


@staff_app.command("remove")
def staff_remove(
    telegram_id: Annotated[int, typer.Argument(help="The person's Telegram user id.")],
) -> None:
    """Take away someone's staff role."""

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
        """Delete the staff row."""
        async with sessionmaker.begin() as session:
            return await roles.remove_staff(session, telegram_id, removed_by=_actor())

    if not _run(work):
        _err().print(f"[red]{telegram_id} is not staff: see 'skillspark staff list'[/]")
        raise typer.Exit(ExitCode.UNKNOWN)
    typer.echo(f"removed {telegram_id}: they can no longer export")


@staff_app.command("password")
def staff_password(
    telegram_id: Annotated[int, typer.Argument(help="The staff member's Telegram user id.")],
) -> None:
    """Set a staff member's password for the staff desk (asked for twice, never shown)."""
    from bot.desk import auth

    password = typer.prompt(
        "New desk password (10 or more characters)",
        hide_input=True,
        confirmation_prompt="Type it again",
    )

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Store the password's hash."""
        async with sessionmaker.begin() as session:
            await auth.set_password(session, telegram_id, password, by=_actor())

    try:
        _run(work)
    except auth.PasswordProblem as exc:
        _err().print(f"[red]the password was not set: {exc}[/]")
        raise typer.Exit(ExitCode.USAGE) from None
    typer.echo(f"password set for {telegram_id}: they can sign in to the staff desk")
