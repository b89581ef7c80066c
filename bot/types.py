"""Shared value types: the contract between channels, engine, NLU and skill finder.

Nothing here imports a channel library (``telegram``) or the database. Channels
translate their updates into :class:`Incoming`, hand them to
``Engine.handle(member, incoming)`` and render the :class:`Reply` list they get
back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Channel = Literal["telegram", "local"]
IncomingKind = Literal["text", "button", "command", "unsupported"]

#: Commands every channel may pass as ``Incoming(kind="command", value=...)``.
COMMANDS: tuple[str, ...] = (
    "start",
    "help",
    "myskills",
    "pause",
    "resume",
    "stop",
    "repeat",
    "back",
    "skip",
    "mydata",
    "forget",
    "whatnext",
    "addskill",
    "askstaff",
    "settings",
    "hear",
    "read_on",
    "read_off",
    "pictures_fewer",
    "pictures_more",
)

#: The choice id of the "🔊 Hear it" button every prompt with buttons has (read the
#: prompt aloud; not an answer). Channels show it on a row of its own, last.
HEAR = "hear"


def hear_offer(key: str) -> str:
    """The choice of "🔊 Hear it" under message ``key`` when it is not a question."""
    return f"go:{HEAR}:{key}"


#: "🔊 Hear it" under a message the engine composed (my skills, a menu of days): the
#: channel reads the message the member tapped it under (the engine cannot show it again).
HEAR_SHOWN = hear_offer("shown")


def is_hear(choice: str) -> bool:
    """True for a "🔊 Hear it" button: a question's (``hear``) or an offer's (``go:hear:<key>``)."""
    return choice == HEAR or choice.startswith(hear_offer(""))


@dataclass(frozen=True)
class MemberKey:
    """Who is talking: a channel plus that channel's id for the person."""

    channel: Channel
    external_id: str
    #: A display name offered by the channel (Telegram first name); never trusted
    #: as the member's chosen name, only used as a suggestion.
    name_hint: str | None = None


@dataclass(frozen=True)
class Incoming:
    """One thing the member did: typed text, pressed a button, sent a command.

    ``kind="button"``: ``value`` is the button's ``choice`` id and ``seq`` the
    prompt sequence number the button belonged to (``None`` means "the current
    prompt"). A button with an old ``seq`` is a tap on a finished question.
    ``kind="unsupported"``: ``value`` names what arrived (``sticker``, ``photo``,
    ``voice``, ...).
    """

    kind: IncomingKind
    value: str
    seq: int | None = None


@dataclass(frozen=True)
class Button:
    """A reply button: a stable ``choice`` id and the label shown (emoji + words)."""

    choice: str
    label: str


@dataclass(frozen=True)
class Reply:
    """One message from the bot.

    ``key`` is the message key in ``dialogues/`` (tests and stories assert on
    keys, not prose). ``seq`` is the prompt sequence number the buttons belong
    to; channels put it into callback data so an old tap can be recognised.
    ``voice`` asks the channel to also send the text read aloud (a voice note;
    emoji are not read out). The engine decides when; the channel makes the audio.
    ``voice_only`` (with ``voice``): the text is already on screen (a "Hear it"
    tap), so send only the voice note; a channel that cannot make audio sends
    the text instead. ``read_first``: the (key, text) of the turn's earlier
    messages, read in the same voice note before this one's text, so a member
    who listens gets one note a turn.
    """

    key: str
    text: str
    buttons: tuple[Button, ...] = ()
    seq: int | None = None
    image_png: bytes | None = None
    document: tuple[str, bytes] | None = None  # (file name, content)
    voice: bool = False
    voice_only: bool = False
    read_first: tuple[tuple[str, str], ...] = ()

    def spoken(self) -> str:
        """The words its voice note reads: the earlier messages first, then its own."""
        return "\n".join([*(text for _, text in self.read_first), self.text])


# --------------------------------------------------------------------------- NLU

#: Intent names (fixed; other parts rely on them).
INTENTS: tuple[str, ...] = (
    "greet",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "unsure",
    "skip",
    "stop",
    "help",
    "tell_activity",
    "want_to_learn",
    "distress",
    "bot_challenge",
    "nlu_fallback",
)


@dataclass(frozen=True)
class Entity:
    """An entity found in the text (``activity`` is the one the project uses)."""

    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class NluResult:
    """What the NLU understood from one message."""

    intent: str
    confidence: float
    entities: tuple[Entity, ...] = ()
    #: ``rasa`` when the Rasa server answered, ``rules`` for the fallback.
    source: Literal["rasa", "rules"] = "rules"


class Understanding(Protocol):
    """Anything that turns member text into an intent (Rasa client, rules)."""

    async def parse(self, text: str) -> NluResult:
        """Understand one member message; never raises for bad input."""
        ...


# ------------------------------------------------------------------- skill finder

#: The 19 fixed skill category ids (exports and other parts rely on them).
CATEGORIES: tuple[str, ...] = (
    "cooking",
    "caring",
    "listening",
    "animals",
    "gardening",
    "housework",
    "fixing",
    "arts",
    "music",
    "sport",
    "technology",
    "organising",
    "money",
    "travel",
    "teaching",
    "humour",
    "reading_writing",
    "languages",
    "community",
)


@dataclass(frozen=True)
class FoundSkill:
    """A skill the finder noticed in a member's words."""

    skill: str  # taxonomy id
    label: str  # easy-read label, fits "You are good at {label}"
    category: str  # one of CATEGORIES
    emoji: str
    evidence: str  # the member's words that matched
    learning_wish: bool = False


class SkillFinder(Protocol):
    """Anything that finds skills in free text."""

    def find(self, text: str) -> list[FoundSkill]:
        """Return the skills found in ``text``, in order of appearance, no duplicates."""
        ...


@dataclass(frozen=True)
class SkillInfo:
    """One taxonomy entry as the engine needs it."""

    id: str
    category: str
    label: str
    emoji: str
    phrases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    esco: str | None = None
    onet: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
