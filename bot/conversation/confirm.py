"""Skill confirmation: "Is that right?" for each skill an answer suggested."""

from __future__ import annotations

from bot.conversation.context import Turn
from bot.conversation.prompts import Part
from bot.conversation.state import PendingItem, PromptKind
from bot.conversation.words import skills_words
from bot.types import SkillInfo
from storage import repo

#: What each confirmation button keeps, and what is said after it.
CONFIRM_STATUS = {"skill_yes": "confirmed", "skill_no": "declined", "skill_unsure": "unsure"}
STATUS_SAID = {"confirmed": "skill.confirmed", "declined": "skill.declined"}
#: "Yes" or "No" to several skills at once: what each keeps, and what is said after it.
SEVERAL_STATUS = {
    "several_yes": ("confirmed", "skill.several_confirmed"),
    "several_no": ("declined", "skill.several_declined"),
}


class Confirm(Part):
    """Keeps suggested skills and asks about them one at a time."""

    async def propose(
        self, turn: Turn, items: list[PendingItem], answer_id: int | None, *, together: bool = False
    ) -> None:
        """Start asking the member to confirm each proposed skill in turn.

        ``together``: 2 skills or more are first asked about in one prompt.
        """
        for item in items:
            info = self.content.taxonomy.get(item["skill"])
            if info is not None:
                await self.keep(turn, info, "suggested", item, answer_id)
        turn.data["pending"] = [i for i in items if self.content.taxonomy.get(i["skill"])]
        turn.data["pending_answer"] = answer_id
        labels = [self.content.taxonomy.skills[i["skill"]].label for i in turn.data["pending"]]
        if together and len(labels) >= 2:
            self.prompt(
                turn, PromptKind.CONFIRM_SEVERAL, "skill.several", skills=skills_words(labels)
            )
            return
        await self.ask_pending(turn)

    async def several_choice(self, turn: Turn, choice: str) -> None:
        """Yes (all of them), No (none of them) or Only some (ask each one in turn)."""
        pending = list(turn.data.get("pending", []))
        if choice in SEVERAL_STATUS:
            status, said = SEVERAL_STATUS[choice]
            for item in pending:
                info = self.content.taxonomy.get(item["skill"])
                if info is not None:
                    await self.keep(turn, info, status, item, turn.data.get("pending_answer"))
            turn.data["pending"] = []
            self.say(turn, said)
        elif choice == "skip":
            turn.data["pending"] = []
            self.say(turn, "answer.skipped")
        else:
            turn.data["pending"] = [
                {
                    "skill": item["skill"],
                    "key": "skill.found" if i == 0 else "skill.also",
                    "source": item["source"],
                }
                for i, item in enumerate(pending)
            ]
        await self.ask_pending(turn)

    async def keep(
        self, turn: Turn, info: SkillInfo, status: str, item: PendingItem, answer_id: int | None
    ) -> None:
        """Keep a skill with its status, once the member has consented."""
        if not turn.consented:
            return
        await repo.set_skill(
            turn.session,
            turn.member.id,
            skill_id=info.id,
            category=info.category,
            label=info.label,
            status=status,
            source=item["source"],
            evidence_answer_id=answer_id,
        )

    async def ask_pending(self, turn: Turn) -> None:
        """Ask about the next pending skill, or move on when none is left."""
        pending = list(turn.data.get("pending", []))
        if not pending:
            turn.data.pop("pending_answer", None)
            if "own_return" in turn.data:  # skills in the member's own words: go back
                await self.engine.help.back_from_own(turn)
                return
            await self.engine.topics.advance(turn)
            return
        item = pending[0]
        info = self.content.taxonomy.get(item["skill"])
        if info is None:
            turn.data["pending"] = pending[1:]
            await self.ask_pending(turn)
            return
        self.prompt(turn, PromptKind.CONFIRM, item["key"], label=info.label, emoji=info.emoji)

    async def choice(self, turn: Turn, choice: str) -> None:
        """The member's word on one proposed skill: all answers are kept."""
        pending = list(turn.data.get("pending", []))
        if not pending:
            await self.engine.topics.advance(turn)
            return
        item = pending.pop(0)
        turn.data["pending"] = pending
        info = self.content.taxonomy.get(item["skill"])
        if choice == "skip":
            self.say(turn, "answer.skipped")
            await self.ask_pending(turn)
            return
        status = CONFIRM_STATUS.get(choice, "unsure")
        if info is not None:
            await self.keep(turn, info, status, item, turn.data.get("pending_answer"))
        self.say(turn, STATUS_SAID.get(status, "skill.unsure"))
        await self.ask_pending(turn)
