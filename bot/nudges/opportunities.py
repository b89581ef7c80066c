"""Opportunities: check what staff write, import YAML or CSV files, list and close.

Every problem names where it is (file and line, or the command line) and the
field, so staff can fix a file in one go. Member-facing fields are checked
with the easy-read rules; an import is all or nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.easyread import RULE_EMOJI, check_label, check_text
from bot.types import CATEGORIES
from storage import repo
from storage.models import utcnow
from storage.models_nudges import NudgeOutbox, NudgeResponse, Opportunity

FIELDS = (
    "ref",
    "title",
    "description",
    "emoji",
    "categories",
    "network",
    "when",
    "where",
    "contact",
    "places",
    "closes",
)
REQUIRED = ("title", "description", "categories", "contact")
EVERYONE = ("", "all", "everyone", "community")
LIMITS = {"ref": 64, "title": 80, "description": 300, "emoji": 16, "network": 64}
LIMITS.update({"when": 120, "where": 120, "contact": 120})


@dataclass(frozen=True)
class Problem:
    """One thing to fix: where it is, which field, and what is wrong."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        """``file.csv line 3, field 'closes': ...``."""
        return f"{self.where}, field '{self.field}': {self.message}"


class OpportunityError(ValueError):
    """Opportunities that cannot be saved; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        """Keep the problems and build a readable message."""
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class OpportunityIn:
    """A checked opportunity, ready to store."""

    title: str
    description: str
    categories: tuple[str, ...]
    contact: str
    emoji: str = "🌟"
    network: str | None = None
    when: str = ""
    where: str = ""
    places: int | None = None
    closes_on: date | None = None
    ref: str | None = None


# ---------------------------------------------------------------------- checking


def check(
    raw: Mapping[str, Any],
    where: str,
    *,
    today: date,
    lines: Mapping[str, int] | None = None,
) -> tuple[OpportunityIn | None, list[Problem]]:
    """Check one opportunity's fields; ``lines`` gives a line per field (YAML)."""
    problems: list[Problem] = []

    def problem(name: str, message: str) -> None:
        line = (lines or {}).get(name)
        place = f"{where.rsplit(' line ', 1)[0]} line {line}" if line else where
        problems.append(Problem(place, name, message))

    values = {str(k).strip().lower(): v for k, v in raw.items()}
    for name in values:
        if name not in FIELDS:
            problem(name, f"unknown field; the fields are {', '.join(FIELDS)}")
    text = {name: _text(values.get(name)) for name in FIELDS if name not in ("categories",)}
    for name in REQUIRED:
        if name != "categories" and not text[name]:
            problem(name, "is empty; it must be filled in")
    for name, limit in LIMITS.items():
        if len(text.get(name, "")) > limit:
            problem(name, f"is {len(text[name])} characters long; at most {limit}")
    for name in ("title", "when", "where"):
        for finding in check_label(name, text[name]) if text[name] else []:
            problem(name, f"easy-read: {finding.message}")
    if text["description"]:
        for finding in check_text("description", text["description"]):
            if finding.rule != RULE_EMOJI:
                problem("description", f"easy-read: {finding.message}")
    emoji = text["emoji"] or "🌟"
    if any(f.rule == RULE_EMOJI for f in check_text("emoji", emoji, is_button=True)):
        problem("emoji", f"'{emoji}' is not an emoji")
    categories = _categories(values.get("categories"))
    if not categories:
        problem("categories", "is empty; give 1 or more skill categories")
    for category in categories:
        if category not in CATEGORIES:
            problem("categories", f"'{category}' is not a category; use {', '.join(CATEGORIES)}")
    places = _places(text["places"], problem)
    closes_on = _closes(values.get("closes"), today, problem)
    if problems:
        return None, problems
    network = None if text["network"].lower() in EVERYONE else text["network"]
    return (
        OpportunityIn(
            title=text["title"],
            description=text["description"],
            categories=tuple(dict.fromkeys(categories)),
            contact=text["contact"],
            emoji=emoji,
            network=network,
            when=text["when"],
            where=text["where"],
            places=places,
            closes_on=closes_on,
            ref=text["ref"] or None,
        ),
        [],
    )


