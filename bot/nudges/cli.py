"""Staff commands: ``skillspark opportunities ...``, ``matches ...`` and ``nudges ...``.

Mounted by ``bot/cli.py``::

    app.add_typer(opportunities_app, name="opportunities")
    app.add_typer(matches_app, name="matches")
    app.add_typer(nudges_app, name="nudges")
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.nudges import matches as swaps
from bot.nudges.data import outbox_status
from bot.nudges.opportunities import (
    OpportunityError,
    OpportunityIn,
    check,
    close,
    list_opportunities,
    read_file,
    save,
)
from bot.nudges.prefs import NudgeDefaults
from bot.nudges.schedule import zone
from storage.models import utcnow

T = TypeVar("T")

opportunities_app = typer.Typer(
    help="Opportunities members can hear about: add, import, list, close.", no_args_is_help=True
)
matches_app = typer.Typer(
    help="Skill swaps between members: staff decide before anyone is asked.",
    no_args_is_help=True,
)

nudges_app = typer.Typer(
    help="Nudges members were sent: how many in each state, and any that may not have arrived.",
    no_args_is_help=True,
)

ByOption = Annotated[
    str, typer.Option("--by", help="Your name, kept in the audit log (default: your login).")
]


def _who(by: str) -> str:
    """The staff name for the audit log."""
    if by:
        return by
    try:
        return getpass.getuser() or "staff"
    except Exception:
        return "staff"


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction on the configured database (migrated first)."""
    from bot.settings import get_settings
    from storage.db import make_engine, make_sessionmaker, upgrade

    async def go() -> T:
        engine = make_engine(get_settings().effective_database_url())
        try:
            await upgrade(engine)
            async with make_sessionmaker(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _today() -> date:
    """Today's date in the service's time zone."""
    from bot.settings import get_settings

    defaults = NudgeDefaults.from_settings(get_settings())
    return utcnow().astimezone(zone(defaults.timezone)).date()


def _fail(exc: OpportunityError | swaps.MatchError) -> typer.Exit:
    """Print every problem and give exit code 1."""
    for line in str(exc).splitlines():
        typer.echo(f"problem: {line}", err=True)
    return typer.Exit(1)


# ---------------------------------------------------------------------- opportunities


@opportunities_app.command("add")
def add(
    title: Annotated[str, typer.Option("--title", help="A short easy-read title.")],
    description: Annotated[
        str, typer.Option("--description", help="1 to 3 short easy-read sentences.")
    ],
    categories: Annotated[
        str, typer.Option("--categories", help="Skill categories, e.g. 'cooking,community'.")
    ],
    contact: Annotated[
        str, typer.Option("--contact", help="Who members talk to, e.g. 'Priya at the library'.")
    ],
    emoji: Annotated[str, typer.Option("--emoji", help="A picture for the title.")] = "🌟",
    network: Annotated[
        str, typer.Option("--network", help="One network only (default: everyone).")
    ] = "",
    when: Annotated[str, typer.Option("--when", help="When it happens.")] = "",
    where: Annotated[str, typer.Option("--where", help="Where it happens.")] = "",
    places: Annotated[int | None, typer.Option("--places", help="How many people.")] = None,
    closes: Annotated[str, typer.Option("--closes", help="Closing date, YYYY-MM-DD.")] = "",
    ref: Annotated[str, typer.Option("--ref", help="Your own key for it.")] = "",
    by: ByOption = "",
) -> None:
    """Add one opportunity (checked with the easy-read rules)."""
    raw = {
        "title": title,
        "description": description,
        "categories": categories,
        "contact": contact,
        "emoji": emoji,
        "network": network,
        "when": when,
        "where": where,
        "places": "" if places is None else str(places),
        "closes": closes,
        "ref": ref,
    }
    item, problems = check(raw, "command line", today=_today())
    if item is None:
        raise _fail(OpportunityError(problems))
    saved = _save([item], _who(by))
    typer.echo(f"added opportunity {saved[0]}")


def _save(items: list[OpportunityIn], by: str) -> list[int]:
    """Store checked opportunities; their ids."""

    async def work(session: AsyncSession) -> list[int]:
        saved, _ = await save(session, items, by=by)
        return [o.id for o in saved]

    return _run(work)


@opportunities_app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(help="A .yml/.yaml or .csv file of opportunities.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only check the file.")] = False,
    by: ByOption = "",
) -> None:
    """Import opportunities from a file (all or nothing; rows with a known ref are updated)."""
    try:
        items = read_file(path, today=_today())
    except OpportunityError as exc:
        raise _fail(exc) from exc
    if dry_run:
        typer.echo(f"{path.name}: {len(items)} opportunities, no problems found")
        return
    who = _who(by)

    async def work(session: AsyncSession) -> tuple[int, int]:
        saved, updated = await save(session, items, by=who)
        return len(saved), updated

    count, updated = _run(work)
    typer.echo(f"imported {count} opportunities ({count - updated} new, {updated} updated)")


@opportunities_app.command("list")
def list_command(
    all_: Annotated[bool, typer.Option("--all", help="Closed ones too.")] = False,
    network: Annotated[str, typer.Option("--network", help="One network only.")] = "",
) -> None:
    """List opportunities with how many members said yes."""

    async def work(session: AsyncSession) -> list[str]:
        views = await list_opportunities(session, include_closed=all_, network=network or None)
        lines = []
        for view in views:
            o = view.opportunity
            places = f"{view.interested}/{o.places}" if o.places else f"{view.interested}/-"
            closes = o.closes_on.isoformat() if o.closes_on else "-"
            lines.append(
                f"{o.id:>5}  {o.status:<6}  {(o.network or 'everyone'):<16}  closes {closes:<10}"
                f"  yes {places:<7}  {o.emoji} {o.title}  [{', '.join(o.categories)}]"
            )
        return lines

    lines = _run(work)
    typer.echo("\n".join(lines) if lines else "no opportunities")


