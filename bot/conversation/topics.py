"""Topics: each topic's questions in order, the answers to them, going back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.content import Question, Topic
from bot.conversation.context import Turn, Understood
from bot.conversation.prompts import Part
from bot.conversation.state import (
    END_FLOW,
    ONBOARDING_FLOW,
    PendingItem,
    Phase,
    PromptKind,
    PromptLead,
    Status,
    derive_phase,
    prompt_kind,
)
from bot.conversation.tables import MORE_BUTTONS, WISH_BUTTONS, Buttons
from bot.conversation.words import title_matches
from bot.easyread import pictures
from storage import repo

#: Topic buttons on one page of the topic choice, the same every time: with
#: "Something else" and "Stop for now" that makes 5 buttons at most.
TOPIC_PAGE = 3
#: The choice id of a topic button: ``topic:<id>``.
TOPIC_CHOICE = "topic:"

#: Skill statuses the member has already given their word on (not asked again).
SETTLED = ("confirmed", "declined")


def open_skills(
    statuses: dict[str, str], skill_ids: Iterable[str], settled: Iterable[str] = SETTLED
) -> list[str]:
    """The skills the member has not yet given their word on, in order, once each.

    ``settled``: the statuses that close a skill (a skill told in the member's own
    words is closed only by "confirmed": a "no" from before may have changed).
    """
    closed = frozenset(settled)
    return [s for s in dict.fromkeys(skill_ids) if statuses.get(s) not in closed]


def found_skills(u: Understood | None) -> list[str]:
    """The skills the finder noticed in the member's words (not learning wishes)."""
    return [f.skill for f in (u.skills if u else []) if not f.learning_wish]


def back_target(
    history: list[list[str]], current: list[str], phase: Phase
) -> tuple[list[str] | None, list[list[str]]]:
    """Where "back" goes from ``current`` ([topic, question]) and the history after it.

    While confirming a skill, back asks the question again; after a topic, its
    last question; on a question, the one before it in the same topic. ``None``
    when there is nothing to go back to in this topic (history then unchanged).
    """
    trail = list(history)
    if phase == Phase.CONFIRM:
        target: list[str] | None = current
    elif phase == Phase.TOPIC_END:
        target = trail[-1] if trail else None
    else:
        while trail and trail[-1] == current:
            trail.pop()
        target = trail[-1] if trail else None
    if target is None or target[0] != current[0]:
        return None, history
    while trail and trail[-1] == target:
        trail.pop()
    return target, trail


def topic_page(
    remaining: Sequence[str], start: int, size: int = TOPIC_PAGE
) -> tuple[list[str], bool]:
    """The topics on the page from ``start`` (wrapping round), and whether others remain."""
    if len(remaining) <= size:
        return list(remaining), False
    first = start % len(remaining)
    return [remaining[(first + i) % len(remaining)] for i in range(size)], True


