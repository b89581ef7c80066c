"""Staff roles (repository and CLI) and the ``skillspark export`` command line.

Roles run on SQLite and PostgreSQL; the CLI runs the real typer commands (as
mounted in ``bot/cli.py``) against a SQLite file, as staff would type them.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import typer
from alembic import command
from sqlalchemy import Connection, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.settings import get_settings
from bot.staff import roles
from bot.staff.cli import export_command, staff_app
from bot.staff.export import ExitCode
from storage.db import alembic_config, make_engine, make_sessionmaker, upgrade
from storage.models import AuditEvent
from tests.conftest import Database
from tests.test_staff_export import add_member


async def test_staff_are_added_changed_listed_scoped_and_removed(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        _, created = await roles.add_staff(session, 7001, " north ", added_by="cli:lead")
        await roles.add_staff(session, 7002, "south", name="Jo", added_by="cli:lead")
        await roles.add_staff(session, 7003, "north", is_admin=True, added_by="cli:lead")
        _, again = await roles.add_staff(session, 7002, "north", added_by="cli:lead")
    assert created and not again

    async with sessionmaker() as session:
        listed = [
            (s.telegram_id, s.network, s.is_admin, s.name) for s in await roles.list_staff(session)
        ]
        north = await roles.staff_scope(session, 7001)
        admin = await roles.staff_scope(session, 7003)
        nobody = await roles.staff_scope(session, 7999)
        alerts_north = await roles.recipients(session, "north")
        alerts_east = await roles.recipients(session, "east")
    assert listed == [
        (7001, "north", False, None),
        (7002, "north", False, "Jo"),
        (7003, "north", True, None),
    ]
    assert north is not None and north.networks == "north"
    assert admin is not None and admin.networks is None
    assert nobody is None
    assert alerts_north == [7001, 7002, 7003] and alerts_east == [7003]

    async with sessionmaker.begin() as session:
        assert await roles.remove_staff(session, 7002, removed_by="cli:lead") is True
        assert await roles.remove_staff(session, 7002, removed_by="cli:lead") is False
    async with sessionmaker() as session:
        assert await roles.staff_scope(session, 7002) is None
        actions = (
            (await session.execute(select(AuditEvent.action).order_by(AuditEvent.id)))
            .scalars()
            .all()
        )
    assert actions == [
        "staff_added",
        "staff_added",
        "staff_added",
        "staff_changed",
        "staff_removed",
    ]


async def test_bad_staff_details_are_refused(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        with pytest.raises(roles.RoleError, match="network name is empty"):
            await roles.add_staff(session, 7101, "  ", added_by="t")
        with pytest.raises(roles.RoleError, match="positive whole number"):
            await roles.add_staff(session, -5, "north", added_by="t")


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[typer.Typer]:
    """The staff commands mounted as in ``bot/cli.py``, on a SQLite file."""
    monkeypatch.setenv("SKILLSPARK_DATABASE_URL", sqlite_db.url)
    monkeypatch.setenv("SKILLSPARK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    app = typer.Typer()
    app.command("export")(export_command)
    app.add_typer(staff_app, name="staff")
    yield app
    get_settings.cache_clear()


@pytest.fixture
async def cli_db(sqlite_db: Database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The CLI's database, to store members as the bot would."""
    engine = make_engine(sqlite_db.url)
    await upgrade(engine)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    """Run a command; its exit code, standard output and standard error."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


async def in_thread(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    """Run a command off the test's event loop (the command runs its own)."""
    return await asyncio.to_thread(run, app, *args)


def test_staff_commands_add_list_and_remove(cli: typer.Typer) -> None:
    code, out, _ = run(cli, "staff", "add", "5551", "--network", "north", "--name", "Jo")
    assert code == 0 and "added 5551" in out and "north" in out
    code, out, _ = run(cli, "staff", "add", "5552", "--network", "south", "--admin")
    assert code == 0 and "admin" in out

    code, out, _ = run(cli, "staff", "list")
    assert code == 0
    assert "5551" in out and "Jo" in out and "5552" in out and "yes" in out

    code, out, _ = run(cli, "staff", "remove", "5551")
    assert code == 0 and "removed 5551" in out
    code, _, err = run(cli, "staff", "remove", "5551")
    assert code == ExitCode.UNKNOWN and "is not staff" in err
    code, out, _ = run(cli, "staff", "list")
    assert "5551" not in out and "5552" in out


async def test_export_command_writes_the_file_with_a_progress_bar(
    cli: typer.Typer, cli_db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    sam = await add_member(cli_db, 5601, "Sam", "north")
    await add_member(cli_db, 5602, "Ana", "south")
    out = tmp_path / "north.csv"

    code, stdout, stderr = await in_thread(
        cli, "export", "--format", "csv", "--out", str(out), "--network", "north"
    )

    assert code == 0, stderr
    assert f"exported 1 members to {out}" in stdout
    assert "exporting csv" in stderr and "1/1" in stderr  # the progress bar
    with out.open(encoding="utf-8-sig", newline="") as file:
        assert [r["Member id"] for r in csv.DictReader(file)] == [str(sam.id)]
    async with cli_db() as session:
        event = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "export"))
        ).scalar_one()
    assert event.actor.startswith("cli:") and event.detail["members"] == [sam.id]


async def test_export_command_errors_say_what_to_fix_with_distinct_exit_codes(
    cli: typer.Typer, cli_db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await add_member(cli_db, 5701, "Sam", "north")
    await add_member(cli_db, 5702, "Nope", "east", consent=False)
    good = str(tmp_path / "x.csv")

    cases = [
        (["--network", "nowhere", "--out", good], ExitCode.UNKNOWN, "no network called 'nowhere'"),
        (["--member", "424242", "--out", good], ExitCode.UNKNOWN, "no member with id 424242"),
        (["--out", str(tmp_path / "no" / "x.csv")], ExitCode.UNWRITABLE, "does not exist"),
        (["--network", "east", "--out", good], ExitCode.NOTHING, "nothing to export"),
        (["--since", "31/01/2026", "--out", good], ExitCode.USAGE, "YEAR-MONTH-DAY"),
        (["--timezone", "Mars/Olympus", "--out", good], ExitCode.USAGE, "unknown time zone"),
    ]
    for args, expected, words in cases:
        code, _, err = await in_thread(cli, "export", "--format", "csv", *args)
        assert code == expected, (args, err)
        assert words in " ".join(err.split()), (args, err)
    code, _, err = await in_thread(cli, "export", "--format", "docx", "--out", good)
    assert code == ExitCode.USAGE and "docx" in err
    assert not (tmp_path / "x.csv").exists()


def _downgrade_then_upgrade(connection: Connection) -> tuple[set[str], set[str]]:
    """Tables after going back to revision 0001, and after coming forward again."""
    config = alembic_config(connection)
    command.downgrade(config, "0001")
    before = set(inspect(connection).get_table_names())
    command.upgrade(config, "head")
    return before, set(inspect(connection).get_table_names())


async def test_the_staff_migration_goes_down_and_up_again(database: Database) -> None:
    engine = make_engine(database.url, schema=database.schema)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            down, up = await conn.run_sync(_downgrade_then_upgrade)
    finally:
        await engine.dispose()
    assert "staff" not in down and "members" in down
    assert "staff" in up
