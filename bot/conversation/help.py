"""No dead ends: carry-on buttons, "what next", my own skills, and a person when stuck.

* Messages that end the conversation for now carry a "go" button
  (:data:`~bot.conversation.tables.END_BUTTONS`); the member's status decides
  what it does (:data:`~bot.conversation.tables.GO`), so it works after a restart.
* A member who has answered every topic gets a "what next" menu.
* "I can also make cakes" (or the "Add a skill" button) goes through the skill
  finder and the usual confirmation, then back to where the member was.
* After two messages in a row the bot did not understand, the member may ask
  staff for help: a ``help`` staff alert, at most one each half hour.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.conversation.context import Turn, TurnContext, Understood
from bot.conversation.prompts import Part
from bot.conversation.state import ONBOARDING_FLOW, PendingItem, PromptKind, Status, prompt_kind
from bot.conversation.tables import (
    ADD_BACK_MAX,
    GO,
    GO_PREFIX,
    OFFERS,
)
from bot.conversation.topics import found_skills, open_skills
from bot.types import Button, Reply
from storage import repo
from storage.models import MemberSkill, StaffAlert, utcnow

#: Not-understood messages in a row before the member is offered a person.
STUCK_AFTER = 2
#: At most one help alert per member in this time.
HELP_ALERT_GAP = timedelta(minutes=30)


class Help(Part):
    """Carry-on buttons, what next, skills in the member's own words, asking staff."""

    def offer(self, turn: Turn, key: str) -> None:
        """A message with "go" buttons (:data:`OFFERS`): not the waiting prompt, never stale."""
        turn.replies.append(self.offer_reply(turn, key))

    async def hear_offer(self, turn: Turn, key: str) -> None:
        """ "Hear it" under an offer: that message read aloud; nothing else changes."""
        if key in OFFERS:
            turn.replies.append(self.offer_reply(turn, key, heard=True))
            return
        self.say(turn, "input.old_button")
        await self.engine.show_where(turn)

    # ---------------------------------------------------------------- go buttons

    async def go(self, turn: Turn, value: str) -> bool:
        """A "go" button: True when it was one (and it has been acted on)."""
        if not value.startswith(GO_PREFIX):
            return False
        name, _, arg = value.removeprefix(GO_PREFIX).partition(":")
        spec = GO.get(name)
        if spec is None or spec.stored:
            await self.store(turn, "button", value[:64], choice=value[:32])
        if spec is None or turn.state.status not in spec.statuses:
            self.say(turn, "input.old_button")
            await self.engine.show_where(turn)
            return True
        await spec.on_go(self.engine, turn, arg)
        return True

    async def carry_on(self, turn: Turn) -> None:
        """Carry on where the member was (a break ends; a finished member sees what next)."""
        if turn.state.status == Status.FINISHED:
            await self.engine.show_where(turn)
            return
        await self.engine.sessions.start(turn)

    async def try_again(self, turn: Turn) -> None:
        """After "no" to consent: start onboarding again (elsewhere: where they are)."""
        if turn.state.status in (Status.NO_CONSENT, Status.NEW):
            await self.engine.onboarding.start(turn)
            return
        await self.engine.show_where(turn)

    async def my_skills(self, turn: Turn) -> None:
        """The member's skills, then where they are."""
        await self.engine.rights.my_skills(turn)
        await self.engine.show_where(turn)

    async def chances(self, turn: Turn) -> None:
        """The chances to share a skill: the extension that answers ``nudges`` shows them."""
        extension = next((e for e in self.engine.extensions if "nudges" in e.commands), None)
        if extension is None:
            await self.engine.show_where(turn)
            return
        await extension.on_command(TurnContext(self.engine, turn), "nudges", "")

    def what_next(self, turn: Turn) -> None:
        """What a member who has answered everything can do now."""
        self.offer(turn, "next.menu")

    # ------------------------------------------------------------ my own skills

    async def ask_own_words(self, turn: Turn) -> None:
        """The "Add a skill" button: the next words the member types are a skill."""
        if not self.can_take_own_words(turn):
            self.say(turn, "own.finish_first")
            await self.engine.show_where(turn)
            return
        turn.data["own_wait"] = True
        self.say(turn, "own.ask")

    def can_take_own_words(self, turn: Turn) -> bool:
        """True when own words can be taken now (not in onboarding or an interrupt)."""
        return (
            turn.consented
            # onboarding is over at the first topic choice (its flow id is still onboarding's)
            and (turn.state.flow_id != ONBOARDING_FLOW or prompt_kind(turn.data) == PromptKind.MORE)
            and not turn.data.get("interrupt")
            and not turn.data.get("pending")
            and "own_return" not in turn.data
        )

    async def own_words(self, turn: Turn, u: Understood) -> None:
        """Skills in the member's own words: confirm what the finder found, then go back."""
        await self.store(turn, "text", u.raw, intent="own_words", question_id="own_words")
        statuses = await repo.skill_statuses(turn.session, turn.member.id)
        found = found_skills(u)
        if not found:
            self.say(turn, "own.kept")
            await self.back_from_own(turn, restore=False)
            return
        fresh = open_skills(statuses, found, settled=("confirmed",))
        if not fresh:
            self.say(turn, "own.known")
            await self.back_from_own(turn, restore=False)
            return
        items: list[PendingItem] = [
            {"skill": s, "key": "skill.found" if i == 0 else "skill.also", "source": "member"}
            for i, s in enumerate(fresh)
        ]
        turn.data["own_return"] = turn.data.get("prompt")
        await self.engine.confirm.propose(turn, items, turn.last_answer_id)

    async def back_from_own(self, turn: Turn, *, restore: bool = True) -> None:
        """Back to where the member was before telling their own skill."""
        if restore:
            turn.data["prompt"] = turn.data.pop("own_return", None)
            turn.state.seq += 1
        if turn.data.get("prompt"):
            self.render_prompt(turn)
        else:
            await self.engine.show_where(turn)

    # ---------------------------------------------------------------- add back

    async def add_back_offer(self, turn: Turn) -> None:
        """Under My skills: offer to add back a skill the member said no to."""
        if await self._declined(turn):
            self.offer(turn, "addback.offer")

    async def _declined(self, turn: Turn) -> list[tuple[str, str]]:
        """The declined skills (id, label), newest first."""
        rows = await turn.session.execute(
            select(MemberSkill.skill_id, MemberSkill.label)
            .where(MemberSkill.member_id == turn.member.id, MemberSkill.status == "declined")
            .order_by(MemberSkill.id.desc())
        )
        return [(str(s), str(label)) for s, label in rows.all()]

    async def add_back(self, turn: Turn, skill_id: str) -> None:
        """The list of declined skills, or one of them confirmed."""
        declined = dict(await self._declined(turn))
        if not skill_id:
            buttons = []
            for sid, label in list(declined.items())[:ADD_BACK_MAX]:
                info = self.content.taxonomy.get(sid)
                emoji = info.emoji if info else "⭐"
                buttons.append(Button(f"go:add_back:{sid}", f"{emoji} {label}"))
            buttons.append(Button("go:add_skill", self.text(turn, "button.something_else")))
            turn.replies.append(
                Reply(
                    key="addback.pick",
                    text=self.text(turn, "addback.pick"),
                    buttons=tuple(buttons),
                    seq=0,
                )
            )
            return
        info = self.content.taxonomy.get(skill_id)
        if skill_id not in declined or info is None:
            self.say(turn, "input.old_button")
            await self.engine.show_where(turn)
            return
        item: PendingItem = {"skill": info.id, "key": "skill.found", "source": "member"}
        await self.engine.confirm.keep(turn, info, "confirmed", item, turn.last_answer_id)
        self.say(turn, "skill.confirmed")
        await self.engine.show_where(turn)

    # ---------------------------------------------------------- stuck -> a person

    def not_understood(self, turn: Turn, key: str) -> None:
        """Say a "sorry, I did not understand" message and count it."""
        turn.not_understood = True
        self.say(turn, key)

    def count_stuck(self, turn: Turn) -> None:
        """After a turn: count not-understood messages in a row, offer a person at two."""
        if not turn.not_understood:
            turn.data.pop("stuck", None)
            return
        count = int(turn.data.get("stuck", 0)) + 1
        turn.data["stuck"] = count
        if count >= STUCK_AFTER:
            self.offer(turn, "stuck.offer")

    def where_text(self, turn: Turn) -> str:
        """What the member was on, in the words they were shown."""
        prompt = turn.data.get("saved_prompt") or turn.data.get("prompt")
        if prompt:
            return self.prompt_text(turn, prompt)
        return f"no question (status {turn.state.status})"

    async def ask_staff(self, turn: Turn, *, typed: bool = False) -> None:
        """Queue one help alert for staff (at most one each half hour), then go on.

        ``typed``: the member typed "ask staff" (else they tapped the offer that
        comes after 2 messages the bot did not understand); staff are told which.
        """
        since = utcnow() - HELP_ALERT_GAP
        recent = await turn.session.execute(
            select(StaffAlert.id).where(
                StaffAlert.member_id == turn.member.id,
                StaffAlert.kind == "help",
                StaffAlert.created_at >= since,
            )
        )
        if recent.first() is not None:
            self.say(turn, "stuck.already")
        else:
            name = turn.member.first_name or "(no name kept)"
            how = (
                "They typed that they would like to ask staff."
                if typed
                else "The bot did not understand them twice, and they tapped the button "
                "to ask for help."
            )
            text = (
                f"{name} (member {turn.member.id}) was on: "
                f"\u201c{self.where_text(turn)}\u201d\n{how}"
            )
            await repo.add_staff_alert(turn.session, "help", turn.member, text)
            self.say(turn, "stuck.asked")
        turn.data.pop("stuck", None)
        await self.engine.show_where(turn)
