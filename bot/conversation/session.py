"""A member's session: starting and coming back, pausing, ratings, and distress."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.conversation.context import Turn, Understood
from bot.conversation.prompts import Part
from bot.conversation.state import (
    NOT_STARTED,
    ONBOARDING_FLOW,
    RATING_INTERRUPTS,
    Interrupt,
    Status,
    as_utc,
    interrupt_of,
)
from bot.conversation.tables import CONFIDENCE_VALUES
from bot.conversation.words import storable
from storage import repo
from storage.models import utcnow

log = logging.getLogger(__name__)


class Session(Part):
    """Start, welcome back, pause, "how do you feel" ratings and the safety net."""

    async def start(self, turn: Turn) -> None:
        """Begin, or welcome a member back where they were."""
        state = turn.state
        if state.status in NOT_STARTED:
            await self.engine.onboarding.start(turn)
            return
        rated_at = turn.data.pop("rated_at_break", None)
        if state.status == Status.PAUSED or self.expired(turn):
            # The member said how they feel as the break began: after a short break (a tap
            # on Carry on soon after) it is the same chat going on, without asking again.
            short_break = state.status == Status.PAUSED and self.since(rated_at) < timedelta(
                minutes=self.settings.rating_gap_minutes
            )
            state.status = Status.ACTIVE if state.status == Status.PAUSED else state.status
            if not short_break:
                state.session_no += 1
            self.say(turn, "resume.welcome_back")
            if turn.consented and state.status == Status.ACTIVE and not short_break:
                self.interrupt(turn, Interrupt.CONFIDENCE_START)
                return
            await self.engine.show_where(turn)
            return
        self.say(turn, "resume.welcome_back")
        await self.engine.show_where(turn)

    def expired(self, turn: Turn) -> bool:
        """True when the member has been away longer than one session."""
        last = as_utc(turn.member.last_active_at)
        if last is None:
            return False
        return utcnow() - last > timedelta(hours=self.settings.session_gap_hours)

    @staticmethod
    def since(iso: str | None) -> timedelta:
        """How long ago a stored moment was; forever when there is none (or it is unreadable)."""
        try:
            moment = as_utc(datetime.fromisoformat(iso)) if iso else None
        except (TypeError, ValueError):  # not a time (an edited or damaged state)
            moment = None
        return timedelta.max if moment is None else utcnow() - moment

    async def stop(self, turn: Turn) -> None:
        """ "Stop": a member in a session chooses a break, deleting, or carrying on."""
        if turn.consented and turn.state.status == Status.ACTIVE:
            self.interrupt(turn, Interrupt.STOP_MENU)
        else:
            await self.pause(turn, bye="stop.bye")

    async def pause(self, turn: Turn, *, bye: str) -> None:
        """Stop for now; ask how the member feels first when they have consented."""
        state = turn.state
        if state.status == Status.PAUSED:
            self.say(turn, bye)
            return
        if (
            turn.consented
            and state.status == Status.ACTIVE
            and interrupt_of(turn.data) not in RATING_INTERRUPTS
            and state.flow_id != ONBOARDING_FLOW
        ):
            turn.data["after_rating"] = bye
            self.interrupt(turn, Interrupt.CONFIDENCE_END)
            return
        self.finish_interrupt(turn, show=False)
        if state.status == Status.ACTIVE:
            state.status = Status.PAUSED
        self.say(turn, bye)

    async def keep_rating(self, turn: Turn, moment: str, choice: str) -> None:
        """Keep a confidence rating (``start`` or ``end``) and thank the member.

        The one place ratings are kept: onboarding, session start and end, and
        the last check after every topic all come here. Skipping keeps nothing.
        """
        value = CONFIDENCE_VALUES.get(choice)
        if value is None or not turn.consented:
            return
        await repo.add_rating(turn.session, turn.member.id, moment, value, turn.state.session_no)
        self.say(turn, "confidence.thanks")

    async def rating(self, turn: Turn, moment: Interrupt, choice: str) -> None:
        """The answer to a start or end-of-session "how do you feel"."""
        start = moment == Interrupt.CONFIDENCE_START
        await self.keep_rating(turn, "start" if start else "end", choice)
        if not start:
            # carrying on soon after does not ask again (start); a skipped question counts
            # as asked too
            turn.data["rated_at_break"] = utcnow().isoformat()
            bye = str(turn.data.pop("after_rating", "paused"))
            self.finish_interrupt(turn, show=False)
            turn.state.status = Status.PAUSED
            self.say(turn, bye)
            return
        self.finish_interrupt(turn, show=True)
        if not turn.data.get("prompt"):
            await self.engine.show_where(turn)

    async def final_rating(self, turn: Turn, choice: str) -> None:
        """The last confidence check after every topic, then a summary."""
        await self.keep_rating(turn, "end", choice)
        turn.state.status = Status.FINISHED
        turn.data.pop("prompt", None)
        self.say(turn, "all.done")
        await self.engine.rights.my_skills(turn)
        self.say(turn, "all.thanks")
        self.engine.help.what_next(turn)

    async def distress(self, turn: Turn, u: Understood) -> None:
        """Stop the flow, answer with warmth and help, and queue an alert for staff."""
        await self.store(turn, "text", storable(u.raw), intent="distress")
        await repo.add_staff_alert(turn.session, "distress", turn.member, storable(u.raw))
        log.warning("safety alert queued for member %s", turn.member.id)
        self.say(turn, "safety.distress")
        if turn.state.status in (*NOT_STARTED, Status.PAUSED, Status.FINISHED):
            return
        self.interrupt(turn, Interrupt.SAFETY)

    async def safety_choice(self, turn: Turn, choice: str) -> None:
        """After a worrying message: a break (no rating question) or carry on."""
        if choice == "pause":
            # No "how do you feel" question straight after a worrying message.
            self.finish_interrupt(turn, show=False)
            if turn.state.status == Status.ACTIVE:
                turn.state.status = Status.PAUSED
            self.say(turn, "paused")
        else:
            self.finish_interrupt(turn, show=True)

    async def stop_choice(self, turn: Turn, choice: str) -> None:
        """The stop menu: a break, delete my answers, or carry on."""
        if choice == "forget":
            await self.engine.rights.ask_forget(turn)  # replaces this interrupt, same way back
        elif choice == "pause":
            self.finish_interrupt(turn, show=False)
            await self.pause(turn, bye="stop.bye")
        else:
            self.finish_interrupt(turn, show=True)
