"""The conversation state, typed: what ``conversation_states`` holds for one member.

The columns ``status``, ``flow_id``, ``step_id`` and ``seq`` and the JSON bag
``data`` are stored as before (same JSON, no data migration). Here they get
names mypy can check: :class:`Status`, :class:`PromptKind`, :class:`Interrupt`
and :class:`StateData`. The old ``phase`` column is derived from the waiting
prompt (:func:`derive_phase`) and still written, so older readers keep working.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypedDict, cast


class Status(StrEnum):
    """Where the member is overall."""

    NEW = "new"
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"
    NO_CONSENT = "no_consent"


#: Statuses before the member has said yes (no data rights, no extensions).
NOT_STARTED = (Status.NEW, Status.NO_CONSENT)
#: ``flow_id`` while the member is in onboarding, and after the last topic.
ONBOARDING_FLOW = "onboarding"
END_FLOW = "end"


class PromptKind(StrEnum):
    """The kind of question waiting for an answer (``data["prompt"]["kind"]``)."""

    CONSENT = "consent"
    OK = "ok"
    CONFIDENCE = "confidence"
    QUESTION = "question"
    CONFIRM = "confirm"
    #: Several skills at once: Yes / Only some / No.
    CONFIRM_SEVERAL = "confirm_several"
    #: The topic choice (after onboarding and at a topic's end).
    MORE = "more"
    FINAL_RATING = "final_rating"
    INTERRUPT = "interrupt"


class Interrupt(StrEnum):
    """A question asked in between; the member goes back to where they were after it."""

    SAFETY = "safety"
    CONFIDENCE_START = "confidence_start"
    CONFIDENCE_END = "confidence_end"
    STOP_MENU = "stop_menu"
    FORGET_CONFIRM = "forget_confirm"
    SETTINGS = "settings"


class Phase(StrEnum):
    """The old ``phase`` column, derived from the waiting prompt (:func:`derive_phase`)."""

    STEP = "step"  # onboarding
    QUESTION = "question"
    CONFIRM = "confirm"
    TOPIC_END = "topic_end"
    FINAL_RATING = "final_rating"


#: Interrupts that ask "how do you feel" (a session rating).
RATING_INTERRUPTS = (Interrupt.CONFIDENCE_START, Interrupt.CONFIDENCE_END)


class PromptData(TypedDict, total=False):
    """The prompt waiting for an answer, enough to show it again."""

    kind: PromptKind
    key: str
    values: dict[str, str]
    buttons: list[list[str]]  # [choice, label key]
    lead: PromptLead  # a first line said before the text (a question's progress)
    before: list[PromptLead]  # the messages said with it when it was asked (read by Hear it)


class PromptLead(TypedDict):
    """A first line of a prompt: a message key and its values."""

    key: str
    values: dict[str, str]


class PendingItem(TypedDict):
    """A skill waiting for the member's "yes, that is me"."""

    skill: str
    key: str  # the message key that asks
    source: str  # "question" or "finder"


class StateData(TypedDict, total=False):
    """Every key of ``conversation_states.data``."""

    prompt: PromptData | None
    saved_prompt: PromptData | None  # the prompt an interrupt returns to
    interrupt: Interrupt
    name: str  # the first name typed before consent
    history: list[list[str]]  # [topic id, question id], oldest first
    topics_done: list[str]
    topic_start: int  # the first topic of the topic choice's page (among those not done)
    pending: list[PendingItem]
    pending_answer: int | None  # the answer the pending skills came from
    after_rating: str  # the goodbye message key after an end-of-session rating
    rated_at_break: str  # when (ISO) the member was asked how they feel as a break began
    own_wait: bool  # the next words typed are a skill in the member's own words
    own_return: PromptData | None  # the prompt to go back to after confirming own skills
    stuck: int  # messages in a row the bot did not understand
    preferences: dict[str, bool]  # choices made before consent (bot.conversation.preferences)


def load_data(raw: dict[str, Any] | None) -> StateData:
    """The stored JSON as :class:`StateData` (a copy; unknown keys are kept).

    Prompt kinds and the interrupt become their enums (they are stored as their
    string values, so the JSON is unchanged). A value no release knows any more
    is dropped: the member is then shown where they are, as after a restart.
    """
    data = cast(StateData, dict(raw or {}))
    if "prompt" in data:
        data["prompt"] = _typed_prompt(data["prompt"])
    if "saved_prompt" in data:
        data["saved_prompt"] = _typed_prompt(data["saved_prompt"])
    if "own_return" in data:
        data["own_return"] = _typed_prompt(data["own_return"])
    if "interrupt" in data:
        try:
            data["interrupt"] = Interrupt(data["interrupt"])
        except ValueError:
            del data["interrupt"]
    return data


def _typed_prompt(stored: PromptData | None) -> PromptData | None:
    """A stored prompt with its kind as :class:`PromptKind` (``None`` if the kind is unknown)."""
    if not stored:
        return None
    try:
        return {**stored, "kind": PromptKind(stored.get("kind", ""))}
    except ValueError:
        return None


def prompt_kind(data: StateData) -> PromptKind | None:
    """The kind of the prompt waiting for an answer."""
    prompt = data.get("prompt")
    return prompt["kind"] if prompt else None


def interrupt_of(data: StateData) -> Interrupt | None:
    """The interrupt the member is in, if any."""
    return data.get("interrupt") or None


def prompt_choices(data: StateData) -> list[str]:
    """The button ids of the waiting prompt."""
    prompt = data.get("prompt")
    return [str(c) for c, _ in prompt.get("buttons", [])] if prompt else []


def derive_phase(flow_id: str, data: StateData) -> Phase:
    """The old ``phase`` column, from the prompt the member returns to."""
    prompt = data.get("saved_prompt") if data.get("interrupt") else data.get("prompt")
    kind = prompt.get("kind") if prompt else None
    if kind in (PromptKind.CONFIRM, PromptKind.CONFIRM_SEVERAL):
        return Phase.CONFIRM
    if kind == PromptKind.MORE:
        return Phase.TOPIC_END
    if kind == PromptKind.QUESTION:
        return Phase.QUESTION
    if kind == PromptKind.FINAL_RATING or flow_id == END_FLOW:
        return Phase.FINAL_RATING
    return Phase.STEP


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite hands back naive UTC times)."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment
