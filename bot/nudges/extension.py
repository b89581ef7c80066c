"""The engine extension: answers to nudges and the ``/nudges`` command.

Button data (at most about 30 bytes, well under Telegram's 64):

* ``nudge:<id>:y`` / ``:l`` / ``:n``: "Yes, tell me more" / "Not now" / "No thank you";
* ``nudge:on``, ``nudge:off``, ``nudge:days``, ``nudge:time``, ``nudge:ok``: the menu;
* ``nudge:n<count>``, ``nudge:d<count>.<mask>.<day>``, ``nudge:t<minutes>``: choosing
  days and a time, with everything chosen so far carried in the data itself.

Only members who have consented are nudged, and only they can change settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.context import Extension, TurnContext
from bot.nudges import matches
from bot.nudges.data import member_nudge_data
from bot.nudges.prefs import NudgeDefaults, cancel_waiting, ensure_prefs, replan, timing_of
from bot.nudges.schedule import backoff, day_list, quiet_begins
from bot.nudges.texts import (
    NUDGE_KEYS,
    PREFIX,
    OpportunityText,
    details_text,
    join,
    parse_answer,
)
from bot.settings import Settings
from bot.types import Button, Reply
from storage import repo
from storage.models import utcnow
from storage.models_nudges import NudgeOutbox, NudgePrefs, NudgeResponse, Opportunity, PeerMatch

log = logging.getLogger(__name__)

#: The times a member can choose (minutes after midnight); all outside quiet hours.
TIME_OPTIONS = (600, 660, 840, 960)
MAX_DAYS = 2
HOW_MANY = (("nudge:n1", "button.days_1"), ("nudge:n2", "button.days_2"))
#: Outbox states of a nudge that may have reached the member without the bot knowing.
MAYBE_SENT = ("sending", "unknown")


class NudgeExtension(Extension):
    """Nudge answers and nudge settings, inside the member's own turn."""

    prefix = PREFIX
    commands = ("nudges",)
    message_keys = NUDGE_KEYS

    def __init__(
        self, defaults: NudgeDefaults | None = None, *, now: Callable[[], datetime] = utcnow
    ) -> None:
        """Use these defaults for members who have not chosen; ``now`` may be a fake."""
        self.defaults = defaults or NudgeDefaults()
        self.now = now

    @classmethod
    def from_settings(cls, settings: Settings) -> NudgeExtension:
        """Build from the application settings (the ``SKILLSPARK_NUDGE_*`` defaults)."""
        return cls(NudgeDefaults.from_settings(settings))

    # ------------------------------------------------------------------ engine hooks

    async def member_data(self, session: AsyncSession, member_id: int) -> dict[str, Any]:
        """What this feature keeps about a member, for their ``/mydata`` file."""
        return await member_nudge_data(session, member_id)

    async def on_button(self, ctx: TurnContext, choice: str) -> None:
        """A nudge answer or a settings button."""
        if not ctx.consented:
            ctx.say("nudges.need_start")
            await ctx.show_where()
            return
        parsed = parse_answer(choice)
        if parsed is not None:
            await self._answer(ctx, *parsed)
            return
        await self._setting(ctx, choice.removeprefix(PREFIX))

    async def on_command(self, ctx: TurnContext, command: str, args: str) -> None:
        """``/nudges``, ``/nudges on``, ``/nudges off``, ``/nudges days``, ``/nudges time``."""
        if not ctx.consented:
            ctx.say("nudges.need_start")
            await ctx.show_where()
            return
        word = (args.split() or [""])[0].lower()
        setting = {"on": "on", "off": "off", "stop": "off", "days": "days", "time": "time"}
        await self._setting(ctx, setting.get(word, "menu"))

    # ------------------------------------------------------------------ answers

    async def _answer(self, ctx: TurnContext, nudge_id: int, answer: str) -> None:
        """The member answered a nudge: keep it once; a second tap gets a kind word."""
        row = await ctx.session.get(NudgeOutbox, nudge_id)
        if row is None or row.member_id != ctx.member.id:
            ctx.say("nudge.gone")
            return
        if row.status in MAYBE_SENT:  # a tap on it proves it arrived
            row.status = "sent"
            row.sent_at = row.sent_at or self.now()
            row.last_error = "the member answered it"
        done = await ctx.session.execute(
            select(NudgeResponse.id).where(NudgeResponse.nudge_id == nudge_id)
        )
        if done.first() is not None:
            ctx.say("nudge.already")
            return
        prefs = await ensure_prefs(ctx.session, ctx.member.id, self.defaults, self.now())
        if row.kind == "opportunity":
            await self._opportunity_answer(ctx, row, prefs, answer)
        else:
            await self._peer_answer(ctx, row, prefs, answer)

    async def _opportunity_answer(
        self, ctx: TurnContext, row: NudgeOutbox, prefs: NudgePrefs, answer: str
    ) -> None:
        """Yes: tell staff and show the details. Not now: wait longer. No: note the kind."""
        opp = await ctx.session.get(Opportunity, row.opportunity_id or 0)
        if opp is None or (answer == "yes" and opp.status != "open"):
            ctx.say("nudge.gone")
            return
        if not await self._keep(ctx, row, answer, kind=opp.kind, opportunity_id=opp.id):
            return
        now = self.now()
        if answer == "yes":
            prefs.not_now_streak = 0
            if row.direction == "learn":
                prefs.received += 1
            else:
                prefs.gave += 1
            await repo.add_staff_alert(
                ctx.session,
                "interest",
                ctx.member,
                f"Member {ctx.member.id} ({ctx.member.first_name or 'no name given'}) would "
                f'like to hear more about "{opp.title}" (opportunity {opp.id}). '
                f"Please pass this on to {opp.contact}.",
            )
            _emit(ctx, "nudge.details", details_text(ctx.text, _opp_text(opp)))
        elif answer == "not_now":
            await self._wait_longer(ctx, prefs, now)
            ctx.say("nudge.later")
        else:
            declines = dict(prefs.kind_declines or {})
            declines[opp.kind] = int(declines.get(opp.kind, 0)) + 1
            prefs.kind_declines = declines
            ctx.say("nudge.no")
        prefs.updated_at = now

    async def _peer_answer(
        self, ctx: TurnContext, row: NudgeOutbox, prefs: NudgePrefs, answer: str
    ) -> None:
        """An answer to "would you like to meet them?" for an approved skill swap."""
        match = await ctx.session.get(PeerMatch, row.match_id or 0)
        if match is None or match.status not in ("approved", "agreed", "not_agreed"):
            ctx.say("nudge.gone")
            return
        if not await self._keep(ctx, row, answer, kind=match.category, match_id=match.id):
            return
        now = self.now()
        if answer == "not_now":
            await self._wait_longer(ctx, prefs, now)
            if await matches.asked_before(ctx.session, match.id, ctx.member.id) <= 1:
                _ask_again(ctx, row, prefs)
            await matches.answer(ctx.session, match, ctx.member, "not_now", now=now)
            ctx.say("nudge.later")
            return
        await matches.answer(ctx.session, match, ctx.member, answer, now=now)
        if answer == "yes":
            prefs.not_now_streak = 0
            ctx.say("peer.yes")
        else:
            ctx.say("peer.no")

    async def _keep(
        self,
        ctx: TurnContext,
        row: NudgeOutbox,
        answer: str,
        *,
        kind: str,
        opportunity_id: int | None = None,
        match_id: int | None = None,
    ) -> bool:
        """Store the answer; False (and a kind word) when this nudge was answered already."""
        try:
            async with ctx.session.begin_nested():
                ctx.session.add(
                    NudgeResponse(
                        nudge_id=row.id,
                        member_id=ctx.member.id,
                        opportunity_id=opportunity_id,
                        match_id=match_id,
                        kind=kind[:32],
                        answer=answer,
                        created_at=self.now(),
                    )
                )
                await ctx.session.flush()
        except IntegrityError:
            ctx.say("nudge.already")
            return False
        row.answer = answer  # kept on the nudge too: the planner counts unanswered offers
        return True

    async def _wait_longer(self, ctx: TurnContext, prefs: NudgePrefs, now: datetime) -> None:
        """ "Not now": the next nudge waits longer each time, and waiting ones are dropped."""
        prefs.not_now_streak += 1
        prefs.backoff_until = now + backoff(prefs.not_now_streak)
        replan(prefs, now)
        await cancel_waiting(
            ctx.session, ctx.member.id, reason="the member said not now", only_opportunities=True
        )

    # ------------------------------------------------------------------ settings

    async def _setting(self, ctx: TurnContext, what: str) -> None:
        """The settings menu and its steps (all state is in the button data)."""
        prefs = await ensure_prefs(ctx.session, ctx.member.id, self.defaults, self.now())
        if what == "on":
            prefs.enabled = True
            prefs.blocked_at = None
            prefs.backoff_until = None
            prefs.not_now_streak = 0
            replan(prefs, self.now())
            _emit(ctx, "nudges.turned_on", join(ctx.text("nudges.turned_on"), _status(ctx, prefs)))
            await ctx.show_where()
        elif what == "off":
            prefs.enabled = False
            prefs.updated_at = self.now()
            await cancel_waiting(ctx.session, ctx.member.id, reason="the member turned nudges off")
            ctx.say("nudges.turned_off")
            await ctx.show_where()
        elif what == "ok":
            ctx.say("nudges.kept")
            await ctx.show_where()
        elif what == "days":
            ctx.offer(
                "nudges.how_many", (("nudge:n1", "button.days_1"), ("nudge:n2", "button.days_2"))
            )
        elif what == "time":
            _offer_times(ctx)
        elif what in ("n1", "n2"):
            _offer_days(ctx, int(what[1]), 0)
        elif what.startswith("d"):
            await self._day(ctx, prefs, what[1:])
        elif what.startswith("t") and what[1:].isdigit() and int(what[1:]) in TIME_OPTIONS:
            prefs.time_minutes = int(what[1:])
            await self._moved(ctx, prefs)
            _emit(ctx, "nudges.saved", join(ctx.text("nudges.saved"), _status(ctx, prefs)))
            await ctx.show_where()
        else:
            _menu(ctx, prefs)

    async def _day(self, ctx: TurnContext, prefs: NudgePrefs, data: str) -> None:
        """A day was picked: ask for another, or save the days and ask for a time."""
        parts = data.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            _menu(ctx, prefs)
            return
        count, mask, day = (int(p) for p in parts)
        if not 1 <= count <= MAX_DAYS or not 0 <= day <= 6 or not 0 <= mask < 128:
            _menu(ctx, prefs)
            return
        mask |= 1 << day
        if len(day_list(mask)) < count:
            _offer_days(ctx, count, mask)
            return
        prefs.days_mask = mask
        await self._moved(ctx, prefs)
        _offer_times(ctx)

    async def _moved(self, ctx: TurnContext, prefs: NudgePrefs) -> None:
        """New days or time: plan from them, and drop a nudge already planned at the old time."""
        replan(prefs, self.now())
        await cancel_waiting(
            ctx.session,
            ctx.member.id,
            reason="the member chose a new time",
            only_opportunities=True,
        )


