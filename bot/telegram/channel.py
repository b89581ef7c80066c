"""The Telegram channel: updates in, the engine, replies out, in order per chat.

Two stages per update, each in order per chat and in parallel across chats:

1. *inbound*: translate the update and call the engine. The engine stores the
   answer, the state and the dedup key in one transaction, so once this stage
   ends the update may be confirmed to Telegram.
2. *outbound*: answer the button press, remove old keyboards, show "typing",
   send the replies. Slow sending (pacing, retries) never holds up stage 1 of
   other chats or the confirmation of updates.
"""

from __future__ import annotations

import asyncio
import logging
import math
import warnings
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import Application, ContextTypes
from telegram.warnings import PTBUserWarning

from bot.speech import Recognizer, Speech, VoiceNote
from bot.telegram.intake import Intake, Keep
from bot.telegram.lanes import Lanes
from bot.telegram.render import (
    MAX_CAPTION,
    keyboard,
    keyboard_json,
    split_text,
    telegram_length,
)
from bot.telegram.routing import (
    GroupChat,
    Ignore,
    ToEngine,
    chat_key,
    raw_chat_key,
    route_update,
)
from bot.types import HEAR_SHOWN, Button, Incoming, MemberKey, Reply
from storage.inbox import Inbox, MemoryInbox

log = logging.getLogger(__name__)

Texts = Callable[[str], str]

#: Commands shown in Telegram's menu (the engine understands a few more).
MENU_COMMANDS = ("start", "help", "myskills", "pause", "resume", "stop", "settings")
SORRY = "telegram.sorry"
#: Buttons with this prompt number are offers that work whatever the member is
#: asked (e.g. "Remove a skill" under /myskills): a new question leaves them.
OFFER_SEQ = 0
PRIVATE_ONLY = "telegram.private_only"
TALK_BUTTON = "button.talk_one_to_one"
#: Composed messages remembered for their "Hear it" (the oldest are forgotten first).
MAX_COMPOSED = 5_000
#: Every message key this channel uses (checked at start-up).
TELEGRAM_KEYS = (
    *(f"telegram.command.{c}" for c in MENU_COMMANDS),
    PRIVATE_ONLY,
    TALK_BUTTON,
    SORRY,
)


warnings.filterwarnings(
    "ignore",
    message=r"Please use 'Bot\.(sendMessage|editMessageReplyMarkup|getUpdates|sendVoice)'",
    category=PTBUserWarning,
)


def _shown_reply(update: Update) -> Reply | None:
    """The message a "Hear it" was tapped under, as a reply: its words and its buttons.

    Used when the channel did not send it in this run (it was restarted since).
    """
    query = update.callback_query
    message = query.message if query is not None else None
    if not isinstance(message, Message):  # too old for Telegram to show it: not readable
        return None
    text = message.text or message.caption or ""
    if not text.strip():
        return None
    rows = message.reply_markup.inline_keyboard if message.reply_markup is not None else ()
    buttons = tuple(Button(str(b.callback_data or ""), b.text) for row in rows for b in row)
    return Reply(key="shown", text=text, buttons=buttons, seq=OFFER_SEQ)


async def call_unread(bot: Bot, method: str, params: dict[str, Any]) -> Any:
    """A Bot API call whose answer is used raw, not made into PTB objects.

    ``Bot.do_api_request`` goes through the same request, retry and rate-limit
    path as ``Bot.send_message``; it only skips turning the answer into a
    ``Message``, which cost more than the rest of the call (PTB warns that a
    typed method exists; that warning is silenced above for these two).
    """
    return await bot.do_api_request(method, api_kwargs=params)