def _text(value: Any) -> str:
    """A field as trimmed text ("" for nothing)."""
    if value is None:
        return ""
    return " ".join(str(value).split())


def _categories(value: Any) -> list[str]:
    """Categories from a YAML list or a text like ``cooking, caring`` / ``cooking;caring``."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    return [str(i).strip().lower() for i in items if str(i).strip()]


def _places(value: str, problem: Any) -> int | None:
    """The number of places, if given (a whole number from 1)."""
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 10_000:
        problem("places", f"'{value}' is not a whole number from 1 to 10000")
        return None
    return int(value)


def _closes(value: Any, today: date, problem: Any) -> date | None:
    """The closing date, if given (YYYY-MM-DD, today or later)."""
    if value is None or value == "":
        return None
    day: date
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            problem("closes", f"'{value}' is not a date like 2026-12-31")
            return None
    if day < today:
        problem("closes", f"{day.isoformat()} is in the past")
        return None
    return day


# ---------------------------------------------------------------------- files


def read_file(path: Path, *, today: date) -> list[OpportunityIn]:
    """Read and check a ``.yml``/``.yaml`` or ``.csv`` file; raise with every problem."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise OpportunityError([Problem(path.name, "file", f"cannot be read ({exc})")]) from exc
    if path.suffix.lower() == ".csv":
        return read_csv(content, path.name, today=today)
    if path.suffix.lower() in (".yml", ".yaml"):
        return read_yaml(content, path.name, today=today)
    raise OpportunityError([Problem(path.name, "file", "must end in .yml, .yaml or .csv")])


def read_csv(content: str, name: str, *, today: date) -> list[OpportunityIn]:
    """Opportunities from CSV text with a header row (line numbers as in a spreadsheet)."""
    reader = csv.DictReader(io.StringIO(content))
    items: list[OpportunityIn] = []
    problems: list[Problem] = []
    for row in reader:
        where = f"{name} line {reader.line_num}"
        extra = row.pop(None, None)
        if extra:
            problems.append(Problem(where, "row", "has more cells than the header row"))
        values = {k: v for k, v in row.items() if k is not None}
        item, found = check(values, where, today=today)
        problems += found
        if item is not None:
            items.append(item)
    return _finish(items, problems, name)


def read_yaml(content: str, name: str, *, today: date) -> list[OpportunityIn]:
    """Opportunities from YAML: a list of mappings (or ``opportunities: [...]``)."""
    try:
        node = yaml.compose(content, Loader=yaml.SafeLoader)
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise OpportunityError([Problem(name, "file", f"is not valid YAML ({exc})")]) from exc
    if isinstance(data, dict) and "opportunities" in data and isinstance(node, yaml.MappingNode):
        data = data["opportunities"]
        node = next(v for k, v in node.value if k.value == "opportunities")
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        raise OpportunityError([Problem(name, "file", "must be a list of opportunities")])
    items: list[OpportunityIn] = []
    problems: list[Problem] = []
    for entry, entry_node in zip(data, node.value, strict=True):
        line = entry_node.start_mark.line + 1
        where = f"{name} line {line}"
        if not isinstance(entry, dict) or not isinstance(entry_node, yaml.MappingNode):
            problems.append(Problem(where, "entry", "must be a mapping of field: value"))
            continue
        lines = {str(k.value).strip().lower(): k.start_mark.line + 1 for k, _ in entry_node.value}
        item, found = check(entry, where, today=today, lines=lines)
        problems += found
        if item is not None:
            items.append(item)
    return _finish(items, problems, name)


def _finish(items: list[OpportunityIn], problems: list[Problem], name: str) -> list[OpportunityIn]:
    """Refuse the file when anything is wrong (or a ref repeats); else the items."""
    seen: set[str] = set()
    for item in items:
        if item.ref and item.ref in seen:
            problems.append(Problem(name, "ref", f"'{item.ref}' is used more than once"))
        if item.ref:
            seen.add(item.ref)
    if problems:
        raise OpportunityError(problems)
    if not items:
        raise OpportunityError([Problem(name, "file", "has no opportunities in it")])
    return items