# ---------------------------------------------------------------------- helpers


def _emit(ctx: TurnContext, key: str, text: str, buttons: tuple[Button, ...] = ()) -> None:
    """Add one message made of several message keys (the engine's reply list)."""
    ctx.reply(Reply(key=key, text=text, buttons=buttons, seq=0 if buttons else None))


def _status(ctx: TurnContext, prefs: NudgePrefs) -> str:
    """The member's settings in easy-read: on or off, which days, what time."""
    if not prefs.enabled:
        return ctx.text("nudges.off_now")
    days = ", ".join(ctx.text(f"button.day_{d}") for d in day_list(prefs.days_mask))
    minutes = prefs.time_minutes
    when = (
        ctx.text(f"button.time_{minutes}")
        if minutes in TIME_OPTIONS
        else f"{minutes // 60:02d}:{minutes % 60:02d}"
    )
    return join(
        ctx.text("nudges.on_now"),
        ctx.text("nudges.days", label=days) + "\n" + ctx.text("nudges.time", label=when),
    )


def _menu(ctx: TurnContext, prefs: NudgePrefs) -> None:
    """The settings as they are now, and what the member can change."""
    choices: tuple[tuple[str, str], ...]
    if prefs.enabled:
        choices = (
            ("nudge:days", "button.nudges_days"),
            ("nudge:time", "button.nudges_time"),
            ("nudge:off", "button.nudges_off"),
            ("nudge:ok", "button.nudges_fine"),
        )
    else:
        choices = (("nudge:on", "button.nudges_on"), ("nudge:ok", "button.nudges_fine"))
    buttons = tuple(Button(c, ctx.text(k)) for c, k in choices)
    _emit(ctx, "nudges.menu", join(_status(ctx, prefs), ctx.text("nudges.menu")), buttons)


