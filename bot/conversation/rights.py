"""Member rights: "my data" (a file and a page), "forget me", and "my skills"."""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.conversation.context import Turn
from bot.conversation.prompts import Part
from bot.conversation.state import Interrupt
from bot.types import Button, Reply
from storage import repo

log = logging.getLogger(__name__)


class Rights(Part):
    """What is kept about a member: shown to them, or erased when they ask."""

    async def ask_forget(self, turn: Turn) -> None:
        """Ask the member to confirm that everything should be deleted."""
        if not turn.consented:
            self.say(turn, "forget.nothing")
            await self.engine.show_where(turn)
            return
        self.interrupt(turn, Interrupt.FORGET_CONFIRM)

    async def forget(self, turn: Turn) -> None:
        """Erase everything about the member; staff are told; a tombstone stays."""
        member_id = await repo.erase_member(turn.session, turn.member, asked_by="member")
        log.info("member %s erased their data", member_id)
        turn.erased = True
        turn.data = {}
        self.say(turn, "forget.done")

    async def forget_choice(self, turn: Turn, choice: str) -> None:
        """Yes, delete everything; or keep it and go back to where the member was."""
        if choice == "forget_yes":
            await self.forget(turn)
            return
        self.say(turn, "forget.kept")
        self.finish_interrupt(turn, show=True)
        if not turn.data.get("prompt"):
            await self.engine.show_where(turn)

    async def my_data(self, turn: Turn) -> None:
        """Show the member what is kept about them, in easy-read and as a file."""
        if not turn.consented:
            self.say(turn, "mydata.none")
            return
        data = await repo.member_data(turn.session, turn.member)
        for extension in self.engine.extensions:
            # An extension that keeps member data of its own adds it to the file.
            data.update(await extension.member_data(turn.session, turn.member.id))
        lines = [
            self.text(turn, "mydata.title"),
            self.text(turn, "mydata.answers", count=str(len(data["answers"]))),
            self.text(turn, "mydata.skills", count=str(len(data["skills"]))),
            self.text(turn, "mydata.wishes", count=str(len(data["learning_wishes"]))),
            self.text(turn, "mydata.ratings", count=str(len(data["confidence_ratings"]))),
            self.text(turn, "mydata.file"),
        ]
        content = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
        turn.replies.append(
            Reply(
                key="mydata", text="\n".join(lines), document=("my-skillspark-data.json", content)
            )
        )
        self.my_data_page(turn, data)

    def my_data_page(self, turn: Turn, data: dict[str, Any]) -> None:
        """The same data as an easy-read PDF page, made after the transaction in a thread."""
        from bot.mydata_pdf import member_data_pdf, question_texts

        content, lang = self.content, turn.lang
        questions = question_texts(content.topics)

        def text(key: str, **values: str) -> str:
            return content.text(key, lang, **values) if content.has(key, lang) else ""

        turn.drawings.append((len(turn.replies), lambda: member_data_pdf(data, text, questions)))
        caption = self.text(turn, "mydata_pdf.file")
        turn.replies.append(
            Reply(key="mydata_pdf", text=caption, document=("my-skillspark-data.pdf", b""))
        )

    async def my_skills(self, turn: Turn) -> None:
        """Show confirmed skills by category, learning wishes, and a picture card."""
        profile = await repo.load_profile(turn.session, turn.member)
        lines = [self.text(turn, "myskills.title")]
        if not profile.skills:
            lines.append(self.text(turn, "myskills.none"))
        by_category: dict[str, list[tuple[str, str]]] = {}
        for skill_id, category, label in profile.skills:
            by_category.setdefault(category, []).append((skill_id, label))
        for category, skills in by_category.items():
            cat_label, cat_emoji = self.content.taxonomy.categories.get(category, (category, "⭐"))
            lines.append("")
            lines.append(self.text(turn, "myskills.category", category=cat_label, emoji=cat_emoji))
            for skill_id, label in skills:
                if label == cat_label and len(skills) == 1:
                    continue  # the heading already says it
                info = self.content.taxonomy.get(skill_id)
                lines.append(
                    self.text(
                        turn, "myskills.skill", label=label, emoji=info.emoji if info else "⭐"
                    )
                )
        if profile.wishes:
            lines.append("")
            lines.append(self.text(turn, "myskills.wishes_title"))
            for _, label in profile.wishes:
                lines.append(self.text(turn, "myskills.wish", label=label))
        buttons = tuple(
            Button(choice, self.text(turn, label))
            for extension in self.engine.extensions
            for choice, label in extension.profile_buttons(len(profile.skills))
        )
        renderer = self.engine.card_renderer
        if renderer is not None and profile.skills:
            name = profile.first_name or str(turn.data.get("name", ""))
            card_skills = list(profile.skills)
            card_wishes = [label for _, label in profile.wishes]
            turn.drawings.append(  # drawn after the transaction, off the event loop
                (len(turn.replies), lambda: renderer(name, card_skills, card_wishes))
            )
        turn.replies.append(Reply(key="myskills", text="\n".join(lines), buttons=buttons, seq=0))
        await self.engine.help.add_back_offer(turn)
