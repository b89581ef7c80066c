"""Onboarding: the steps of ``dialogues/flows/onboarding.yml``, walked one by one."""

from __future__ import annotations

from bot.content import Step
from bot.conversation import preferences
from bot.conversation.context import Turn, Understood
from bot.conversation.prompts import Part
from bot.conversation.state import ONBOARDING_FLOW, Status
from bot.conversation.tables import STEPS
from bot.conversation.words import extract_name
from storage import repo
from storage.models import utcnow


def walk(steps: dict[str, Step], step_id: str) -> tuple[list[Step], str]:
    """From ``step_id``: the steps said on the way, and the step (or ``@action``) that waits.

    The stop is ``""`` when the steps only ever say things (a loop, caught by the
    validator; never walked for ever).
    """
    said: list[Step] = []
    for _ in range(len(steps) + 1):
        if step_id.startswith("@"):
            return said, step_id
        step = steps[step_id]
        if STEPS[step.type].waits:
            return said, step.id
        said.append(step)
        step_id = step.next
    return said, ""


class Onboarding(Part):
    """Name, consent, a first rating and whatever else the onboarding flow says."""

    async def start(self, turn: Turn) -> None:
        """Start (or restart) onboarding from the first step."""
        state = turn.state
        state.status = Status.ACTIVE
        state.flow_id = ONBOARDING_FLOW
        turn.data = {}
        await self.enter_step(turn, self.content.onboarding_start)

    async def enter_step(self, turn: Turn, step_id: str) -> None:
        """Walk onboarding steps from ``step_id`` until one waits for the member."""
        said, stop = walk(self.content.onboarding, step_id)
        for step in said:
            self.say(turn, step.text)
        where = stop if stop and not stop.startswith("@") else (said[-1].id if said else "")
        if where:
            turn.state.flow_id = ONBOARDING_FLOW
            turn.state.step_id = where
        if stop.startswith("@"):
            await self.action(turn, stop)
        elif stop:
            self.ask_step(turn, self.content.onboarding[stop])

    def ask_step(self, turn: Turn, step: Step) -> None:
        """Ask one onboarding step that waits for an answer (as its step type says)."""
        spec = STEPS[step.type]
        if spec.prompt is None:  # free text: no buttons, older ones go stale
            turn.data.pop("prompt", None)
            turn.state.seq += 1
            self.say(turn, step.text)
            return
        buttons = tuple((b.choice, b.label) for b in step.buttons) if spec.flow_buttons else None
        self.prompt(turn, spec.prompt, step.text, buttons)

    async def action(self, turn: Turn, action: str) -> None:
        """Run a flow action (``@topics``, ``@end_no_consent``)."""
        if action == "@topics":
            await self.engine.topics.next_topic(turn)
        elif action == "@end_no_consent":
            turn.state.status = Status.NO_CONSENT
            turn.data = {}
            self.say(turn, "onboarding.consent_no")

    def current_step(self, turn: Turn) -> Step | None:
        """The onboarding step the member is on, if any."""
        if turn.state.flow_id != ONBOARDING_FLOW or not turn.state.step_id:
            return None
        return self.content.onboarding.get(turn.state.step_id)

    async def choice(self, turn: Turn, choice: str) -> None:
        """An answer to the step the member is on (what follows is in :data:`STEPS`)."""
        step = self.content.onboarding.get(turn.state.step_id)
        if step is None:
            await self.start(turn)
            return
        on_choice = STEPS[step.type].on_choice
        if on_choice is None:
            self.render_prompt(turn)
            return
        await on_choice(self.engine, turn, step, choice)

    async def typed(self, turn: Turn, u: Understood) -> bool:
        """Free text on a step with no buttons (the name); False when it has buttons."""
        step = self.current_step(turn)
        on_text = STEPS[step.type].on_text if step is not None else None
        if on_text is None:
            return False
        await on_text(self.engine, turn, u)
        return True

    async def follow_button(self, turn: Turn, step: Step, choice: str) -> None:
        """A ``choice`` step: go where the pressed button leads."""
        target = next((b.next for b in step.buttons if b.choice == choice), None)
        if target is None:
            self.render_prompt(turn)
            return
        await self.enter_step(turn, target)

    async def rated(self, turn: Turn, step: Step, choice: str) -> None:
        """A ``confidence`` step: keep the first rating and go on."""
        await self.engine.sessions.keep_rating(turn, "start", choice)
        await self.enter_step(turn, step.next)

    async def preference(self, turn: Turn, step: Step, choice: str) -> None:
        """A ``preference`` step: keep the pressed button's value (stored at consent)."""
        button = next((b for b in step.buttons if b.choice == choice), None)
        if button is None:
            self.render_prompt(turn)
            return
        preferences.set_(turn, step.preference, button.value)
        await self.enter_step(turn, button.next or step.next)

    async def consent(self, turn: Turn, step: Step, yes: bool) -> None:
        """Record consent (or its refusal) with the time; only then keep the name."""
        member = turn.member
        member.consent = yes
        member.consent_at = utcnow()
        await repo.add_answer(
            turn.session,
            member.id,
            "onboarding.consent",
            "button",
            "yes" if yes else "no",
            choice="yes" if yes else "no",
        )
        await repo.audit(
            turn.session, "member", "consent_given" if yes else "consent_refused", member.id
        )
        if yes:
            member.first_name = str(turn.data.get("name", ""))[:64] or member.first_name
            preferences.keep_at_consent(turn)
            await self.enter_step(turn, step.yes)
        else:
            member.first_name = None
            await repo.forget_pre_consent(turn.session, member.id)
            await self.enter_step(turn, step.no)

    async def name(self, turn: Turn, u: Understood) -> None:
        """Take the first name the member typed, or kindly ask again."""
        step = self.content.onboarding[turn.state.step_id]
        name = extract_name(u.text)
        if name is None:
            self.say(turn, step.retry or step.text)
            return
        turn.data["name"] = name
        if turn.consented:
            turn.member.first_name = name
        await self.enter_step(turn, step.next)
