"""Staff commands: ``skillspark opportunities ...`` and ``skillspark matches ...``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.nudges.cli import matches_app, opportunities_app
from bot.settings import get_settings
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models_nudges import NudgeOutbox, Opportunity, PeerMatch
from tests.test_nudges_support import add_member

runner = CliRunner()
NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI's database: a fresh SQLite file."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SKILLSPARK_DATABASE_URL", url)
    monkeypatch.setenv("SKILLSPARK_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def query(url: str, stmt: object) -> list[object]:
    """Read rows from the CLI's database."""

    async def go() -> list[object]:
        engine = make_engine(url)
        try:
            await upgrade(engine)
            async with make_sessionmaker(engine)() as session:
                return list((await session.execute(stmt)).scalars())  # type: ignore[call-overload]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_add_list_and_close(db_url: str) -> None:
    """Staff add an opportunity, see it listed, and close it."""
    result = runner.invoke(
        opportunities_app,
        [
            "add",
            "--title",
            "Help at the food bank",
            "--description",
            "Sort tins and pack bags 🥫. You can work with a friend.",
            "--categories",
            "community, organising",
            "--contact",
            "Priya at the food bank",
            "--when",
            "Fridays at 10 in the morning",
            "--places",
            "4",
            "--closes",
            NEXT_YEAR,
            "--by",
            "Jo",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "added opportunity 1" in result.output
    listed = runner.invoke(opportunities_app, ["list"])
    assert "Help at the food bank" in listed.output and "yes 0/4" in listed.output
    assert "everyone" in listed.output
    closed = runner.invoke(opportunities_app, ["close", "1", "--by", "Jo"])
    assert closed.exit_code == 0, closed.output
    assert runner.invoke(opportunities_app, ["list"]).output.strip() == "no opportunities"
    (opp,) = query(db_url, select(Opportunity))
    assert isinstance(opp, Opportunity) and opp.status == "closed"
    assert opp.categories == ["community", "organising"] and opp.created_by == "Jo"


def test_add_refuses_hard_words_and_says_which_field(db_url: str) -> None:
    """Jargon in the description and an unknown category are named with their field."""
    result = runner.invoke(
        opportunities_app,
        [
            "add",
            "--title",
            "Volunteering",
            "--description",
            "We facilitate volunteering opportunities for eligible participants.",
            "--categories",
            "cooking,baking",
            "--contact",
            "Jo",
        ],
    )
    assert result.exit_code == 1
    assert "field 'description': easy-read: 'facilitate': say 'help'" in result.output
    assert "field 'categories': 'baking' is not a category" in result.output
    assert query(db_url, select(Opportunity)) == []


def test_import_yaml_names_line_and_field(db_url: str, tmp_path: Path) -> None:
    """A YAML file with problems is refused whole; each problem names its line and field."""
    path = tmp_path / "opps.yml"
    path.write_text(
        "- title: Garden club\n"
        "  description: Grow vegetables with us 🥕.\n"
        "  categories: [gardening]\n"
        "  contact: Sam at the allotment\n"
        "- title: Bake sale\n"
        "  description: Bake a cake for the sale 🎂.\n"
        "  categories: [cooking]\n"
        "  contact: Jo\n"
        "  closes: 2020-01-01\n"
        "  places: lots\n",
        encoding="utf-8",
    )
    result = runner.invoke(opportunities_app, ["import", str(path)])
    assert result.exit_code == 1
    assert "opps.yml line 9, field 'closes': 2020-01-01 is in the past" in result.output
    assert "opps.yml line 10, field 'places': 'lots' is not a whole number" in result.output
    assert query(db_url, select(Opportunity)) == []


def test_import_csv_and_update_by_ref(db_url: str, tmp_path: Path) -> None:
    """A CSV imports; importing again with the same refs updates instead of adding."""
    path = tmp_path / "opps.csv"
    header = "ref,title,description,categories,network,contact,closes\n"
    path.write_text(
        header + f"lib1,Read with children,Read stories to children 📚.,reading_writing,,"
        f"Kim at the library,{NEXT_YEAR}\n"
        "walk1,Walking group,Walk in the park with us 🚶.,sport;community,north,Al,\n",
        encoding="utf-8",
    )
    result = runner.invoke(opportunities_app, ["import", str(path), "--by", "Jo"])
    assert result.exit_code == 0, result.output
    assert "imported 2 opportunities (2 new, 0 updated)" in result.output
    path.write_text(
        header + "walk1,Walking club,Walk in the park with us 🚶.,sport,north,Al,\n",
        encoding="utf-8",
    )
    result = runner.invoke(opportunities_app, ["import", str(path)])
    assert "(0 new, 1 updated)" in result.output
    opps = query(db_url, select(Opportunity).order_by(Opportunity.id))
    titles = [(o.ref, o.title, o.network) for o in opps]  # type: ignore[attr-defined]
    assert titles == [("lib1", "Read with children", None), ("walk1", "Walking club", "north")]


def test_import_csv_problem_names_the_spreadsheet_line(db_url: str, tmp_path: Path) -> None:
    """Line numbers count the header as line 1, as in a spreadsheet."""
    path = tmp_path / "opps.csv"
    path.write_text(
        "title,description,categories,contact\n"
        "Chess club,Play chess with us ♟️.,fun,Al\n"
        "Tea morning,Make tea for visitors ☕.,caring,\n",
        encoding="utf-8",
    )
    result = runner.invoke(opportunities_app, ["import", str(path)])
    assert result.exit_code == 1
    assert "opps.csv line 2, field 'categories': 'fun' is not a category" in result.output
    assert "opps.csv line 3, field 'contact': is empty" in result.output


def test_matches_list_approve_decline(db_url: str) -> None:
    """Staff list skill swap ideas, approve one (both asked) and decline another (nobody told)."""

    async def seed() -> None:
        engine = make_engine(db_url)
        try:
            await upgrade(engine)
            async with make_sessionmaker(engine).begin() as session:
                await add_member(session, 1, name="Jamie", skills=[("cooking_meals", "cooking")])
                await add_member(session, 2, name="Robin", wishes=["cooking_meals"])
                await add_member(session, 3, name="Ash", skills=[("playing_music", "music")])
                await add_member(session, 4, name="Lou", wishes=["playing_music"])
        finally:
            await engine.dispose()

    asyncio.run(seed())
    proposed = runner.invoke(matches_app, ["propose"])
    assert "2 new skill swap ideas" in proposed.output
    listed = runner.invoke(matches_app, ["list", "--status", "proposed"])
    assert "Jamie can share it with member" in listed.output and "Robin" in listed.output
    ids = {m.label: m.id for m in query(db_url, select(PeerMatch))}  # type: ignore[attr-defined]
    cook, music = ids["cooking meals"], ids["playing music"]
    approved = runner.invoke(matches_app, ["approve", str(cook), "--by", "Jo"])
    assert approved.exit_code == 0, approved.output
    declined = runner.invoke(matches_app, ["decline", str(music), "--by", "Jo", "--note", "no"])
    assert declined.exit_code == 0, declined.output
    again = runner.invoke(matches_app, ["approve", str(music), "--by", "Jo"])
    assert again.exit_code == 1 and "already declined" in again.output
    asks = query(db_url, select(NudgeOutbox))
    assert sorted(a.kind for a in asks) == ["peer_learn", "peer_teach"]  # type: ignore[attr-defined]
    assert {a.match_id for a in asks} == {cook}  # type: ignore[attr-defined]


def test_nudges_status_through_the_real_command(tmp_path: Path) -> None:
    """`skillspark nudges status` is mounted in the real command line and runs."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "SKILLSPARK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "SKILLSPARK_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "nudges", "status"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "unknown" in done.stdout.lower() or "no nudges" in done.stdout.lower(), done.stdout
