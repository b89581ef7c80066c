"""Scheduled jobs: staff alerts are delivered once, retried after a failure."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.jobs import purge_old_answers, sweep_alerts
from bot.staff.roles import recipients as network_staff
from storage.models import AuditEvent, StaffAlert, utcnow
from storage.models_staff import Staff
from tests.chat import Chat
from tests.conftest import Database, runtime_for


class FlakySender:
    """Records alerts; fails the first ``fail`` sends (like a network error)."""

    def __init__(self, fail: int = 0) -> None:
        """Start with ``fail`` failures to come."""
        self.fail = fail
        self.sent: list[tuple[int, str]] = []

    async def send_alert(self, telegram_id: int, text: str) -> None:
        """Record the alert or fail."""
        if self.fail:
            self.fail -= 1
            raise ConnectionError("Bot API unreachable")
        self.sent.append((telegram_id, text))


async def test_distress_alert_reaches_network_staff_after_a_failure(
    database: Database, tmp_path: Path
) -> None:
    """The alert carries the member's words; a failed send is retried, then delivered once."""
    async with runtime_for(database, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            session.add(Staff(telegram_id=111, network="default", name="Jo"))
            session.add(Staff(telegram_id=222, network="elsewhere", name="Al"))
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("my flatmate takes my money and hits me")
        assert chat.keys[0] == "safety.distress"

        sender = FlakySender(fail=1)
        assert await sweep_alerts(rt.sessionmaker, sender, network_staff) == 0
        assert sender.sent == []
        async with rt.sessionmaker.begin() as session:  # the back-off has passed
            await session.execute(
                update(StaffAlert).values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        assert await sweep_alerts(rt.sessionmaker, sender, network_staff) == 1
        assert len(sender.sent) == 1
        staff_id, text = sender.sent[0]
        assert staff_id == 111
        assert "my flatmate takes my money and hits me" in text
        # Nothing is sent twice.
        assert await sweep_alerts(rt.sessionmaker, sender, network_staff) == 0
        async with rt.sessionmaker() as session:
            alert = (await session.execute(select(StaffAlert))).scalar_one()
            actions = (await session.execute(select(AuditEvent.action))).scalars().all()
        assert alert.attempts == 2 and alert.delivered_at is not None
        assert "distress_alert" in actions and "alert_delivered" in actions


class StallingSender:
    """Sends the first alert; the second waits on a send the stop cancels (Lanes.cancel)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.send: asyncio.Task[bool] | None = None
        self.stalled = asyncio.Event()

    async def send_alert(self, telegram_id: int, text: str) -> None:
        if self.sent:
            self.send = asyncio.create_task(asyncio.Event().wait())
            self.stalled.set()
            await self.send
        self.sent.append(text)


@pytest.mark.parametrize("stopped", ["the send", "the sweep"])
async def test_a_stop_in_the_middle_keeps_the_alerts_already_delivered(
    database: Database, tmp_path: Path, stopped: str
) -> None:
    """Stopped while sending the second alert: the first stays delivered (never sent twice)."""
    async with runtime_for(database, tmp_path) as rt:
        async with rt.sessionmaker.begin() as session:
            session.add(Staff(telegram_id=111, network="default", name="Jo"))
        for member in ("m1", "m2"):
            chat = Chat(rt.engine, member)
            await chat.onboard()
            await chat.say("my flatmate takes my money and hits me")
        sender = StallingSender()
        sweep = asyncio.create_task(sweep_alerts(rt.sessionmaker, sender, network_staff))
        await asyncio.wait_for(sender.stalled.wait(), 10)
        if stopped == "the send":  # the stop ran out of time: its sends are cancelled
            assert sender.send is not None
            sender.send.cancel()
            assert await sweep == 1
        else:  # the job itself is cancelled: it still ends as cancelled
            sweep.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sweep
        async with rt.sessionmaker() as session:
            found = await session.execute(
                select(StaffAlert.delivered_at.is_not(None)).order_by(StaffAlert.id)
            )
            assert list(found.scalars()) == [True, False]
        assert len(sender.sent) == 1


async def test_admins_hear_about_every_network(sqlite_db: Database, tmp_path: Path) -> None:
    """Admins are told about alerts in any network, after the network's own staff."""
    async with runtime_for(sqlite_db, tmp_path) as rt, rt.sessionmaker.begin() as session:
        session.add(Staff(telegram_id=999, network="head office", is_admin=True))
        session.add(Staff(telegram_id=5, network="default"))
        session.add(Staff(telegram_id=6, network="north"))
        assert await network_staff(session, "default") == [5, 999]


async def test_retention_job_runs_on_the_database(sqlite_db: Database, tmp_path: Path) -> None:
    """The purge job itself runs and audits (nothing old to purge here)."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("i like to bake cakes")
        assert await purge_old_answers(rt.sessionmaker, rt.settings) == 0
