"""Member preferences (read aloud, fewer pictures): the one place that reads and writes them.

They live in ``Member.preferences`` (JSON; a missing key means False). Before
consent nothing is stored: a choice is kept in the conversation data
(``data["preferences"]``) and written to the member at consent, like the name.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.easyread import fewer_pictures, without_picture
from bot.types import Reply

if TYPE_CHECKING:
    from bot.conversation.context import Turn

READ_ALOUD = "read_aloud"
FEWER_PICTURES = "fewer_pictures"
#: The preference keys a member may change.
KEYS: tuple[str, ...] = (READ_ALOUD, FEWER_PICTURES)


def get(turn: Turn, key: str) -> bool:
    """The member's preference (a choice made before consent counts too)."""
    pending = turn.data.get("preferences") or {}
    if key in pending:
        return bool(pending[key])
    return of_member(turn.member.preferences, key)


def set_(turn: Turn, key: str, value: bool) -> None:
    """Change a preference: on the member once consented, else in the conversation data."""
    if key not in KEYS:
        raise ValueError(f"unknown preference {key!r}")
    if turn.consented:
        turn.member.preferences = {**(turn.member.preferences or {}), key: value}
        turn.data.pop("preferences", None)
    else:
        turn.data["preferences"] = {**(turn.data.get("preferences") or {}), key: value}


def keep_at_consent(turn: Turn) -> None:
    """At consent: write the choices made before it to the member."""
    pending = turn.data.pop("preferences", None) or {}
    if pending:
        turn.member.preferences = {**(turn.member.preferences or {}), **pending}


def of_member(stored: dict[str, Any] | None, key: str) -> bool:
    """A member's preference from the stored JSON (a missing key means False)."""
    return bool((stored or {}).get(key, False))


def with_fewer_pictures(reply: Reply) -> Reply:
    """The reply with one picture at the start of its text and plain words on its buttons."""
    return replace(
        reply,
        text=fewer_pictures(reply.text),
        buttons=tuple(replace(b, label=without_picture(b.label)) for b in reply.buttons),
    )