@opportunities_app.command("close")
def close_command(
    opportunity_id: Annotated[int, typer.Argument(help="The opportunity's id (see list).")],
    by: ByOption = "",
) -> None:
    """Close an opportunity; waiting nudges about it are not sent."""
    who = _who(by)

    async def work(session: AsyncSession) -> str:
        opp = await close(session, opportunity_id, by=who)
        return opp.title

    try:
        title = _run(work)
    except OpportunityError as exc:
        raise _fail(exc) from exc
    typer.echo(f"closed opportunity {opportunity_id}: {title}")


# ---------------------------------------------------------------------- matches


@matches_app.command("list")
def matches_list(
    status: Annotated[
        str,
        typer.Option(
            "--status", help="proposed, approved, agreed, declined, not_agreed (default: all)."
        ),
    ] = "",
    network: Annotated[str, typer.Option("--network", help="One network only.")] = "",
) -> None:
    """List skill swap ideas and where each one stands."""

    async def work(session: AsyncSession) -> list[str]:
        views = await swaps.list_matches(session, status=status or None, network=network or None)
        return [
            f"{v.id:>5}  {v.status:<10}  {v.network:<16}  {v.label} ({v.skill_id}): "
            f"member {v.teacher_id} {v.teacher_name} can share it with member "
            f"{v.learner_id} {v.learner_name}  answers {v.teacher_answer or '-'}/"
            f"{v.learner_answer or '-'}  score {v.score:.2f}"
            for v in views
        ]

    lines = _run(work)
    typer.echo("\n".join(lines) if lines else "no skill swaps")


@matches_app.command("propose")
def matches_propose(
    max_open: Annotated[
        int, typer.Option("--max-open", help="Open swaps one member may be in.")
    ] = 2,
) -> None:
    """Look for new skill swap ideas now (members are not told)."""

    async def work(session: AsyncSession) -> int:
        return len(await swaps.propose_matches(session, max_open=max_open))

    typer.echo(f"{_run(work)} new skill swap ideas")


@matches_app.command("approve")
def matches_approve(
    match_id: Annotated[int, typer.Argument(help="The skill swap's id (see list).")],
    by: ByOption = "",
) -> None:
    """Approve a skill swap: both members are then asked whether they would like to meet."""
    from bot.settings import get_settings

    who = _who(by)
    defaults = NudgeDefaults.from_settings(get_settings())

    async def work(session: AsyncSession) -> None:
        await swaps.approve(session, match_id, by=who, defaults=defaults)

    try:
        _run(work)
    except swaps.MatchError as exc:
        raise _fail(exc) from exc
    typer.echo(f"approved skill swap {match_id}: both members will be asked at their usual time")


@matches_app.command("decline")
def matches_decline(
    match_id: Annotated[int, typer.Argument(help="The skill swap's id (see list).")],
    note: Annotated[str, typer.Option("--note", help="Why (kept for staff).")] = "",
    by: ByOption = "",
) -> None:
    """Decline a skill swap: the members are never asked."""
    who = _who(by)

    async def work(session: AsyncSession) -> None:
        await swaps.decline(session, match_id, by=who, note=note)

    try:
        _run(work)
    except swaps.MatchError as exc:
        raise _fail(exc) from exc
    typer.echo(f"declined skill swap {match_id}: nobody was told")


# ---------------------------------------------------------------------- nudges


@nudges_app.callback()
def nudges_group() -> None:
    """Nudges members were sent (``skillspark nudges status``)."""


@nudges_app.command("status")
def nudges_status(
    days: Annotated[
        int, typer.Option("--days", min=1, help="Nudges planned in the last DAYS days.")
    ] = 7,
    most: Annotated[int, typer.Option("--most", min=1, help="List at most this many.")] = 50,
) -> None:
    """How many nudges are in each state, and every nudge that may not have arrived.

    A nudge is "unknown" when its sender stopped (or lost Telegram's answer) while
    the message was on its way: it may have arrived or not, and it is never sent
    again. Ask the member if you need to know; if they tap one of its buttons it
    is marked sent.
    """

    async def work(session: AsyncSession) -> list[str]:
        status = await outbox_status(session, since=utcnow() - timedelta(days=days), most=most)
        lines = [f"nudges planned in the last {days} days:"]
        counts = status.counts
        lines.append("  " + (", ".join(f"{state} {n}" for state, n in counts.items()) or "none"))
        if not status.unknown:
            lines.append("no nudges with an unknown outcome")
            return lines
        lines.append(
            f"{status.unknown_total} nudges may not have arrived "
            "(unknown: the sender stopped during the call; never sent again):"
        )
        for row in status.unknown:
            lines.append(
                f"  nudge {row.nudge_id}  member {row.member_id} ({row.first_name or 'no name'})"
                f"  {row.about}  planned {row.planned_for:%Y-%m-%d %H:%M} UTC  {row.reason}"
            )
        if status.unknown_total > len(status.unknown):
            lines.append(f"  ... and {status.unknown_total - len(status.unknown)} more")
        return lines

    typer.echo("\n".join(_run(work)))