def _offer_days(ctx: TurnContext, count: int, mask: int) -> None:
    """Ask for a day; days already picked are not offered again."""
    buttons = tuple(
        (f"nudge:d{count}.{mask}.{d}", f"button.day_{d}") for d in range(7) if not mask & (1 << d)
    )
    ctx.offer("nudges.pick_another" if mask else "nudges.pick_day", buttons)


def _offer_times(ctx: TurnContext) -> None:
    """Ask for a time of day."""
    ctx.offer("nudges.pick_time", tuple((f"nudge:t{m}", f"button.time_{m}") for m in TIME_OPTIONS))


def _opp_text(opp: Opportunity) -> OpportunityText:
    """The staff-written parts of an opportunity."""
    return OpportunityText(
        title=opp.title,
        description=opp.description,
        emoji=opp.emoji,
        when=opp.when_text,
        where=opp.where_text,
        contact=opp.contact,
    )


def _ask_again(ctx: TurnContext, row: NudgeOutbox, prefs: NudgePrefs) -> None:
    """Queue the meeting question once more, after the member's "Not now" wait."""
    due_at = prefs.next_due_at or prefs.backoff_until or utcnow()
    ctx.session.add(
        NudgeOutbox(
            member_id=row.member_id,
            chat_id=row.chat_id,
            kind=row.kind,
            direction=row.direction,
            match_id=row.match_id,
            due_at=due_at,
            send_before=quiet_begins(due_at, timing_of(prefs)),
            status="pending",
        )
    )