class Topics(Part):
    """Asks topic questions and turns answers into skills to confirm or wishes."""

    async def back(self, turn: Turn) -> None:
        """Go back to the question before this one (at the topic choice: its page before)."""
        history: list[list[str]] = list(turn.data.get("history", []))
        state = turn.state
        start = int(turn.data.get("topic_start", 0))
        if (
            prompt_kind(turn.data) == PromptKind.MORE
            and start > 0
            and state.status == Status.ACTIVE
            and not turn.data.get("interrupt")
        ):
            # the topic choice after "Something else": back is the page shown before
            await self.next_topic(turn, max(0, start - TOPIC_PAGE))
            return
        if (
            turn.data.get("interrupt")
            or state.flow_id == ONBOARDING_FLOW
            or state.status != Status.ACTIVE
        ):
            self.say(turn, "back.first")
            await self.engine.show_where(turn)
            return
        current = [state.flow_id, state.step_id]
        target, history = back_target(history, current, derive_phase(state.flow_id, turn.data))
        if target is None:
            self.say(turn, "back.first")
            self.render_prompt(turn)
            return
        turn.data["history"] = history
        topic = self.content.topic(target[0])
        question = topic.question(target[1]) if topic else None
        if topic is None or question is None:
            self.render_prompt(turn)
            return
        turn.data.pop("pending", None)
        self.ask_question(turn, topic, question)

    def remaining(self, turn: Turn) -> list[Topic]:
        """The topics not done yet, in order."""
        done = set(turn.data.get("topics_done", []))
        return [t for t in self.content.topics if t.id not in done]

    async def next_topic(self, turn: Turn, start: int = 0) -> None:
        """Let the member choose the next topic (a page of them), or finish."""
        remaining = self.remaining(turn)
        if not remaining:
            turn.state.flow_id = END_FLOW
            turn.state.step_id = ""
            self.prompt(turn, PromptKind.FINAL_RATING, "confidence.end")
            return
        page, more = topic_page([t.id for t in remaining], start)
        turn.data["topic_start"] = start % len(remaining)
        titles = {t.id: t.title for t in remaining}
        buttons: Buttons = tuple((TOPIC_CHOICE + tid, titles[tid]) for tid in page)
        something_else, stop = MORE_BUTTONS
        if more:
            buttons += (something_else,)
        done = bool(turn.data.get("topics_done"))
        if done:
            buttons += (stop,)
        key = "topic.choose" if done else "topic.choose_first"
        self.prompt(turn, PromptKind.MORE, key, buttons)

    async def start_topic(self, turn: Turn, topic: Topic) -> None:
        """Start a topic the member chose: its intro, then its first question."""
        turn.data.pop("topic_start", None)
        self.say(turn, topic.intro)
        self.ask_question(turn, topic, topic.questions[0])

    def ask_question(self, turn: Turn, topic: Topic, question: Question) -> None:
        """Ask one topic question with the standard buttons."""
        state = turn.state
        state.flow_id = topic.id
        state.step_id = question.id
        history: list[list[str]] = list(turn.data.get("history", []))
        if not history or history[-1] != [topic.id, question.id]:
            history.append([topic.id, question.id])
        turn.data["history"] = history[-100:]
        buttons = WISH_BUTTONS if topic.wishes else None
        emoji = next(iter(pictures(self.text(turn, topic.title))), "")
        lead: PromptLead = {
            "key": "topic.progress",
            "values": {
                "emoji": emoji,
                "number": str(topic.questions.index(question) + 1),
                "count": str(len(topic.questions)),
            },
        }
        self.prompt(turn, PromptKind.QUESTION, question.text, buttons, lead=lead)

    def current_question(self, turn: Turn) -> tuple[Topic, Question] | None:
        """The topic and question the member is on."""
        topic = self.content.topic(turn.state.flow_id)
        question = topic.question(turn.state.step_id) if topic else None
        if topic is None or question is None:
            return None
        return topic, question

    async def advance(self, turn: Turn) -> None:
        """Go to the next question, or close the topic."""
        current = self.current_question(turn)
        turn.data.pop("pending", None)
        if current is None:
            await self.next_topic(turn)
            return
        topic, question = current
        index = topic.questions.index(question)
        if index + 1 < len(topic.questions):
            self.ask_question(turn, topic, topic.questions[index + 1])
            return
        done = list(turn.data.get("topics_done", []))
        if topic.id not in done:
            done.append(topic.id)
        turn.data["topics_done"] = done
        self.say(turn, "topic.done", topic=self.text(turn, topic.title))
        await self.next_topic(turn)

    async def more_choice(self, turn: Turn, choice: str) -> None:
        """The topic choice: a topic, "Something else" (the next page), or a break."""
        topic = self.content.topic(choice.removeprefix(TOPIC_CHOICE))
        if choice.startswith(TOPIC_CHOICE) and topic is not None:
            if topic.id in turn.data.get("topics_done", []):
                self.say(turn, "input.old_button")
                self.render_prompt(turn)
                return
            await self.start_topic(turn, topic)
        elif choice == "more":
            await self.next_topic(turn, int(turn.data.get("topic_start", 0)) + TOPIC_PAGE)
        else:
            await self.engine.sessions.pause(turn, bye="paused")

    async def more_text(self, turn: Turn, u: Understood, mapped: str | None) -> None:
        """Typed words at the topic choice: a topic's title ("food"), or a button's meaning."""
        topic = next(
            (t for t in self.remaining(turn) if title_matches(u.text, self.text(turn, t.title))),
            None,
        )
        if topic is not None:
            await self.start_topic(turn, topic)
        elif mapped is not None:
            await self.more_choice(turn, mapped)
        else:
            self.engine.help.not_understood(turn, "clarify.pick")
            self.render_prompt(turn)

    async def question_choice(self, turn: Turn, choice: str, u: Understood | None) -> None:
        """Yes / A bit / No / I want to learn / Skip for a topic question."""
        current = self.current_question(turn)
        if current is None:
            await self.next_topic(turn)
            return
        topic, question = current
        answer_id = turn.last_answer_id
        if topic.wishes and choice in ("yes", "a_bit", "learn"):
            if question.reflect:
                self.say(turn, question.reflect)
            await self.wish_and_advance(turn, question, u, answer_id)
        elif choice in ("yes", "a_bit"):
            await self.yes(turn, question, u, answer_id)
        elif choice == "no":
            self.say(turn, "answer.no_thanks")
            await self.advance(turn)
        elif choice == "learn":
            await self.wish_and_advance(turn, question, u, answer_id)
        else:
            self.say(turn, "answer.skipped")
            await self.advance(turn)

    async def yes(
        self, turn: Turn, question: Question, u: Understood | None, answer_id: int | None
    ) -> None:
        """Yes or A bit: reflect, then ask about the question's skills and any found."""
        statuses = await repo.skill_statuses(turn.session, turn.member.id)
        pending = open_skills(statuses, question.skills)
        extra = [s for s in open_skills(statuses, found_skills(u)) if s not in pending]
        items: list[PendingItem] = [
            {
                "skill": s,
                "key": "skill.is_that_right" if i == 0 and question.reflect else "skill.also",
                "source": "question",
            }
            for i, s in enumerate(pending)
        ]
        items += [
            {"skill": s, "key": "skill.also" if items else "skill.found", "source": "finder"}
            for s in extra
        ]
        if not items:
            self.say(turn, "answer.thanks_text")
            await self.advance(turn)
            return
        if question.reflect and pending and pending[0] == question.skills[0]:
            self.say(turn, question.reflect)
        elif items[0]["key"] == "skill.is_that_right":
            items[0]["key"] = "skill.found"
        await self.engine.confirm.propose(turn, items, answer_id, together=True)

    async def wish_and_advance(
        self, turn: Turn, question: Question | None, u: Understood | None, answer_id: int | None
    ) -> None:
        """Keep a learning wish, say it is kept, and go to the next question."""
        await self.learning_wish(turn, question, u, answer_id)
        self.say(turn, "learn.saved")
        await self.advance(turn)

    async def learning_wish(
        self, turn: Turn, question: Question | None, u: Understood | None, answer_id: int | None
    ) -> None:
        """Keep what the member would like to learn: from their words or the question."""
        wishes = [f for f in (u.skills if u else []) if f.learning_wish]
        if wishes:
            for found in wishes:
                await repo.add_wish(
                    turn.session,
                    turn.member.id,
                    label=found.label,
                    skill_id=found.skill,
                    answer_id=answer_id,
                )
            return
        entity = None
        if u and u.nlu:
            entity = next((e.value for e in u.nlu.entities if e.entity == "activity"), None)
        first = question.skills[0] if question and question.skills else ""
        info = self.content.taxonomy.get(first) if first else None
        if entity:
            label, skill_id = entity, None
        elif info is not None:
            label, skill_id = info.label, info.id
        elif u and u.text:
            label, skill_id = u.text, None
        else:
            return
        await repo.add_wish(
            turn.session, turn.member.id, label=label, skill_id=skill_id, answer_id=answer_id
        )

    async def question_text(
        self,
        turn: Turn,
        u: Understood,
        intent: str | None,
        mapped: str | None,
        answer_id: int | None,
    ) -> None:
        """Free text answering a topic question."""
        if mapped in ("no", "skip"):
            await self.question_choice(turn, mapped, u)
            return
        current = self.current_question(turn)
        if mapped == "learn" or any(f.learning_wish for f in u.skills):
            await self.wish_and_advance(turn, current[1] if current else None, u, answer_id)
            return
        if mapped == "yes":
            await self.question_choice(turn, "yes", u)
            return
        statuses = await repo.skill_statuses(turn.session, turn.member.id)
        found = open_skills(statuses, found_skills(u))
        if found:
            items: list[PendingItem] = [
                {"skill": s, "key": "skill.found" if i == 0 else "skill.also", "source": "finder"}
                for i, s in enumerate(found)
            ]
            await self.engine.confirm.propose(turn, items, answer_id)
            return
        if intent == "tell_activity" or u.skills:
            self.say(turn, "answer.thanks_text")
            await self.advance(turn)
            return
        if intent in ("stop", "goodbye"):
            await self.engine.sessions.pause(turn, bye="paused")
            return
        self.engine.help.not_understood(turn, "clarify.pick")
        self.render_prompt(turn)
