"""What one turn carries, and what an engine extension may use of it.

:class:`Understood` is a text message understood before the transaction;
:class:`Turn` is one unit of work (member, state, replies);
:class:`TurnContext` is the part of a turn an :class:`Extension` may touch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.state import PromptLead, StateData
from bot.types import Button, FoundSkill, NluResult, Reply
from storage.models import ConversationState, Member

if TYPE_CHECKING:
    from bot.conversation.engine import Engine


class TurnContext:
    """What an engine extension may use during one turn (same transaction)."""

    def __init__(self, engine: Engine, turn: Turn) -> None:
        """Wrap one turn for an extension."""
        self._engine = engine
        self._turn = turn

    @property
    def session(self) -> AsyncSession:
        """The open database session (the turn's transaction)."""
        return self._turn.session

    @property
    def member(self) -> Member:
        """The member this turn is about."""
        return self._turn.member

    @property
    def consented(self) -> bool:
        """True once the member said yes to what is kept."""
        return self._turn.consented

    def text(self, key: str, **values: str) -> str:
        """A message in the member's language."""
        return self._engine.text(self._turn, key, **values)

    def say(self, key: str, **values: str) -> None:
        """Add a message without buttons."""
        self._engine.say(self._turn, key, **values)

    def reply(self, reply: Reply) -> None:
        """Add a message the extension composed itself (text from several message keys)."""
        self._turn.replies.append(reply)

    def offer(self, key: str, buttons: tuple[tuple[str, str], ...], **values: str) -> None:
        """Add a message with the extension's own buttons (choice ids carry its prefix).

        These buttons are not the member's current question: pressing one later is
        routed back to the extension, whatever question the member is on.
        """
        self.reply(
            Reply(
                key=key,
                text=self.text(key, **values),
                buttons=tuple(Button(c, self.text(label)) for c, label in buttons),
                seq=0,
            )
        )

    def offer_labels(self, key: str, buttons: tuple[tuple[str, str], ...], **values: str) -> None:
        """Like :meth:`offer`, with button labels already written (member's own words)."""
        self.reply(
            Reply(
                key=key,
                text=self.text(key, **values),
                buttons=tuple(Button(c, label) for c, label in buttons),
                seq=0,
            )
        )

    async def show_where(self) -> None:
        """Show the member's current question again (after the extension's reply)."""
        await self._engine.show_where(self._turn)


class Extension(Protocol):
    """A feature plugged into the engine: its own commands and button prefix.

    ``prefix``, ``commands``, ``on_button`` and ``on_command`` are required. The
    other hooks are optional: an extension that subclasses ``Extension`` gets
    their defaults (no keys, no member data, no profile buttons).
    """

    #: Every message key the extension uses; checked against ``dialogues/`` at
    #: start-up and by ``skillspark dialogues check``, like the engine's own.
    message_keys: tuple[str, ...] = ()

    @property
    def prefix(self) -> str:
        """Button choice ids starting with this prefix go to the extension."""
        ...

    @property
    def commands(self) -> tuple[str, ...]:
        """Command names (without a slash) the extension answers."""
        ...

    async def on_button(self, ctx: TurnContext, choice: str) -> None:
        """A press on one of the extension's buttons."""
        ...

    async def on_command(self, ctx: TurnContext, command: str, args: str) -> None:
        """One of the extension's commands, with whatever followed it."""
        ...

    async def member_data(self, session: AsyncSession, member_id: int) -> dict[str, Any]:
        """What the extension keeps about a member, added to their "my data" file."""
        return {}

    def profile_buttons(self, confirmed: int) -> tuple[tuple[str, str], ...]:
        """Buttons (choice, label key) under "My skills" for a member with ``confirmed`` skills."""
        return ()


@dataclass
class Understood:
    """What the engine knows about a text message before opening a transaction."""

    raw: str
    text: str
    nlu: NluResult | None
    skills: list[FoundSkill]
    distress: bool


@dataclass
class Turn:
    """One unit of work: the member, their state and the replies so far."""

    session: AsyncSession
    member: Member
    state: ConversationState
    data: StateData
    replies: list[Reply] = field(default_factory=list)
    erased: bool = False
    last_answer_id: int | None = None
    #: the bot did not understand this turn's input (counted for "ask staff")
    not_understood: bool = False
    #: pictures to draw once the transaction is over: (index in replies, draw)
    drawings: list[tuple[int, Callable[[], bytes]]] = field(default_factory=list)
    #: the messages said so far this turn (key and values): a prompt asked after
    #: them keeps them, so "Hear it" reads what led to the question too
    said: list[PromptLead] = field(default_factory=list)

    @property
    def lang(self) -> str:
        """The member's language."""
        return self.member.language

    @property
    def consented(self) -> bool:
        """True once the member said yes to what is kept."""
        return bool(self.member.consent)
