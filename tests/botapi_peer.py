"""A real HTTP Bot API server on loopback for tests: Telegram's side of the conversation.

It speaks the Bot API's JSON (``{"ok": true, "result": ...}``) for the methods
SkillSpark uses, checks requests the way Telegram does (text length, callback
data size, message to edit, query to answer, command names), records every call,
and lets a test play members: inject updates (duplicates too), long-poll them
out through ``getUpdates`` with offsets, or push them to the bot's webhook.

Standard library only (``http.server`` in a thread), so it runs anywhere.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

T = TypeVar("T")
JSON = dict[str, Any]

PORTS = range(8600, 8700)
BOT_ID = 7_000_000_001
TOKEN = f"{BOT_ID}:AAH-skillspark-test-token-0123456789ab"

INT_FIELDS = {
    "chat_id",
    "message_id",
    "offset",
    "limit",
    "timeout",
    "max_connections",
    "user_id",
    "duration",
}
BOOL_FIELDS = {
    "drop_pending_updates",
    "disable_notification",
    "protect_content",
    "show_alert",
    "allow_sending_without_reply",
}
JSON_FIELDS = {
    "reply_markup",
    "allowed_updates",
    "commands",
    "scope",
    "entities",
    "caption_entities",
    "link_preview_options",
    "reply_parameters",
}
MESSAGE_METHODS = {"sendMessage", "sendPhoto", "sendDocument", "sendVoice"}
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MAX_TEXT = 4096
MAX_CAPTION = 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status and description (and optional parameters)."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        """Build the error Telegram would send."""
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded (multipart)."""

    filename: str | None
    content_type: str
    content: bytes


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made: method, decoded parameters and uploaded files."""

    index: int
    method: str
    params: JSON
    files: dict[str, Upload] = field(default_factory=dict)
    status: int = 200
    #: When the peer recorded the call (``time.monotonic()``), to check pacing.
    at: float = field(default_factory=time.monotonic)

    @property
    def chat_id(self) -> int | None:
        """The chat the call was about, if any."""
        value = self.params.get("chat_id")
        return int(value) if value is not None else None


@dataclass
class Failure:
    """A planned failure for the next calls of a method."""

    method: str
    times: int
    status: int
    description: str
    retry_after: int | None = None
    drop: bool = False


class BotApiPeer:
    """Telegram's Bot API for one bot, on ``127.0.0.1`` (a free port in 8600-8699)."""

    def __init__(self, token: str = TOKEN, *, username: str = "SkillSparkTestBot") -> None:
        """A peer for ``token``; call :meth:`start` (or use it as a context manager)."""
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "SkillSpark",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._cond = threading.Condition()
        self.calls: list[ApiCall] = []
        self._pending: list[JSON] = []
        #: updates delivered again on purpose (not dropped by the offset of the next poll)
        self._again: set[int] = set()
        self._next_update = 100_000 + random.randrange(1000)
        self._msg_ids: dict[int, itertools.count[int]] = {}
        self.chats: dict[int, JSON] = {}
        self.messages: dict[tuple[int, int], JSON] = {}
        self._queries: dict[str, bool] = {}  # id -> answered
        self._query_ids = itertools.count(1)
        self.webhook: JSON = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.allowed_updates: list[str] | None = None
        self.offsets: list[int | None] = []
        self._failures: list[Failure] = []
        self._held: set[str] = set()
        self._waiting: dict[str, int] = {}
        self._received: dict[str, int] = {}
        #: Called (in the server thread) with each getUpdates offset before answering;
        #: returning False drops the connection instead (nothing is confirmed).
        self.on_get_updates: Callable[[int | None], bool | None] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self.port = 0
        #: Files Telegram holds, by file id: uploads of the bot and members' voice notes.
        self.files: dict[str, bytes] = {}
        self._file_ids = itertools.count(1)
        #: How often each file was downloaded through the file path.
        self.downloads: dict[str, int] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> BotApiPeer:
        """Listen on the first free port of 8600-8699 (tried in random order)."""
        handler = _make_handler(self)
        for port in random.sample(list(PORTS), len(PORTS)):
            try:
                self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
            except OSError:
                continue
            self.port = port
            break
        else:
            raise RuntimeError("no free port in 8600-8699")
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake long polls and stop serving."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> BotApiPeer:
        """Start on entry."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on exit."""
        self.stop()

    @property
    def base_url(self) -> str:
        """What to put in ``TELEGRAM_API_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}"

    # --------------------------------------------------------------- members act

    def user(self, user_id: int, first_name: str = "Sam") -> JSON:
        """A Telegram user (and their private chat, known from now on)."""
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        with self._cond:
            self.chats.setdefault(
                user_id, {"id": user_id, "type": "private", "first_name": first_name}
            )
        return user

    def group(self, chat_id: int, title: str = "Tenants group") -> JSON:
        """A group chat the bot is in."""
        chat = {"id": chat_id, "type": "group", "title": title}
        with self._cond:
            self.chats[chat_id] = chat
        return chat

    def inject(self, update: JSON, *, again: bool = False) -> JSON:
        """Queue an update as Telegram would (an ``update_id`` is added when missing).

        ``again``: an update confirmed before, delivered once more (Telegram does
        this now and then); the next poll gets it whatever its offset.
        """
        with self._cond:
            if "update_id" not in update:
                update = {"update_id": self._next_update, **update}
                self._next_update += 1
            if again:
                self._again.add(update["update_id"])
            self._pending.append(update)
            self._pending.sort(key=lambda u: u["update_id"])
            self._cond.notify_all()
        return update

    def new_message(self, user: JSON, chat: JSON | None = None, **content: Any) -> JSON:
        """A message from a member (not yet queued)."""
        chat = chat or self.chats[user["id"]]
        message = {
            "message_id": self._message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **content,
        }
        with self._cond:
            self.messages[(chat["id"], message["message_id"])] = message
        return message

    def text(self, user: JSON, text: str, chat: JSON | None = None) -> JSON:
        """The member types text."""
        return self.inject({"message": self.new_message(user, chat, text=text)})

    def command(self, user: JSON, name: str, chat: JSON | None = None) -> JSON:
        """The member sends ``/name``."""
        text = f"/{name}"
        entity = {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
        return self.inject({"message": self.new_message(user, chat, text=text, entities=[entity])})

    def sticker(self, user: JSON) -> JSON:
        """The member sends a sticker."""
        sticker = {
            "file_id": "CAACAgIAAxkBAAEsticker",
            "file_unique_id": "AgADsticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self.inject({"message": self.new_message(user, sticker=sticker)})

    def media(self, user: JSON, kind: str, payload: Any) -> JSON:
        """The member sends any other kind of message (``photo``, ``voice``, ``location`` ...)."""
        return self.inject({"message": self.new_message(user, **{kind: payload})})

    def voice_note(self, user: JSON, ogg: bytes, duration: int = 2) -> JSON:
        """The member records a voice note (kept as a file the bot may download)."""
        with self._cond:
            file_id = self._new_file(ogg, "uservoice")
        voice = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(ogg),
        }
        return self.inject({"message": self.new_message(user, voice=voice)})

    def voices(self, chat_id: int, since: int = 0) -> list[bytes]:
        """The audio of each voice note the bot sent to a chat (uploads and resends by id)."""
        found: list[bytes] = []
        for call in self.calls_of("sendVoice", chat_id, since):
            if call.status != 200:
                continue
            upload = call.files.get("voice")
            found.append(upload.content if upload else self.files[str(call.params["voice"])])
        return found

    def edit(self, user: JSON, message: JSON, new_text: str) -> JSON:
        """The member edits a message they sent."""
        edited = {**message, "text": new_text, "edit_date": int(time.time())}
        return self.inject({"edited_message": edited})

    def tap(self, user: JSON, message: JSON, data: str) -> JSON:
        """The member taps an inline button (``data`` is its callback data)."""
        query_id = f"{next(self._query_ids)}{random.randrange(10**9)}"
        with self._cond:
            self._queries[query_id] = False
            current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
        query = {
            "id": query_id,
            "from": user,
            "chat_instance": f"ci{user['id']}",
            "message": current,
            "data": data,
        }
        return self.inject({"callback_query": query})

    def tap_button(self, user: JSON, message: JSON, choice: str) -> JSON:
        """Tap the button of ``message`` whose callback data ends with ``:choice``."""
        for button in self.buttons(message):
            if button.get("callback_data", "").split(":", 1)[-1] == choice:
                return self.tap(user, message, button["callback_data"])
        raise AssertionError(f"no button {choice!r} on message {message['message_id']}")

    def added_to_group(self, chat: JSON, by: JSON) -> JSON:
        """Someone adds the bot to a group."""
        old = {"status": "left", "user": self.bot_user}
        new = {"status": "member", "user": self.bot_user}
        change = {
            "chat": chat,
            "from": by,
            "date": int(time.time()),
            "old_chat_member": old,
            "new_chat_member": new,
        }
        return self.inject({"my_chat_member": change})

    # ------------------------------------------------------------------ webhook

    def push_webhook(self, update: JSON, *, secret: str | None = "", timeout: float = 30) -> int:
        """POST an update to the registered webhook like Telegram; returns the HTTP status.

        ``secret=""`` sends the registered secret; ``None`` sends no header; any
        other value is sent as it is.
        """
        with self._cond:
            url = self.webhook.get("url")
            registered = self.webhook.get("secret_token")
        if not url:
            raise AssertionError("no webhook is set")
        if "update_id" not in update:
            with self._cond:
                update = {"update_id": self._next_update, **update}
                self._next_update += 1
        headers = {"Content-Type": "application/json"}
        token = registered if secret == "" else secret
        if token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        request = urllib.request.Request(
            url, data=json.dumps(update).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def take_pending(self) -> list[JSON]:
        """Remove and return queued updates (to push them to a webhook instead)."""
        with self._cond:
            pending, self._pending = self._pending, []
        return pending

    # ------------------------------------------------------------------ failures

    def fail(
        self,
        method: str,
        *,
        times: int = 1,
        status: int = 502,
        description: str = "Bad Gateway",
        retry_after: int | None = None,
        drop: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (``drop`` closes the connection)."""
        with self._cond:
            self._failures.append(Failure(method, times, status, description, retry_after, drop))

    def hold(self, method: str) -> None:
        """Keep calls of ``method`` waiting (unanswered) until :meth:`release`."""
        with self._cond:
            self._held.add(method)

    def release(self, method: str) -> None:
        """Let held calls of ``method`` go on."""
        with self._cond:
            self._held.discard(method)
            self._cond.notify_all()

    def received(self, method: str) -> int:
        """How many calls of ``method`` arrived (answered or still waiting)."""
        with self._cond:
            return self._received.get(method, 0)

    def held_calls(self, method: str) -> int:
        """How many calls of ``method`` are waiting now."""
        with self._cond:
            return self._waiting.get(method, 0)

    def _take_failure(self, method: str) -> Failure | None:
        """The planned failure for this call, if any (under the lock)."""
        for failure in self._failures:
            if failure.method == method and failure.times > 0:
                failure.times -= 1
                return failure
        return None

    # -------------------------------------------------------------- assertions

    def wait_for(self, check: Callable[[], T | None], timeout: float = 30, what: str = "") -> T:
        """Wait until ``check()`` gives something truthy (re-checked after every call)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = check()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    methods = [c.method for c in self.calls[-30:]]
                    raise AssertionError(f"timed out waiting for {what or check}; last {methods}")
                self._cond.wait(min(left, 0.5))

    def calls_of(self, method: str, chat_id: int | None = None, since: int = 0) -> list[ApiCall]:
        """Successful calls of one method (optionally for one chat, after call ``since``)."""
        with self._cond:
            return [
                c
                for c in self.calls[since:]
                if c.method == method
                and c.status == 200
                and (chat_id is None or c.chat_id == chat_id)
            ]

    def chat_calls(self, chat_id: int, since: int = 0) -> list[ApiCall]:
        """Every successful call about one chat, in order."""
        with self._cond:
            return [c for c in self.calls[since:] if c.chat_id == chat_id and c.status == 200]

    def sent(self, chat_id: int, since: int = 0) -> list[JSON]:
        """The messages the bot sent into a chat (current state), in order."""
        with self._cond:
            ids = [
                c.params["_message_id"]
                for c in self.calls[since:]
                if c.method in MESSAGE_METHODS and c.status == 200 and c.chat_id == chat_id
            ]
            return [self.messages[(chat_id, i)] for i in ids]

    def wait_sent(
        self, chat_id: int, count: int, since: int = 0, timeout: float = 30
    ) -> list[JSON]:
        """Wait until the bot has sent at least ``count`` messages into the chat."""
        return self.wait_for(
            lambda: (lambda s: s if len(s) >= count else None)(self.sent(chat_id, since)),
            timeout,
            f"{count} messages to chat {chat_id}",
        )

    def wait_text(self, chat_id: int, needle: str, since: int = 0, timeout: float = 30) -> JSON:
        """Wait for a bot message in the chat whose text or caption contains ``needle``."""
        return self.wait_for(
            lambda: next(
                (
                    m
                    for m in self.sent(chat_id, since)
                    if needle in (m.get("text") or m.get("caption") or "")
                ),
                None,
            ),
            timeout,
            f"a message containing {needle!r}",
        )

    def wait_buttons(self, chat_id: int, since: int = 0, timeout: float = 30) -> JSON:
        """Wait for a bot message with inline buttons still showing; the newest one."""

        def newest() -> JSON | None:
            with_buttons = [m for m in self.sent(chat_id, since) if self.buttons(m)]
            return with_buttons[-1] if with_buttons else None

        return self.wait_for(newest, timeout, f"buttons in chat {chat_id}")

    def mark(self) -> int:
        """The number of calls so far (pass as ``since`` to look only at later calls)."""
        with self._cond:
            return len(self.calls)

    def buttons(self, message: JSON) -> list[JSON]:
        """The inline buttons a message shows now (after edits)."""
        with self._cond:
            current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
        markup = current.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def pending_count(self) -> int:
        """Updates not yet confirmed by the bot."""
        with self._cond:
            return len(self._pending)

    # ------------------------------------------------------------------ internals

    def _message_id(self, chat_id: int) -> int:
        """The next message id in a chat (members and the bot share the counter)."""
        with self._cond:
            counter = self._msg_ids.setdefault(chat_id, itertools.count(1))
            return next(counter)

    def handle(self, method: str, params: JSON, files: dict[str, Upload]) -> Any:
        """Run one Bot API method (called by the HTTP handler, without the lock)."""
        with self._cond:
            self._received[method] = self._received.get(method, 0) + 1
            self._waiting[method] = self._waiting.get(method, 0) + 1
            self._cond.notify_all()
            while method in self._held and not self._closing:
                self._cond.wait()
            self._waiting[method] -= 1
            failure = self._take_failure(method)
            if failure is not None:
                self._record(method, params, files, 0 if failure.drop else failure.status)
                if failure.drop:
                    raise _DropConnection()
                extra = {"retry_after": failure.retry_after} if failure.retry_after else None
                raise ApiError(failure.status, failure.description, extra)
        if method == "getUpdates":
            return self._get_updates(params)
        with self._cond:
            try:
                result = self._dispatch(method, params, files)
            except ApiError as exc:
                self._record(method, params, files, exc.code)
                raise
            self._record(method, params, files, 200)
            return result

    def _record(self, method: str, params: JSON, files: dict[str, Upload], status: int) -> None:
        """Keep the call and wake waiters (under the lock)."""
        self.calls.append(ApiCall(len(self.calls), method, params, files, status))
        self._cond.notify_all()

    def _dispatch(self, method: str, params: JSON, files: dict[str, Upload]) -> Any:
        """The methods apart from getUpdates (under the lock)."""
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found")
        return handler(params, files)

    def _get_updates(self, params: JSON) -> list[JSON]:
        """Long polling: confirm below ``offset``, wait up to ``timeout`` for new updates."""
        offset = params.get("offset")
        if self.on_get_updates is not None and self.on_get_updates(offset) is False:
            raise _DropConnection()
        with self._cond:
            if self.webhook.get("url"):
                self._record("getUpdates", params, {}, 409)
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self.offsets.append(offset)
            if params.get("allowed_updates") is not None:
                self.allowed_updates = list(params["allowed_updates"])
            if offset is not None:
                self._pending = [
                    u
                    for u in self._pending
                    if u["update_id"] >= offset or u["update_id"] in self._again
                ]
            deadline = time.monotonic() + float(params.get("timeout") or 0)
            while True:
                self._pending = [u for u in self._pending if self._allowed(u)]
                if self._pending or self._closing:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            limit = int(params.get("limit") or 100)
            result = [dict(u) for u in self._pending[:limit]]
            self._again.difference_update(u["update_id"] for u in result)
            self._record("getUpdates", params, {}, 200)
            return result

    def _allowed(self, update: JSON) -> bool:
        """True when the bot asked for this kind of update (Telegram drops the others)."""
        if self.allowed_updates is None or not self.allowed_updates:
            return "my_chat_member" not in update  # Telegram's default set
        kinds = [k for k in update if k != "update_id"]
        return any(k in self.allowed_updates for k in kinds)

    def _chat(self, params: JSON) -> JSON:
        """The chat a call names; 400 when Telegram would not know it."""
        chat_id = params.get("chat_id")
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(int(chat_id))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _check_markup(self, params: JSON) -> JSON | None:
        """Validate an inline keyboard like Telegram does."""
        markup = params.get("reply_markup")
        if markup is None:
            return None
        rows = markup.get("inline_keyboard")
        if not isinstance(rows, list):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in rows:
            for button in row:
                if not button.get("text"):
                    raise ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if data is None and not button.get("url"):
                    raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
        return dict(markup) if rows else None

    def _bot_message(self, chat: JSON, params: JSON, **content: Any) -> JSON:
        """Store and return a message the bot sent."""
        message = {
            "message_id": next(self._msg_ids.setdefault(chat["id"], itertools.count(1))),
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
            **content,
        }
        markup = self._check_markup(params)
        if markup:
            message["reply_markup"] = markup
        self.messages[(chat["id"], message["message_id"])] = message
        params["_message_id"] = message["message_id"]
        return message

    # --- methods (``_m_<name>``), called under the lock

    def _m_getMe(self, params: JSON, files: dict[str, Upload]) -> JSON:
        """The bot itself."""
        return dict(self.bot_user)

    def _m_sendMessage(self, params: JSON, files: dict[str, Upload]) -> JSON:
        """A text message (1-4096 UTF-16 units, as Telegram counts)."""
        chat = self._chat(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if telegram_length(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return self._bot_message(chat, params, text=text)

    def _caption(self, params: JSON) -> JSON:
        """A caption (at most 1024 UTF-16 units), if any."""
        caption = params.get("caption")
        if caption is None:
            return {}
        if telegram_length(str(caption)) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        return {"caption": str(caption)}

    def _m_sendPhoto(self, params: JSON, files: dict[str, Upload]) -> JSON:
        """A photo uploaded as a file."""
        chat = self._chat(params)
        upload = files.get("photo")
        if upload is None or not upload.content:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        photo = [
            {
                "file_id": f"photo{len(self.calls)}",
                "file_unique_id": f"uphoto{len(self.calls)}",
                "width": 320,
                "height": 320,
                "file_size": len(upload.content),
            }
        ]
        return self._bot_message(chat, params, photo=photo, **self._caption(params))

    def _m_sendDocument(self, params: JSON, files: dict[str, Upload]) -> JSON:
        """A document uploaded as a file."""
        chat = self._chat(params)
        upload = files.get("document")
        if upload is None or not upload.content:
            raise ApiError(400, "Bad Request: there is no document in the request")
        document = {
            "file_id": f"doc{len(self.calls)}",
            "file_unique_id": f"udoc{len(self.calls)}",
            "file_name": upload.filename,
            "mime_type": upload.content_type,
            "file_size": len(upload.content),
        }
        return self._bot_message(chat, params, document=document, **self._caption(params))

    def _new_file(self, content: bytes, prefix: str) -> str:
        """Keep a file and give it an id (under the lock)."""
        file_id = f"{prefix}{next(self._file_ids)}"
        self.files[file_id] = content
        return file_id

    def _m_sendVoice(self, params: JSON, files: dict[str, Upload]) -> JSON:
        """A voice note: an OGG/Opus upload, or the file id of an earlier one."""
        chat = self._chat(params)
        upload = files.get("voice")
        if upload is not None:
            if not upload.content:
                raise ApiError(400, "Bad Request: there is no voice in the request")
            if not upload.content.startswith(b"OggS"):
                raise ApiError(400, "Bad Request: VOICE_MESSAGES_FORBIDDEN")  # not OGG
            content = upload.content
            file_id = self._new_file(content, "voice")
        else:
            file_id = str(params.get("voice") or "")
            if file_id not in self.files:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            content = self.files[file_id]
        voice = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "duration": int(params.get("duration") or 0),
            "mime_type": "audio/ogg",
            "file_size": len(content),
        }
        return self._bot_message(chat, params, voice=voice, **self._caption(params))

    def _m_getFile(self, params: JSON, files: dict[str, Upload]) -> JSON:
        """Where a file can be downloaded (``/file/bot<token>/<file_path>``)."""
        file_id = str(params.get("file_id") or "")
        content = self.files.get(file_id)
        if content is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(content),
            "file_path": f"voice/{file_id}.oga",
        }

    def download(self, file_path: str) -> bytes | None:
        """The content at a file path (called by the HTTP handler)."""
        match = re.fullmatch(r"voice/([A-Za-z0-9_]+)\.oga", file_path)
        with self._cond:
            if match is None or match.group(1) not in self.files:
                return None
            self.downloads[match.group(1)] = self.downloads.get(match.group(1), 0) + 1
            return self.files[match.group(1)]

    def _edited(self, params: JSON) -> JSON:
        """The bot message an edit names (400 when there is none)."""
        chat = self._chat(params)
        message = self.messages.get((chat["id"], int(params.get("message_id") or 0)))
        if message is None or message.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def _m_editMessageReplyMarkup(self, params: JSON, files: dict[str, Upload]) -> JSON:
        """Change or remove a message's inline keyboard."""
        message = self._edited(params)
        markup = self._check_markup(params)
        if markup == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return dict(message)

    def _m_editMessageText(self, params: JSON, files: dict[str, Upload]) -> JSON:
        """Change a message's text (and keyboard)."""
        message = self._edited(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if telegram_length(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._check_markup(params)
        if text == message.get("text") and markup == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        message["text"] = text
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return dict(message)

    def _m_answerCallbackQuery(self, params: JSON, files: dict[str, Upload]) -> bool:
        """Answer a button press once (a second answer is refused, as by Telegram)."""
        query_id = str(params.get("callback_query_id") or "")
        if self._queries.get(query_id, True):
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._queries[query_id] = True
        return True

    def _m_sendChatAction(self, params: JSON, files: dict[str, Upload]) -> bool:
        """Show "typing" and similar."""
        self._chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _m_setMyCommands(self, params: JSON, files: dict[str, Upload]) -> bool:
        """The command menu (names a-z0-9_ up to 32, descriptions 1-256 characters)."""
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not _COMMAND.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: command description must be non-empty")
        scope = (params.get("scope") or {}).get("type", "default")
        self.commands[(scope, str(params.get("language_code") or ""))] = commands
        return True

    def _m_deleteWebhook(self, params: JSON, files: dict[str, Upload]) -> bool:
        """Stop webhook delivery (and optionally drop queued updates)."""
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._pending = []
        return True

    def _m_setWebhook(self, params: JSON, files: dict[str, Upload]) -> bool:
        """Deliver updates to a URL with a secret header."""
        url = str(params.get("url") or "")
        if not url:
            self.webhook = {}
            return True
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not _SECRET.match(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": params.get("max_connections", 40),
        }
        if params.get("allowed_updates") is not None:
            self.allowed_updates = list(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self._pending = []
        return True

    def _m_getWebhookInfo(self, params: JSON, files: dict[str, Upload]) -> JSON:
        """The webhook as Telegram reports it."""
        info: JSON = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook.get("url"):
            info["max_connections"] = self.webhook.get("max_connections", 40)
            if self.webhook.get("allowed_updates") is not None:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji such as 🙂 counts 2).

    Written out here rather than imported, so the peer checks the bot independently.
    """
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


class _DropConnection(Exception):
    """Close the connection without an answer (a network failure)."""


def _decode(params: dict[str, str]) -> JSON:
    """Typed values from form fields, as Telegram reads them."""
    decoded: JSON = {}
    for key, value in params.items():
        if key in INT_FIELDS:
            decoded[key] = int(value)
        elif key in BOOL_FIELDS:
            decoded[key] = value.lower() in ("true", "1")
        elif key in JSON_FIELDS:
            decoded[key] = json.loads(value)
        else:
            decoded[key] = value
    return decoded


def _read_params(handler: BaseHTTPRequestHandler) -> tuple[JSON, dict[str, Upload]]:
    """Parameters from the query string and the body (form, JSON or multipart)."""
    raw: dict[str, str] = dict(parse_qsl(urlsplit(handler.path).query))
    files: dict[str, Upload] = {}
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else b""
    content_type = handler.headers.get("Content-Type", "")
    if content_type.startswith("application/json") and body:
        data = json.loads(body)
        return {**_decode(raw), **data}, files
    if content_type.startswith("application/x-www-form-urlencoded"):
        raw.update(parse_qsl(body.decode(), keep_blank_values=True))
    elif content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                payload = b""
            if filename is not None:
                files[str(name)] = Upload(filename, part.get_content_type(), payload)
            else:
                raw[str(name)] = payload.decode()
    return _decode(raw), files


def _make_handler(peer: BotApiPeer) -> type[BaseHTTPRequestHandler]:
    """An HTTP handler class bound to one peer."""

    class Handler(BaseHTTPRequestHandler):
        """Serves ``/bot<token>/<method>``."""

        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet (the peer records calls instead)."""

        def do_GET(self) -> None:
            """Bot API methods may be called with GET too."""
            self._serve()

        def do_POST(self) -> None:
            """The usual way to call a method."""
            self._serve()

        def _serve(self) -> None:
            """Check the token, run the method, answer in Bot API JSON."""
            path = urlsplit(self.path).path
            download = re.fullmatch(r"/file/bot([^/]+)/(.+)", path)
            if download is not None:
                self._send_file(*(unquote(part) for part in download.groups()))
                return
            match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", path)
            if match is None:
                self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            token, method = match.groups()
            params, files = _read_params(self)
            if token != peer.token:
                self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            try:
                result = peer.handle(method, params, files)
            except _DropConnection:
                self.close_connection = True
                self.connection.close()
                return
            except ApiError as exc:
                body: JSON = {"ok": False, "error_code": exc.code, "description": exc.description}
                if exc.parameters:
                    body["parameters"] = exc.parameters
                self._answer(exc.code, body)
                return
            self._answer(200, {"ok": True, "result": result})

        def _send_file(self, token: str, file_path: str) -> None:
            """A file download, as Telegram's file server gives it."""
            content = peer.download(file_path) if token == peer.token else None
            if content is None:
                self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _answer(self, status: int, body: JSON) -> None:
            """Write a JSON answer."""
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the bot gave up waiting (a cancelled long poll)

    return Handler


@contextmanager
def running_peer(token: str = TOKEN) -> Iterator[BotApiPeer]:
    """A started peer, stopped afterwards."""
    peer = BotApiPeer(token).start()
    try:
        yield peer
    finally:
        peer.stop()