# ---------------------------------------------------------------------- storage


async def save(
    session: AsyncSession, items: Sequence[OpportunityIn], *, by: str
) -> tuple[list[Opportunity], int]:
    """Add the opportunities (one with a known ``ref`` is updated); returns them and updates."""
    saved: list[Opportunity] = []
    updated = 0
    for item in items:
        opp = None
        if item.ref:
            found = await session.execute(select(Opportunity).where(Opportunity.ref == item.ref))
            opp = found.scalar_one_or_none()
        if opp is None:
            opp = Opportunity(created_by=by[:64], created_at=utcnow(), status="open")
            session.add(opp)
        else:
            updated += 1
        _fill(opp, item)
        saved.append(opp)
    await session.flush()
    for opp in saved:
        await repo.audit(session, by[:64], "opportunity_saved", None, {"opportunity_id": opp.id})
    return saved, updated


async def edit(
    session: AsyncSession, opportunity_id: int, item: OpportunityIn, *, by: str
) -> Opportunity:
    """Change an opportunity's fields (its ``ref`` must not belong to another one)."""
    opp = await session.get(Opportunity, opportunity_id)
    if opp is None:
        raise OpportunityError([Problem("desk", "id", f"there is no {opportunity_id}")])
    if item.ref:
        found = await session.execute(
            select(Opportunity.id).where(Opportunity.ref == item.ref, Opportunity.id != opp.id)
        )
        if found.first() is not None:
            raise OpportunityError([Problem("desk", "ref", "another opportunity has this code")])
    _fill(opp, item)
    await session.flush()
    await repo.audit(session, by[:64], "opportunity_saved", None, {"opportunity_id": opp.id})
    return opp


def _fill(opp: Opportunity, item: OpportunityIn) -> None:
    """Copy a checked opportunity's fields onto the row."""
    opp.ref = item.ref
    opp.title = item.title
    opp.description = item.description
    opp.emoji = item.emoji
    opp.categories = list(item.categories)
    opp.network = item.network
    opp.when_text = item.when
    opp.where_text = item.where
    opp.contact = item.contact
    opp.places = item.places
    opp.closes_on = item.closes_on


@dataclass(frozen=True)
class OpportunityView:
    """One opportunity for staff, with how many members said yes."""

    opportunity: Opportunity
    interested: int


async def list_opportunities(
    session: AsyncSession, *, include_closed: bool = False, network: str | None = None
) -> list[OpportunityView]:
    """Opportunities, newest first, with their "yes" counts."""
    yes = (
        select(NudgeResponse.opportunity_id, func.count().label("n"))
        .where(NudgeResponse.answer == "yes")
        .group_by(NudgeResponse.opportunity_id)
        .subquery()
    )
    stmt = (
        select(Opportunity, func.coalesce(yes.c.n, 0))
        .outerjoin(yes, yes.c.opportunity_id == Opportunity.id)
        .order_by(Opportunity.id.desc())
    )
    if not include_closed:
        stmt = stmt.where(Opportunity.status == "open")
    if network:
        stmt = stmt.where((Opportunity.network == network) | Opportunity.network.is_(None))
    rows = await session.execute(stmt)
    return [OpportunityView(opp, int(n)) for opp, n in rows.all()]


async def close(session: AsyncSession, opportunity_id: int, *, by: str) -> Opportunity:
    """Close an opportunity: nudges about it that are still waiting are not sent."""
    opp = await session.get(Opportunity, opportunity_id)
    if opp is None:
        raise OpportunityError([Problem("command line", "id", f"there is no {opportunity_id}")])
    opp.status = "closed"
    opp.closed_at = utcnow()
    await session.execute(
        update(NudgeOutbox)
        .where(
            NudgeOutbox.opportunity_id == opportunity_id,
            NudgeOutbox.status.in_(("pending", "claimed")),
        )
        .values(status="cancelled", claimed_by=None, last_error="the opportunity closed")
    )
    await repo.audit(session, by[:64], "opportunity_closed", None, {"opportunity_id": opp.id})
    return opp
