"""Turn one Telegram update into what the channel should do with it (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import ChatMember, Message, Update
from telegram.constants import ChatType

from bot.telegram.render import decode_callback
from bot.types import Incoming, MemberKey

#: The update types the bot asks Telegram for.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")

#: Message attributes that are not text, checked in this order, and the kind passed on.
#: ``animation`` comes before ``document`` and ``venue`` before ``location`` because
#: Telegram fills both fields for those messages.
UNSUPPORTED_KINDS: tuple[tuple[str, str], ...] = (
    ("sticker", "sticker"),
    ("animation", "animation"),
    ("photo", "photo"),
    ("voice", "voice"),
    ("video_note", "video_note"),
    ("video", "video"),
    ("audio", "audio"),
    ("document", "document"),
    ("venue", "location"),
    ("location", "location"),
    ("contact", "contact"),
    ("poll", "poll"),
    ("dice", "other"),
    ("game", "other"),
    ("story", "other"),
    ("paid_media", "other"),
    ("checklist", "other"),
)
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)
#: Commands whose words after the name reach the engine (``/nudges off`` ->
#: ``"nudges off"``). Every other command drops them: a ``/start`` payload is a
#: deep-link parameter, not something the member typed.
COMMANDS_WITH_ARGUMENTS = frozenset({"nudges"})
#: The most characters of arguments passed on.
MAX_ARGUMENTS = 32


@dataclass(frozen=True)
class ToEngine:
    """A member did something in a private chat: ask the engine.

    ``incoming`` is ``None`` for a button whose data is not ours (an old bot
    version): the engine then shows where the member is.
    """

    chat_id: int
    member: MemberKey
    incoming: Incoming | None
    query_id: str | None = None
    tapped_message_id: int | None = None


@dataclass(frozen=True)
class GroupChat:
    """Something happened in a group: explain once that the bot talks one-to-one."""

    chat_id: int


@dataclass(frozen=True)
class Ignore:
    """Nothing to say; a button press still gets its callback answered."""

    query_id: str | None = None


Route = ToEngine | GroupChat | Ignore


def route_update(update: Update, bot_username: str | None = None) -> Route:
    """Decide what to do with an update (edits, channel posts and service messages are ignored)."""
    if update.callback_query is not None:
        return _route_button(update)
    if update.my_chat_member is not None:
        chat = update.my_chat_member.chat
        status = update.my_chat_member.new_chat_member.status
        joined = status in (ChatMember.MEMBER, ChatMember.ADMINISTRATOR)
        return GroupChat(chat.id) if chat.type in GROUP_TYPES and joined else Ignore()
    message = update.message  # edited messages arrive as ``edited_message``: ignored
    if message is None or message.from_user is None or message.from_user.is_bot:
        return Ignore()
    if message.chat.type in GROUP_TYPES:
        return GroupChat(message.chat.id)
    if message.chat.type != ChatType.PRIVATE:
        return Ignore()
    incoming = message_incoming(message, bot_username)
    if incoming is None:
        return Ignore()
    user = message.from_user
    return ToEngine(message.chat.id, MemberKey("telegram", str(user.id), user.first_name), incoming)


def message_incoming(message: Message, bot_username: str | None = None) -> Incoming | None:
    """What the member sent: a command, text, or the kind of thing that is not text."""
    if message.text is not None:
        command = _command(message.text, bot_username)
        if command is not None:
            return Incoming("command", command)
        return Incoming("text", message.text)
    for attribute, kind in UNSUPPORTED_KINDS:
        if getattr(message, attribute, None):
            return Incoming("unsupported", kind)
    return None  # a service message (pinned, chat photo changed, ...)


def _command(text: str, bot_username: str | None) -> str | None:
    """``start`` from ``/start``, ``/Start@SkillSparkBot`` or ``/start payload``; else None.

    A command in :data:`COMMANDS_WITH_ARGUMENTS` keeps what follows it, in
    lower case with single spaces: ``/nudges  OFF`` gives ``nudges off``.
    """
    if not text.startswith("/") or len(text) < 2 or text[1].isspace():
        return None
    head, *rest = text[1:].split(maxsplit=1)
    name, _, mention = head.partition("@")
    if not name or not name.replace("_", "").isalnum():
        return None
    if mention and bot_username and mention.lower() != bot_username.lower():
        return None
    command = name.lower()[:32]
    arguments = " ".join(rest[0].split()).lower()[:MAX_ARGUMENTS].strip() if rest else ""
    if arguments and command in COMMANDS_WITH_ARGUMENTS:
        return f"{command} {arguments}"
    return command


def _route_button(update: Update) -> Route:
    """A tap on an inline button."""
    query = update.callback_query
    assert query is not None
    message = query.message
    if message is None or message.chat.type != ChatType.PRIVATE or query.from_user.is_bot:
        return Ignore(query.id)
    user = query.from_user
    member = MemberKey("telegram", str(user.id), user.first_name)
    decoded = decode_callback(query.data)
    incoming = None if decoded is None else Incoming("button", decoded[1], decoded[0])
    return ToEngine(message.chat.id, member, incoming, query.id, message.message_id)


def chat_key(update: Update) -> int:
    """The key that keeps one chat's updates in order (the chat, the user, or the update)."""
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return -(10**15) - update.update_id


def raw_chat_key(data: dict[str, Any]) -> int:
    """:func:`chat_key` of a raw update (its JSON object), without making PTB objects."""
    for field in ("message", "edited_message", "callback_query", "my_chat_member"):
        part = data.get(field)
        if not isinstance(part, dict):
            continue
        holder = part.get("message") if field == "callback_query" else part
        chat = holder.get("chat") if isinstance(holder, dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
        sender = part.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    update_id = data.get("update_id")
    return -(10**15) - (update_id if isinstance(update_id, int) else 0)
