"""What the desk pages show, over plain HTTP: nudge figures, alerts in order, YAML imports."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.desk.app import local
from storage import repo
from storage.models import Member
from storage.models_desk import AlertSeen
from storage.models_nudges import NudgeOutbox, NudgeResponse, Opportunity
from tests.conftest import Database
from tests.desk_support import ADMIN, ADMIN_PASSWORD, NORTH_STAFF, PASSWORD, RunningDesk, desk_for
from tests.test_desk_security import client, sign_in, token_of
from tests.test_nudges_support import add_opportunity

FIGURE = re.compile(r'<th scope="row">([^<]+)</th><td>(\d+)</td>')


def figures(html: str) -> dict[str, int]:
    """The numbers in the nudges page's table, by their row heading."""
    return {name: int(n) for name, n in FIGURE.findall(html)}


async def add_nudges(desk: RunningDesk) -> None:
    """North: 3 sent (2 answered), 1 that may not have arrived; south: 1 answered; 1 old one."""
    now = datetime.now(UTC)
    ids = desk.seeded.members
    async with desk.sessionmaker.begin() as session:
        opp = await add_opportunity(session, "Garden day", "gardening")

        async def nudge(name: str, status: str, answer: str | None, days: int = 1) -> None:
            member = await session.get(Member, ids[name])
            assert member is not None
            row = NudgeOutbox(
                member_id=member.id,
                chat_id=member.telegram_id or 0,
                kind="opportunity",
                opportunity_id=opp,
                due_at=now - timedelta(days=days),
                status=status,
                sent_at=now - timedelta(days=days) if status == "sent" else None,
                answer=answer,
            )
            session.add(row)
            await session.flush()
            if answer is not None:
                session.add(
                    NudgeResponse(
                        nudge_id=row.id,
                        member_id=member.id,
                        opportunity_id=opp,
                        kind="opportunity",
                        answer=answer,
                    )
                )

        await nudge("Ann", "sent", "yes")
        await nudge("Bob", "sent", None)
        await nudge("Bob", "unknown", None)
        await nudge("Cat", "sent", "no")
        await nudge("Dan", "sent", "yes")  # south
        await nudge("Ann", "sent", "not_now", days=10)  # before the last 7 days


async def test_nudge_figures(database: Database, tmp_path: Path) -> None:
    """Sent, answered and may-not-have-arrived count my network's nudges of the last 7 days."""
    async with desk_for(database, tmp_path) as desk, client(desk) as north, client(desk) as admin:
        await add_nudges(desk)
        await sign_in(north, NORTH_STAFF, PASSWORD)
        page = await north.get("/nudges")
        assert page.status_code == 200
        assert figures(page.text) == {
            "Sent": 3,
            "Answered by the member": 2,
            "Waiting to be sent": 0,
            "May not have arrived": 1,
        }
        assert "Bob: &#34;Garden day&#34;, planned for" in page.text  # may not have arrived
        await sign_in(admin, ADMIN, ADMIN_PASSWORD)
        every = figures((await admin.get("/nudges")).text)
        assert every["Sent"] == 4 and every["Answered by the member"] == 3


async def test_alerts_newest_first_with_when_they_were_seen(
    database: Database, tmp_path: Path
) -> None:
    """Three alerts are listed newest first; once seen, the card says by whom and when."""
    now = datetime.now(UTC)
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        async with desk.sessionmaker.begin() as session:
            ann = await session.get(Member, desk.seeded.members["Ann"])
            assert ann is not None
            oldest = await repo.add_staff_alert(session, "help", ann, "Ann asked for help")
            oldest.created_at = now - timedelta(days=3)
            middle = await repo.add_staff_alert(session, "distress", ann, "Ann said: I am sad")
            middle.created_at = now - timedelta(days=1)
            oldest_id, middle_id = oldest.id, middle.id
        newest_id = desk.seeded.alert_id  # made by the seed, just now
        await sign_in(http, NORTH_STAFF, PASSWORD)
        page = await http.get("/alerts")
        order = [int(n) for n in re.findall(r'id="alert-(\d+)"', page.text)]
        assert order == [newest_id, middle_id, oldest_id]
        answer = await http.post(
            f"/alerts/{middle_id}/seen", data={"csrf_token": token_of(page.text)}
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/alerts#alert-{middle_id}"
        page = await http.get("/alerts")
        order = [int(n) for n in re.findall(r'id="alert-(\d+)"', page.text)]
        assert order == [newest_id, middle_id, oldest_id]  # seeing one does not move it
        async with desk.sessionmaker() as session:
            seen = await session.get(AlertSeen, middle_id)
        assert seen is not None
        when = local(seen.seen_at, ZoneInfo(desk.settings.nudge_timezone))
        card = page.text.split(f'id="alert-{middle_id}"')[1].split("</li>")[0]
        assert f"Seen by Nora on {when}." in card
        assert "I have seen this" not in card
        assert "Seen by" not in page.text.split(f'id="alert-{oldest_id}"')[1]


YAML_GOOD = """\
opportunities:
  - title: Garden day
    description: 🌻 Come and help.
    categories: [gardening]
    contact: Priya
    closes: 2030-01-01
  - title: Bake sale
    description: 🍰 Bring a cake.
    categories: cooking
    contact: Priya
    ref: bake-2030
"""


async def count_opportunities(desk: RunningDesk) -> int:
    """How many opportunities are stored."""
    async with desk.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Opportunity)) or 0)


async def test_yaml_import(database: Database, tmp_path: Path) -> None:
    """A good YAML file adds every entry; a broken one adds nothing and says what is wrong."""
    wrong_date = YAML_GOOD.replace("closes: 2030-01-01", "closes: soon")
    not_yaml = YAML_GOOD.replace("  - title: Bake sale", "  - title: [Bake sale")
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        await sign_in(http, NORTH_STAFF, PASSWORD)
        token = token_of((await http.get("/opportunities")).text)

        async def send(text: str, name: str = "list.yaml") -> str:
            files = {"file": (name, text.encode(), "application/yaml")}
            answer = await http.post(
                "/opportunities/import", data={"csrf_token": token}, files=files
            )
            assert answer.status_code in (303, 400)
            return answer.text if answer.status_code == 400 else ""

        problem = await send(wrong_date)
        assert "Nothing was added" in problem
        assert "list.yaml line 6, field &#39;closes&#39;" in problem and "soon" in problem
        problem = await send(not_yaml, "list.yml")
        assert "Nothing was added" in problem and "is not valid YAML" in problem
        problem = await send("- just words\n")
        assert "must be a mapping" in problem
        assert await count_opportunities(desk) == 0

        assert await send(YAML_GOOD) == ""
        listed = await http.get("/opportunities")
        assert "Imported 2 opportunities (2 new, 0 changed)" in listed.text
        async with desk.sessionmaker() as session:
            found = await session.execute(select(Opportunity).order_by(Opportunity.id))
            saved = list(found.scalars())
        assert [o.title for o in saved] == ["Garden day", "Bake sale"]
        assert [o.network for o in saved] == ["north", "north"]  # the importer's network
        assert saved[0].categories == ["gardening"] and saved[0].closes_on is not None
        assert saved[1].ref == "bake-2030" and saved[1].created_by == f"desk:{NORTH_STAFF}"
