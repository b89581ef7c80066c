"""Saying things and asking things: the helpers every part of the conversation uses.

:class:`Prompts` renders messages in the member's language, asks a prompt (a
message with buttons, kept in the state so it can be shown again), starts and
ends interrupts, and keeps answers once the member has consented.
:class:`Part` is the base of each piece of the conversation (onboarding,
topics, ...): the same helpers plus the engine, to reach the other pieces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.content import Content
from bot.conversation.context import Turn
from bot.conversation.state import (
    Interrupt,
    Phase,
    PromptData,
    PromptKind,
    PromptLead,
    derive_phase,
)
from bot.conversation.tables import INTERRUPTS, OFFERS, PROMPTS, Buttons
from bot.conversation.words import plain_words
from bot.easyread import without_picture
from bot.settings import Settings
from bot.types import HEAR, Button, Reply, hear_offer
from storage import repo

if TYPE_CHECKING:
    from bot.conversation.engine import Engine

#: Messages with the member's name, and what is said instead before they told it
#: (a /start or /myskills while onboarding asks for the name).
NAMELESS: dict[str, str] = {
    key: f"{key}_no_name" for key in ("resume.welcome_back", "myskills.title")
}


def period_words(months: int) -> str:
    """A number of months as said to a member: "2 years", "1 year", "18 months"."""
    if months > 0 and months % 12 == 0:
        years = months // 12
        return "1 year" if years == 1 else f"{years} years"
    return "1 month" if months == 1 else f"{months} months"


class Prompts:
    """Messages, prompts, interrupts and stored answers for one engine."""

    def __init__(self, content: Content, settings: Settings) -> None:
        """Use these dialogues and settings."""
        self.content = content
        self.settings = settings
        #: how long typed words are kept (the consent says it; bot/jobs.py deletes by it)
        self.kept_for = period_words(settings.retention_months)

    def text(self, turn: Turn, key: str, **values: str) -> str:
        """A message in the member's language with placeholders filled.

        Before the member has told their name, a message that has a ``_no_name``
        form (:data:`NAMELESS`) is said in that form, not with a gap for the name.
        """
        values.setdefault("name", turn.member.first_name or turn.data.get("name", ""))
        values.setdefault("staff", self.settings.staff_contact)
        values.setdefault("kept_for", self.kept_for)
        if not values["name"] and key in NAMELESS:
            key = NAMELESS[key]
        return self.content.text(key, turn.lang, **values)

    def say(self, turn: Turn, key: str, **values: str) -> None:
        """Add a message (an end point or an offer, :data:`OFFERS`, carries its buttons)."""
        if key in OFFERS:
            turn.replies.append(self.offer_reply(turn, key))
            return
        turn.replies.append(Reply(key=key, text=self.text(turn, key, **values)))
        turn.said.append({"key": key, "values": values})

    def offer_reply(self, turn: Turn, key: str, *, heard: bool = False) -> Reply:
        """A message with buttons that is not a question (:data:`OFFERS`), and Hear it.

        ``heard``: the same message as a voice note only (its "Hear it" was tapped).
        """
        buttons = [Button(c, self.text(turn, label)) for c, label in OFFERS[key]]
        buttons.append(Button(hear_offer(key), self.text(turn, "button.hear")))
        return Reply(
            key=key,
            text=self.text(turn, key),
            buttons=tuple(buttons),
            seq=0,
            voice=heard,
            voice_only=heard,
        )

    def prompt(
        self,
        turn: Turn,
        kind: PromptKind,
        key: str,
        buttons: Buttons | None = None,
        *,
        lead: PromptLead | None = None,
        **values: str,
    ) -> None:
        """Ask something with buttons; a new prompt number makes older buttons stale.

        The buttons are the prompt kind's own (:data:`PROMPTS`) unless given.
        A ``lead`` is a first line of the same message ("🍳 Question 2 of 7").
        """
        if buttons is None:
            buttons = PROMPTS[kind].buttons
        turn.state.seq += 1
        prompt: PromptData = {
            "kind": kind,
            "key": key,
            "values": values,
            "buttons": [list(b) for b in buttons],
        }
        if lead is not None:
            prompt["lead"] = lead
        if turn.said:
            prompt["before"] = list(turn.said)
        turn.data["prompt"] = prompt
        self.render_prompt(turn)

    def render_prompt(self, turn: Turn) -> None:
        """Show the current prompt again (same number, so its buttons still work)."""
        prompt = turn.data.get("prompt")
        if prompt:
            turn.replies.append(self.prompt_reply(turn, prompt))

    def prompt_reply(self, turn: Turn, prompt: PromptData, *, heard: bool = False) -> Reply:
        """A prompt as a message; every prompt with buttons can be heard (read aloud or not).

        ``heard``: the same prompt as a voice note only: first the messages said
        with it when it was asked (what it is about), then it, then its buttons.
        """
        buttons = tuple(Button(c, self.text(turn, label)) for c, label in prompt["buttons"])
        if buttons:
            buttons = (*buttons, Button(HEAR, self.text(turn, "button.hear")))
        before = prompt.get("before", []) if heard else []
        return Reply(
            key=prompt["key"],
            text=self.prompt_text(turn, prompt),
            buttons=buttons,
            seq=turn.state.seq,
            voice=heard,
            voice_only=heard,
            read_first=tuple((b["key"], self.text(turn, b["key"], **b["values"])) for b in before),
        )

    def prompt_text(self, turn: Turn, prompt: PromptData) -> str:
        """A prompt's words as shown: its progress line first, when it has one."""
        text = self.text(turn, prompt["key"], **prompt.get("values", {}))
        lead = prompt.get("lead")
        if lead:
            # One message, one picture: the lead's picture stands for the text's.
            text = self.text(turn, lead["key"], **lead["values"]) + "\n" + without_picture(text)
        return text

    def hear(self, turn: Turn) -> bool:
        """The current prompt's words as a voice note only; nothing else changes."""
        prompt = turn.data.get("prompt")
        if not prompt:
            return False
        turn.replies.append(self.prompt_reply(turn, prompt, heard=True))
        return True

    def question_id(self, turn: Turn) -> str:
        """The id stored with an answer: where the member is now."""
        interrupt = turn.data.get("interrupt")
        if interrupt:
            return f"{interrupt}"
        state = turn.state
        if derive_phase(state.flow_id, turn.data) == Phase.CONFIRM:
            return f"{state.flow_id}.{state.step_id}.confirm"
        if state.step_id:
            return f"{state.flow_id}.{state.step_id}"
        return state.flow_id

    def label_choice(self, turn: Turn, words: str) -> str | None:
        """The button whose label the member typed, if any (emoji and case ignored)."""
        prompt = turn.data.get("prompt")
        if not prompt or not words:
            return None
        for choice, label_key in prompt["buttons"]:
            if plain_words(self.text(turn, label_key)) == words:
                return str(choice)
        return None

    async def store(
        self,
        turn: Turn,
        kind: str,
        text: str,
        *,
        choice: str | None = None,
        intent: str | None = None,
        question_id: str | None = None,
    ) -> int | None:
        """Keep an answer verbatim, but only once the member has consented."""
        if not turn.consented:
            return None
        answer_id = await repo.add_answer(
            turn.session,
            turn.member.id,
            question_id or self.question_id(turn),
            kind,
            text,
            choice=choice,
            intent=intent,
            max_chars=self.settings.max_text_chars,
        )
        turn.last_answer_id = answer_id
        return answer_id

    def interrupt(self, turn: Turn, kind: Interrupt) -> None:
        """Ask something in between; the member returns to where they were after it."""
        if not turn.data.get("interrupt"):
            turn.data["saved_prompt"] = turn.data.get("prompt")
        turn.data["interrupt"] = kind
        spec = INTERRUPTS[kind]
        buttons = spec.buttons_for(turn) if spec.buttons_for is not None else spec.buttons
        self.prompt(turn, PromptKind.INTERRUPT, spec.key, buttons)

    def finish_interrupt(self, turn: Turn, *, show: bool) -> None:
        """Leave an interrupt and, when asked, show the member's question again."""
        if not turn.data.get("interrupt"):
            return
        turn.data.pop("interrupt", None)
        turn.data["prompt"] = turn.data.pop("saved_prompt", None)
        turn.state.seq += 1
        if show:
            self.render_prompt(turn)


class Part(Prompts):
    """One piece of the conversation; reaches the other pieces through the engine."""

    def __init__(self, engine: Engine) -> None:
        """Belong to this engine."""
        super().__init__(engine.content, engine.settings)
        self.engine = engine