async def send_text(
    bot: Bot, chat_id: int, text: str, markup: dict[str, object] | None
) -> int | None:
    """Send one text message; returns its message id."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if markup is not None:
        params["reply_markup"] = markup
    sent = await call_unread(bot, "sendMessage", params)
    return int(sent["message_id"]) if isinstance(sent, dict) else None


class EngineLike(Protocol):
    """What the channel needs from the conversation engine."""

    async def handle(
        self, member: MemberKey, incoming: Incoming, *, dedup_key: str | None = None
    ) -> list[Reply]:
        """Handle one input; ``[]`` when ``dedup_key`` was handled before."""
        ...

    async def current_prompt(self, member: MemberKey) -> list[Reply]:
        """Show the member where they are."""
        ...


class RecentIds:
    """A bounded memory of recent update ids."""

    def __init__(self, size: int = 20_000) -> None:
        """Remember at most ``size`` ids (the oldest are forgotten first)."""
        self._order: deque[int] = deque()
        self._ids: set[int] = set()
        self._size = size

    def add(self, update_id: int) -> bool:
        """Remember an id; True when it was new."""
        if update_id in self._ids:
            return False
        self._ids.add(update_id)
        self._order.append(update_id)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())
        return True


class TelegramChannel:
    """Routes every update to the one engine and renders its replies for Telegram."""

    def __init__(
        self,
        engine: EngineLike,
        texts: Texts,
        *,
        engine_limit: int = 64,
        send_limit: int = 512,
        inbox: Inbox | None = None,
        max_open: int = 2_000,
        speech: Speech | None = None,
        personal_keys: frozenset[str] = frozenset(),
        recognizer: Recognizer | None = None,
        max_voice_in_bytes: int = 1_000_000,
        sweep_s: float = 0.5,
    ) -> None:
        """Talk to ``engine``; ``texts`` looks up this channel's message keys.

        ``inbox`` keeps received updates until they are answered (the bot's
        database in ``skillspark run``; in memory when not given). At most
        ``max_open`` updates are received and not answered at once. A shared
        inbox (several processes) is swept every ``sweep_s`` seconds.
        ``speech`` makes the voice notes of replies with ``voice`` (text only
        without it); replies whose key is in ``personal_keys`` (a member's name
        in them) are made on demand and not kept on disk. ``recognizer``, when
        given, turns voice notes of at most ``max_voice_in_bytes`` into text.
        """
        self.speech = speech
        self.personal_keys = personal_keys
        self.recognizer = recognizer
        self.max_voice_in_bytes = max_voice_in_bytes
        #: uploads under way: note key -> the file id Telegram gave (None if it failed)
        self._uploading: dict[str, asyncio.Future[str | None]] = {}
        self.engine = engine
        self.texts = texts
        self.intake = Intake(
            inbox if inbox is not None else MemoryInbox(),
            max_open=max_open,
            chat_of=raw_chat_key,
            sweep_s=sweep_s,
        )
        #: the reply deliveries of open updates, once the engine has answered
        self._deliveries: dict[int, asyncio.Task[bool]] = {}
        #: chats shown where they are after a restart (once is enough)
        self._reshown: set[int] = set()
        self._inbound = Lanes(engine_limit)
        self._outbound = Lanes(send_limit)
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._seen = RecentIds()
        self._groups_told: set[int] = set()
        #: chat id -> (prompt number, messages whose buttons are still shown)
        self._keyboards: OrderedDict[int, tuple[int | None, list[int]]] = OrderedDict()
        #: (chat, message with the buttons) -> the composed message, for its "Hear it"
        self._composed: OrderedDict[tuple[int, int], Reply] = OrderedDict()

    def bind(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Use this application to process updates."""
        self._app = app

    # ------------------------------------------------------------------ inbound

    async def receive(self, updates: Sequence[dict[str, Any]]) -> None:
        """Take in raw updates; once this returns they are kept and may be confirmed.

        Raises when the inbox cannot keep them (Telegram must send them again).
        Each update starts at once, in order behind its chat's earlier ones.
        """
        await self.intake.receive(updates, self._start)

    async def replay(self) -> int:
        """Start the updates the inbox kept from an earlier run; returns how many."""
        return await self.intake.replay(self._start)

    def _start(self, update_id: int, data: dict[str, Any], keeping: Keep) -> None:
        """Queue one update behind earlier ones of its chat; answer a button press now."""
        app = self._require_app()
        try:
            update = Update.de_json(data, app.bot)
        except Exception:
            log.exception("update %d is not one PTB can read; dropped", update_id)
            self.intake.answered(update_id, keeping)
            return
        if update.callback_query is not None:
            # at once, not behind the chat's turns and replies: the button stops spinning
            self._answer_query(app.bot, update.callback_query.id)

        async def job() -> None:
            if await Intake.kept(keeping):
                await app.process_update(update)

        task = self._inbound.submit(chat_key(update), job)
        task.add_done_callback(lambda done: self._after_engine(update_id, keeping, done))

    def _after_engine(self, update_id: int, keeping: Keep, turn: asyncio.Task[None]) -> None:
        """The engine is done with an update: it is answered once its replies are sent.

        A turn stopped part way (a stop that ran out of time) leaves its update in
        the inbox, for the next start or another process.
        """
        delivery = self._deliveries.pop(update_id, None)
        if turn.cancelled():
            if delivery is not None:
                delivery.cancel()
            self.intake.unanswered(update_id, keeping)
            return
        if delivery is None:
            self.intake.answered(update_id, keeping)
            return

        def sent(done: asyncio.Task[bool]) -> None:
            if done.cancelled() or done.exception() is not None or not done.result():
                self.intake.unanswered(update_id, keeping)
            else:
                self.intake.answered(update_id, keeping)

        delivery.add_done_callback(sent)

    @property
    def open_updates(self) -> int:
        """Updates received and not answered yet."""
        return self.intake.open_count

    def _require_app(self) -> Application[Any, Any, Any, Any, Any, Any]:
        """The bound application."""
        if self._app is None:
            raise RuntimeError("bind() the channel to an application first")
        return self._app

    async def on_update(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one handler: every update comes here."""
        if not isinstance(update, Update):
            return
        bot = context.bot
        route = route_update(update, bot.username)  # a button press was answered already
        if isinstance(route, Ignore):
            return
        if isinstance(route, GroupChat):
            self._explain_group(bot, route.chat_id)
            return
        if route.incoming == Incoming("button", HEAR_SHOWN, OFFER_SEQ):
            shown = self._composed.get((route.chat_id, route.tapped_message_id or 0))
            shown = shown or _shown_reply(update)
            if shown is not None:  # else the engine says it is an old button
                chat_id = route.chat_id
                self._track_delivery(
                    update.update_id, chat_id, lambda: self._read_shown(bot, chat_id, shown)
                )
                return
        if route.incoming == Incoming("unsupported", "voice") and self.recognizer is not None:
            route = await self._hear(bot, update, route)
        replies = await self._ask_engine(route, update.update_id)
        if replies is None:
            return
        self._track_delivery(
            update.update_id, route.chat_id, lambda: self._deliver(bot, route, replies)
        )

    def _track_delivery(
        self, update_id: int, chat_id: int, send: Callable[[], Awaitable[bool]]
    ) -> None:
        """Queue the sending in the chat's lane; the update is answered once it is sent."""
        delivery = self._outbound.submit(chat_id, send)
        if self.intake.is_open(update_id):
            self._deliveries[update_id] = delivery

    async def _read_shown(self, bot: Bot, chat_id: int, shown: Reply) -> bool:
        """ "🔊 Hear it" under a composed message: that message as a voice note, nothing stored.

        Without speech, or when the note cannot be made or is refused (a member
        who does not take voice messages), the words come again as text.
        False only when the network kept it from being sent (tried again later).
        """
        speech = self.speech
        note = None
        if speech is not None and speech.available:
            labels = [button.label for button in shown.buttons]
            note = await speech.voice_note(shown.text, labels, personal=True)
        try:
            if note is not None and await self._voice_sent(bot, chat_id, note):
                return True
            for part in split_text(shown.text):
                await send_text(bot, chat_id, part, None)
        except (Forbidden, BadRequest) as exc:
            log.info("message read again to chat %d not sent: %s", chat_id, exc)
        except NetworkError as exc:
            log.warning("message read again to chat %d not sent: %s", chat_id, exc)
            return False
        return True

    async def _hear(self, bot: Bot, update: Update, route: ToEngine) -> ToEngine:
        """A short voice note becomes the words heard in it; else it stays a voice note."""
        voice = update.message.voice if update.message is not None else None
        if voice is None or self.recognizer is None:
            return route
        if voice.file_size is not None and voice.file_size > self.max_voice_in_bytes:
            log.info("voice note of %d bytes not heard (too big)", voice.file_size)
            return route
        try:
            file = await bot.get_file(voice.file_id)
            if file.file_size is not None and file.file_size > self.max_voice_in_bytes:
                return route
            ogg = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("voice note not downloaded: %s", exc)
            return route
        if len(ogg) > self.max_voice_in_bytes:
            return route
        try:
            heard = await self.recognizer.transcribe(ogg)
        except Exception:
            log.exception("the recogniser failed on a voice note")
            return route
        if heard is None or not heard.text.strip():
            return route
        return replace(route, incoming=Incoming("text", heard.text.strip()))

    async def _ask_engine(self, route: ToEngine, update_id: int) -> list[Reply] | None:
        """The engine's replies; ``None`` for a repeat of an update already answered."""
        first_time = self._seen.add(update_id)
        try:
            if route.incoming is None:
                return await self.engine.current_prompt(route.member)
            replies = await self.engine.handle(
                route.member, route.incoming, dedup_key=f"tg:{update_id}"
            )
            if replies:
                return replies
            if not first_time:
                log.info("update %d came again; it was answered already", update_id)
                return None
            # Stored by an earlier run that stopped before replying: show where the member is
            # (once: several such updates of one chat need not show the question each time).
            if route.chat_id in self._reshown:
                return None
            self._reshown.add(route.chat_id)
            log.info("update %d was stored before; showing the member where they are", update_id)
            return await self.engine.current_prompt(route.member)
        except Exception:
            log.exception("the engine failed on update %d", update_id)
            return [Reply(key=SORRY, text=self.texts(SORRY))]

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log errors the handler did not catch."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("error while handling update %s", update_id, exc_info=context.error)

    # ----------------------------------------------------------------- outbound

    def _answer_query(self, bot: Bot, query_id: str) -> None:
        """Answer a button press (Telegram shows a spinner on the button until then)."""
        self._outbound.submit(
            ("query", query_id),
            lambda: self._quietly("answerCallbackQuery", bot.answer_callback_query(query_id)),
        )

    async def _deliver(self, bot: Bot, route: ToEngine, replies: list[Reply]) -> bool:
        """Tidy old buttons, show typing, send the replies (the press was answered already).

        False when the network kept a reply from being sent (after the limiter's
        retries): the update then stays in the inbox for the next start.
        """
        chat_id = route.chat_id
        # a tap answered only by voice notes ("Hear it") leaves the question and its buttons
        heard = bool(replies) and all(reply.voice_only for reply in replies)
        if route.tapped_message_id is not None and not heard:
            self._forget_keyboard(chat_id, route.tapped_message_id)
            await self._drop_keyboard(bot, chat_id, route.tapped_message_id)
        if replies:
            await self._quietly("sendChatAction", bot.send_chat_action(chat_id, ChatAction.TYPING))
        # the voice notes are made (in the speech thread) while the texts go out
        makings = [self._make_voice(reply) for reply in replies]
        for reply, making in zip(replies, makings, strict=True):
            try:
                await self._send_reply(bot, chat_id, reply, making)
            except Forbidden:
                log.info("chat %d has blocked the bot; replies dropped", chat_id)
                return True
            except BadRequest:
                log.exception("Telegram refused message %s to chat %d", reply.key, chat_id)
            except NetworkError as exc:
                log.warning("message %s to chat %d not sent: %s", reply.key, chat_id, exc)
                return False
            except Exception:
                log.exception("could not send message %s to chat %d", reply.key, chat_id)
        return True

    async def _send_reply(
        self,
        bot: Bot,
        chat_id: int,
        reply: Reply,
        making: asyncio.Future[VoiceNote | None] | None = None,
    ) -> None:
        """Send one reply: text parts, then a photo or a document; buttons on the last one.

        A reply with ``voice`` is followed by its voice note (``making``, started
        by the caller); with ``voice_only`` only the note is sent, or the text
        when no note can be made.
        """
        if making is not None and reply.voice_only:
            note = await making
            if note is not None and await self._voice_sent(bot, chat_id, note):
                return
            making = None
        try:
            await self._send_text_and_files(bot, chat_id, reply)
        except BaseException:
            if making is not None:
                making.cancel()
            raise
        if making is not None:
            note = await making
            if note is not None:
                try:
                    await self._send_voice(bot, chat_id, note)
                except Forbidden:
                    raise
                except TelegramError as exc:  # the text is there: the note is a help, not a must
                    log.warning("voice note of %s to chat %d not sent: %s", reply.key, chat_id, exc)

    def _make_voice(self, reply: Reply) -> asyncio.Future[VoiceNote | None] | None:
        """Start making the reply's voice note, if it asks for one and speech is here."""
        speech = self.speech
        if not reply.voice or speech is None or not speech.available:
            return None
        return asyncio.ensure_future(speech.reply_note(reply, self.personal_keys))

    async def send_voice_of(self, bot: Bot, chat_id: int, reply: Reply) -> None:
        """The voice note of a reply sent outside a turn (a nudge); nothing when none is made."""
        making = self._make_voice(reply)
        note = await making if making is not None else None
        if note is not None:
            await self._send_voice(bot, chat_id, note)

    async def _voice_sent(self, bot: Bot, chat_id: int, note: VoiceNote) -> bool:
        """Send a voice note in place of words; False when Telegram refuses it.

        (A member who takes no voice messages: the caller sends the words.)
        """
        try:
            await self._send_voice(bot, chat_id, note)
        except BadRequest as exc:  # a NetworkError to PTB: caught before the caller's
            log.info("voice note to chat %d refused (%s); the words instead", chat_id, exc)
            return False
        return True

    async def _send_voice(self, bot: Bot, chat_id: int, note: VoiceNote) -> None:
        """Send a voice note: by the file id of an earlier upload, else uploaded (once)."""
        speech = self.speech
        assert speech is not None
        duration = max(1, math.ceil(note.duration))
        file_id = speech.file_id(note.key)
        if file_id is None and note.key in self._uploading:
            file_id = await asyncio.shield(self._uploading[note.key])
        if file_id is not None:
            try:
                params = {"chat_id": chat_id, "voice": file_id, "duration": duration}
                await call_unread(bot, "sendVoice", params)
                return
            except BadRequest as exc:  # an id Telegram no longer knows: upload again
                log.info("voice note id refused (%s); uploading it again", exc)
                speech.forget_file_id(note.key)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._uploading.setdefault(note.key, future)
        new_id: str | None = None
        try:
            sent = await bot.send_voice(chat_id, note.ogg, duration=duration, filename="voice.ogg")
            if sent.voice is not None:
                new_id = sent.voice.file_id
                speech.remember_file_id(note.key, new_id)
        finally:
            if self._uploading.get(note.key) is future:
                del self._uploading[note.key]
            future.set_result(new_id)

    async def _send_text_and_files(self, bot: Bot, chat_id: int, reply: Reply) -> None:
        """The text parts, then a photo or a document; buttons on the last one."""
        markup = keyboard_json(reply.buttons, reply.seq)
        parts = split_text(reply.text)
        files: list[tuple[str | None, bytes]] = []
        if reply.image_png is not None:
            files.append((None, reply.image_png))
        if reply.document is not None:
            files.append(reply.document)
        caption: str | None = None
        if files and len(parts) == 1 and telegram_length(parts[0]) <= MAX_CAPTION:
            caption = parts.pop()
        remaining = len(parts) + len(files)
        last: Message | None = None
        last_id: int | None = None
        for part in parts:
            remaining -= 1
            last_id = await send_text(bot, chat_id, part, None if remaining else markup)
        for filename, content in files:
            remaining -= 1
            mark = None if remaining else keyboard(reply.buttons, reply.seq)
            if filename is None:
                last = await bot.send_photo(chat_id, content, caption=caption, reply_markup=mark)
            else:
                last = await bot.send_document(
                    chat_id, content, filename=filename, caption=caption, reply_markup=mark
                )
            caption = None
        if last is not None:
            last_id = last.message_id
        if last_id is not None and any(b.choice == HEAR_SHOWN for b in reply.buttons):
            self._remember_composed(chat_id, last_id, reply)
        if markup is not None and last_id is not None and reply.seq != OFFER_SEQ:
            await self._track_keyboard(bot, chat_id, reply.seq, last_id)

    def _remember_composed(self, chat_id: int, message_id: int, reply: Reply) -> None:
        """Keep what a composed message says (all its parts), for its "🔊 Hear it".

        The tapped message alone may not hold the words: a long "My skills"
        goes as text, then its picture with the buttons and no caption.
        """
        self._composed[chat_id, message_id] = reply
        while len(self._composed) > MAX_COMPOSED:
            self._composed.popitem(last=False)

    async def _track_keyboard(
        self, bot: Bot, chat_id: int, seq: int | None, message_id: int
    ) -> None:
        """Remember the newest buttons; buttons of an earlier question disappear."""
        old_seq, old_ids = self._keyboards.pop(chat_id, (None, []))
        if seq is not None and seq == old_seq:
            self._keyboards[chat_id] = (seq, [*old_ids, message_id])
            return
        self._keyboards[chat_id] = (seq, [message_id])
        while len(self._keyboards) > 50_000:
            self._keyboards.popitem(last=False)
        for old in old_ids:
            await self._drop_keyboard(bot, chat_id, old)

    def _forget_keyboard(self, chat_id: int, message_id: int) -> None:
        """Stop tracking a message's buttons (they are being removed)."""
        seq, ids = self._keyboards.get(chat_id, (None, []))
        if message_id in ids:
            self._keyboards[chat_id] = (seq, [i for i in ids if i != message_id])

    async def _drop_keyboard(self, bot: Bot, chat_id: int, message_id: int) -> None:
        """Remove the buttons under one message (already gone or too old is fine)."""
        try:
            await call_unread(
                bot, "editMessageReplyMarkup", {"chat_id": chat_id, "message_id": message_id}
            )
        except BadRequest as exc:
            log.debug("buttons of message %d not removed: %s", message_id, exc)
        except TelegramError as exc:
            log.warning("buttons of message %d not removed: %s", message_id, exc)

    def _explain_group(self, bot: Bot, chat_id: int) -> None:
        """Say once in a group that the bot talks with one person at a time."""
        if chat_id in self._groups_told:
            return
        self._groups_told.add(chat_id)
        markup = None
        if bot.username:
            link = InlineKeyboardButton(self.texts(TALK_BUTTON), url=f"https://t.me/{bot.username}")
            markup = InlineKeyboardMarkup([[link]])
        text = self.texts(PRIVATE_ONLY)
        self._outbound.submit(
            chat_id,
            lambda: self._quietly(
                "sendMessage (group)", bot.send_message(chat_id, text, reply_markup=markup)
            ),
        )

    @staticmethod
    async def _quietly(what: str, call: Awaitable[Any]) -> None:
        """Run a call that is nice to have; log a failure and go on."""
        try:
            await call
        except TelegramError as exc:
            log.warning("%s failed: %s", what, exc)

    # ------------------------------------------------------------- other senders

    async def send_alert(self, telegram_id: int, text: str) -> None:
        """Send a staff alert (for ``bot.jobs``), in order with that chat; raises on failure."""
        app = self._app
        if app is None:
            raise RuntimeError("bind() the channel to an application first")
        bot = app.bot

        async def job() -> None:
            for part in split_text(text):
                await bot.send_message(telegram_id, part)

        await self._outbound.submit(telegram_id, job)

    # ------------------------------------------------------------------ control

    @property
    def busy(self) -> int:
        """Updates and deliveries still queued or running."""
        return self._inbound.busy + self._outbound.busy

    async def drain(self, within: float | None = None) -> bool:
        """Wait for queued updates, then replies (``within`` seconds in all); False if time ran out.

        Answered updates are then removed from the inbox; the others stay there
        for the next start (or another process): when time runs out, what still
        runs is stopped first.
        """
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        self.intake.stop_starting()  # no new turns from the shared inbox while stopping
        inbound = await self._inbound.drain(within)
        left = None if deadline is None else max(0.0, deadline - loop.time())
        outbound = await self._outbound.drain(left)
        await asyncio.sleep(0)  # the done-callbacks of the last sends mark them answered
        if not (inbound and outbound):
            # Out of time: stop what still runs, so nothing of this process touches those
            # chats once it lets go of them (their updates stay in the inbox).
            stopped = await self._inbound.cancel() + await self._outbound.cancel()
            log.warning("stopped %d turns and sends that were still running", stopped)
        await self.intake.close()
        return inbound and outbound
