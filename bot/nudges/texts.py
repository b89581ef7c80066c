"""Nudge messages built from message keys in ``dialogues/`` (no prose in code).

The staff-written parts of an opportunity (title, description, when, where,
contact) are checked for easy-read when staff add them; here they are only
placed into the member's messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.types import HEAR_SHOWN, Button, Reply

#: Looks a message up by key with placeholders filled (the engine's or the content's).
TextFn = Callable[..., str]

PREFIX = "nudge:"
#: Answer codes in button data: ``nudge:<nudge id>:<code>``.
ANSWERS = {"y": "yes", "l": "not_now", "n": "no"}
OPPORTUNITY_BUTTONS = (
    ("y", "button.nudge_yes"),
    ("l", "button.nudge_later"),
    ("n", "button.nudge_no"),
)
PEER_BUTTONS = (
    ("y", "button.peer_yes"),
    ("l", "button.nudge_later"),
    ("n", "button.nudge_no"),
)
#: Every message key this package uses (checked by the tests against dialogues/).
NUDGE_KEYS: tuple[str, ...] = (
    "button.hear",
    "nudge.hello",
    "nudge.title",
    "nudge.ask",
    "nudge.first",
    "nudge.yes",
    "nudge.when",
    "nudge.where",
    "nudge.contact",
    "nudge.later",
    "nudge.no",
    "nudge.already",
    "nudge.gone",
    "peer.teach",
    "peer.learn",
    "peer.ask",
    "peer.yes",
    "peer.no",
    "nudges.on_now",
    "nudges.off_now",
    "nudges.days",
    "nudges.time",
    "nudges.menu",
    "nudges.turned_on",
    "nudges.turned_off",
    "nudges.kept",
    "nudges.how_many",
    "nudges.pick_day",
    "nudges.pick_another",
    "nudges.pick_time",
    "nudges.saved",
    "nudges.need_start",
    "button.nudge_yes",
    "button.nudge_later",
    "button.nudge_no",
    "button.peer_yes",
    "button.nudges_on",
    "button.nudges_off",
    "button.nudges_days",
    "button.nudges_time",
    "button.nudges_fine",
    "button.days_1",
    "button.days_2",
    *(f"button.day_{d}" for d in range(7)),
    "button.time_600",
    "button.time_660",
    "button.time_840",
    "button.time_960",
)


@dataclass(frozen=True)
class OpportunityText:
    """The staff-written parts of an opportunity."""

    title: str
    description: str
    emoji: str
    when: str
    where: str
    contact: str


def answer_data(nudge_id: int, code: str) -> str:
    """Button data for an answer to one nudge: ``nudge:<id>:<code>``."""
    return f"{PREFIX}{nudge_id}:{code}"


def parse_answer(choice: str) -> tuple[int, str] | None:
    """``(nudge id, answer)`` from button data, or ``None`` when it is not an answer."""
    body = choice.removeprefix(PREFIX)
    head, _, code = body.partition(":")
    if not head.isdigit() or code not in ANSWERS or len(head) > 18:
        return None
    return int(head), ANSWERS[code]


def join(*parts: str) -> str:
    """Paragraphs of one message (empty ones left out)."""
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def opportunity_reply(
    text: TextFn, nudge_id: int, opp: OpportunityText, *, first: bool = False
) -> Reply:
    """The nudge message about an opportunity, with its three answer buttons."""
    body = join(
        text("nudge.hello"),
        text("nudge.title", emoji=opp.emoji, label=opp.title),
        opp.description,
        text("nudge.first") if first else "",
        text("nudge.ask"),
    )
    buttons = tuple(Button(answer_data(nudge_id, c), text(k)) for c, k in OPPORTUNITY_BUTTONS)
    return Reply(key="nudge.offer", text=body, buttons=(*buttons, _hear(text)), seq=0)


def peer_reply(text: TextFn, nudge_id: int, *, teach: bool, label: str, emoji: str) -> Reply:
    """The question asking a member whether they would like to meet for a skill swap."""
    body = join(
        text("peer.teach" if teach else "peer.learn", label=label, emoji=emoji),
        text("peer.ask"),
    )
    buttons = tuple(Button(answer_data(nudge_id, c), text(k)) for c, k in PEER_BUTTONS)
    return Reply(key="peer.offer", text=body, buttons=(*buttons, _hear(text)), seq=0)


def _hear(text: TextFn) -> Button:
    """ "🔊 Hear it" under a nudge: the channel reads the message it is tapped under."""
    return Button(HEAR_SHOWN, text("button.hear"))


def details_text(text: TextFn, opp: OpportunityText) -> str:
    """What "Yes, tell me more" brings: the description, when, where and who to talk to."""
    return join(
        text("nudge.yes"),
        text("nudge.title", emoji=opp.emoji, label=opp.title),
        opp.description,
        text("nudge.when", label=opp.when) if opp.when else "",
        text("nudge.where", label=opp.where) if opp.where else "",
        text("nudge.contact", staff=opp.contact),
    )
