"""The Telegram channel against a real HTTP Bot API peer, with a scripted stand-in engine.

These are unit tests of the adapter (what goes over the Bot API for each kind of
update); the end-to-end tests in ``test_telegram_e2e.py`` run the real
``skillspark run`` process with the real engine and database.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from bot.settings import Settings
from bot.telegram.app import build_application, command_menus, serve, start_bot
from bot.telegram.channel import TelegramChannel
from bot.telegram.limiter import PacedRateLimiter
from bot.telegram.render import split_text, telegram_length
from bot.types import Button, Incoming, MemberKey, Reply
from storage.inbox import MemoryInbox
from tests.botapi_peer import PORTS, TOKEN, BotApiPeer

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
TEXTS: dict[str, str] = yaml.safe_load(
    (ROOT / "dialogues" / "en" / "telegram.yml").read_text(encoding="utf-8")
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class ScriptedEngine:
    """A stand-in engine: numbered yes/no questions, one after another (unit tests only)."""

    def __init__(self) -> None:
        """Nothing asked yet."""
        self.calls: list[tuple[MemberKey, Incoming | None, str | None]] = []
        self.stored: set[str] = set()
        self.seq: dict[str, int] = {}
        self.replies_for: dict[str, list[Reply]] = {}
        self.gates: dict[str, asyncio.Event] = {}

    def question(self, member: MemberKey) -> Reply:
        """The member's current question."""
        n = self.seq.setdefault(member.external_id, 1)
        buttons = (Button("yes", "✅ Yes"), Button("no", "❌ No"), Button("learn", "📚 Learn it"))
        return Reply(key=f"q{n}", text=f"Question {n} 🙂?", buttons=buttons, seq=n)

    def advance(self, member: MemberKey) -> Reply:
        """Move to the next question."""
        self.seq[member.external_id] = self.seq.setdefault(member.external_id, 1) + 1
        return self.question(member)

    async def handle(
        self, member: MemberKey, incoming: Incoming, *, dedup_key: str | None = None
    ) -> list[Reply]:
        """Answer like the real engine would, in shape."""
        self.calls.append((member, incoming, dedup_key))
        gate = self.gates.get(incoming.value)
        if gate is not None:
            await gate.wait()
        if dedup_key is not None:
            if dedup_key in self.stored:
                return []
            self.stored.add(dedup_key)
        if incoming.value == "boom":
            raise RuntimeError("engine broke")
        if incoming.value in self.replies_for:
            return self.replies_for[incoming.value]
        if incoming.kind == "command" and incoming.value == "start":
            return [Reply("hello", "Hello 👋"), self.question(member)]
        if incoming.kind == "button":
            if incoming.seq != self.seq.get(member.external_id, 1):
                return [Reply("input.old_button", "That question is finished 🙂."),
                        self.question(member)]  # fmt: skip
            return [Reply("thanks", "Thank you 🙏"), self.advance(member)]
        if incoming.kind == "unsupported":
            return [Reply("input.unsupported", f"I cannot read a {incoming.value} 🙂.")]
        return [Reply("echo", f"You said: {incoming.value}"), self.advance(member)]

    async def current_prompt(self, member: MemberKey) -> list[Reply]:
        """Show the current question."""
        self.calls.append((member, None, None))
        return [self.question(member)]


def free_port() -> int:
    """A free port in this suite's range."""
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


async def until(check: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking peer wait off the event loop (the bot runs on it)."""
    return await asyncio.to_thread(check, *args, **kwargs)


@pytest.fixture
def peer() -> Any:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


@pytest.fixture
def engine() -> ScriptedEngine:
    """A fresh stand-in engine."""
    return ScriptedEngine()


@asynccontextmanager
async def running_bot(
    peer: BotApiPeer,
    engine: ScriptedEngine,
    inbox: MemoryInbox | None = None,
    *,
    max_open: int = 2_000,
    **env: Any,
) -> AsyncIterator[TelegramChannel]:
    """The channel with a PTB application, polling (or serving a webhook) until the end."""
    values: dict[str, Any] = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": peer.base_url,
        **env,
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    channel = TelegramChannel(
        engine, TEXTS.__getitem__, inbox=inbox or MemoryInbox(), max_open=max_open
    )
    limiter = PacedRateLimiter(chat_rate=100, backoff_s=0.01)
    app = build_application(settings, channel, rate_limiter=limiter)
    stop = asyncio.Event()
    assert await start_bot(app, stop)
    menus = command_menus({"en": TEXTS}, "en")
    task = asyncio.create_task(serve(app, channel, settings, stop, menus))
    try:
        yield channel
    finally:
        stop.set()
        await task
        await app.shutdown()


ANA = 4201


async def test_start_shows_typing_then_the_replies_with_buttons(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    async with running_bot(peer, engine):
        update = peer.command(ana, "start")
        sent = await until(peer.wait_sent, ANA, 2)
    assert [m["text"] for m in sent] == ["Hello 👋", "Question 1 🙂?"]
    assert engine.calls[0] == (
        MemberKey("telegram", str(ANA), "Ana"),
        Incoming("command", "start"),
        f"tg:{update['update_id']}",
    )
    methods = [c.method for c in peer.chat_calls(ANA)]
    assert methods == ["sendChatAction", "sendMessage", "sendMessage"]
    assert peer.calls_of("sendChatAction")[0].params["action"] == "typing"
    rows = sent[1]["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == [["✅ Yes", "❌ No"], ["📚 Learn it"]]
    assert [b["callback_data"] for row in rows for b in row] == ["1:yes", "1:no", "1:learn"]


async def test_a_tap_is_answered_its_buttons_vanish_and_the_engine_gets_the_choice(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    async with running_bot(peer, engine):
        peer.command(ana, "start")
        question = await until(peer.wait_buttons, ANA)
        mark = peer.mark()
        tap = peer.tap_button(ana, question, "yes")
        await until(peer.wait_text, ANA, "Question 2", mark)
    assert engine.calls[-1][1] == Incoming("button", "yes", 1)
    calls = peer.chat_calls(ANA, mark)
    answered = peer.calls_of("answerCallbackQuery", since=mark)
    assert [c.params["callback_query_id"] for c in answered] == [tap["callback_query"]["id"]]
    assert [c.method for c in calls] == [
        "editMessageReplyMarkup",
        "sendChatAction",
        "sendMessage",
        "sendMessage",
    ]
    assert calls[0].params["message_id"] == question["message_id"]
    assert peer.buttons(question) == []


async def test_an_old_button_gets_the_engines_kind_reply_and_loses_its_buttons(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    async with running_bot(peer, engine):
        peer.command(ana, "start")
        first = await until(peer.wait_buttons, ANA)
        first_copy = dict(first)  # keeps the buttons as the member's phone still shows them
        peer.tap_button(ana, first, "yes")
        await until(peer.wait_text, ANA, "Question 2")
        mark = peer.mark()
        peer.tap(ana, first_copy, "1:no")  # the old question, tapped again
        await until(peer.wait_text, ANA, "finished", mark)
    assert engine.calls[-1][1] == Incoming("button", "no", 1)
    assert len(peer.calls_of("answerCallbackQuery", since=mark)) == 1


async def test_a_text_answer_removes_the_buttons_of_the_question_it_answered(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    async with running_bot(peer, engine):
        peer.command(ana, "start")
        question = await until(peer.wait_buttons, ANA)
        mark = peer.mark()
        peer.text(ana, "yes I do")
        await until(peer.wait_text, ANA, "Question 2", mark)
        await until(peer.wait_for, lambda: peer.calls_of("editMessageReplyMarkup", ANA, mark))
    assert peer.buttons(question) == []
    newest = peer.sent(ANA)[-1]
    assert [b["callback_data"] for b in peer.buttons(newest)] == ["2:yes", "2:no", "2:learn"]


async def test_a_repeated_update_is_answered_once(peer: BotApiPeer, engine: ScriptedEngine) -> None:
    ana = peer.user(ANA, "Ana")
    async with running_bot(peer, engine):
        update = peer.text(ana, "I walk the dog")
        await until(peer.wait_sent, ANA, 2)
        peer.inject(dict(update), again=True)  # Telegram delivers the same update again
        peer.text(ana, "and I cook")
        await until(peer.wait_text, ANA, "and I cook")
    assert [m["text"] for m in peer.sent(ANA)] == [
        "You said: I walk the dog",
        "Question 2 🙂?",
        "You said: and I cook",
        "Question 3 🙂?",
    ]
    keys = [key for _, _, key in engine.calls]
    assert keys.count(f"tg:{update['update_id']}") == 2  # the engine saw it and said "done"


async def test_an_update_stored_before_a_restart_shows_where_the_member_is(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    update = peer.text(ana, "I walk the dog")
    engine.stored.add(f"tg:{update['update_id']}")  # stored by a run that died before replying
    async with running_bot(peer, engine):
        sent = await until(peer.wait_sent, ANA, 1)
    assert sent[0]["text"] == "Question 1 🙂?"
    assert engine.calls[-1] == (MemberKey("telegram", str(ANA), "Ana"), None, None)


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "location"])
async def test_things_that_are_not_text_go_to_the_engine_by_kind(
    peer: BotApiPeer, engine: ScriptedEngine, kind: str
) -> None:
    ana = peer.user(ANA, "Ana")
    payloads: dict[str, Any] = {
        "photo": [{"file_id": "p", "file_unique_id": "p", "width": 9, "height": 9}],
        "voice": {"file_id": "v", "file_unique_id": "v", "duration": 2},
        "location": {"latitude": 51.5, "longitude": -0.12},
    }
    async with running_bot(peer, engine):
        if kind == "sticker":
            peer.sticker(ana)
        else:
            peer.media(ana, kind, payloads[kind])
        await until(peer.wait_text, ANA, f"cannot read a {kind}")
    assert engine.calls[-1][1] == Incoming("unsupported", kind)


async def test_edits_are_ignored(peer: BotApiPeer, engine: ScriptedEngine) -> None:
    ana = peer.user(ANA, "Ana")
    async with running_bot(peer, engine):
        first = peer.text(ana, "I like cats")
        await until(peer.wait_sent, ANA, 2)
        peer.edit(ana, first["message"], "I like dogs")
        peer.text(ana, "done")
        await until(peer.wait_text, ANA, "You said: done")
    said = [m["text"] for m in peer.sent(ANA) if m["text"].startswith("You said")]
    assert said == ["You said: I like cats", "You said: done"]
    assert [i.value for _, i, _ in engine.calls if i] == ["I like cats", "done"]


async def test_in_a_group_the_bot_explains_once_and_then_stays_quiet(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    house = peer.group(-5001)
    async with running_bot(peer, engine):
        peer.added_to_group(house, ana)
        peer.text(ana, "hello bot", chat=house)
        peer.command(ana, "start", chat=house)
        peer.text(ana, "private hello")  # a later private message shows all earlier were handled
        await until(peer.wait_sent, ANA, 2)
    sent = peer.sent(-5001)
    assert [m["text"] for m in sent] == [TEXTS["telegram.private_only"]]
    button = sent[0]["reply_markup"]["inline_keyboard"][0][0]
    assert button == {
        "text": TEXTS["button.talk_one_to_one"],
        "url": "https://t.me/SkillSparkTestBot",
    }
    assert [i.value for _, i, _ in engine.calls if i] == ["private hello"]


async def test_the_command_menu_is_registered_for_private_chats(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    async with running_bot(peer, engine):
        await until(peer.wait_for, lambda: peer.calls_of("setMyCommands"))
    commands = peer.commands[("all_private_chats", "")]
    assert [c["command"] for c in commands] == [
        "start",
        "help",
        "myskills",
        "pause",
        "resume",
        "stop",
        "settings",
    ]
    assert commands[2]["description"] == TEXTS["telegram.command.myskills"]


async def test_a_long_reply_is_split_at_sentences_with_buttons_on_the_last_part(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    long_text = " ".join(f"This is sentence {i} of a long story 📖." for i in range(300))
    buttons = (Button("ok", "👍 OK"),)
    engine.replies_for["story"] = [Reply("story", long_text, buttons, seq=1)]
    parts = len(split_text(long_text))
    async with running_bot(peer, engine):
        peer.text(ana, "story")
        sent = await until(peer.wait_sent, ANA, parts)
    assert parts >= 3 and len(sent) == parts
    assert all(telegram_length(m["text"]) <= 4096 for m in sent)
    assert all(m["text"].endswith("📖.") for m in sent)
    assert " ".join(m["text"] for m in sent) == long_text
    assert [bool(peer.buttons(m)) for m in sent] == [False] * (len(sent) - 1) + [True]


async def test_offer_buttons_stay_when_the_question_is_shown_again_and_when_it_moves_on(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    card = Reply("myskills", "Your skills ⭐", (Button("rm:list", "🗑️ Remove a skill"),), seq=0)
    engine.replies_for["myskills"] = [card, engine.question(MemberKey("telegram", str(ANA)))]
    async with running_bot(peer, engine):
        peer.command(ana, "start")
        first = await until(peer.wait_buttons, ANA)
        mark = peer.mark()
        peer.text(ana, "myskills")
        await until(peer.wait_sent, ANA, 2, mark)
        offer, question = peer.sent(ANA, mark)
        peer.tap_button(ana, question, "yes")
        await until(peer.wait_text, ANA, "Question 2 🙂?")
        await until(peer.wait_for, lambda: not peer.buttons(question), 10, "old buttons gone")
    assert peer.buttons(offer) != []  # "Remove a skill" still works
    assert peer.buttons(first) == []  # the first copy of question 1 lost its buttons
    edited = {c.params["message_id"] for c in peer.calls_of("editMessageReplyMarkup")}
    assert offer["message_id"] not in {int(i) for i in edited}


async def test_pictures_and_documents_are_uploaded(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    engine.replies_for["card"] = [
        Reply("myskills", "Your skills 🌟", image_png=PNG),
        Reply("export", "Your answers 📄", document=("answers.csv", b"question,answer\n")),
    ]
    async with running_bot(peer, engine):
        peer.text(ana, "card")
        await until(peer.wait_sent, ANA, 2)
    photo = peer.calls_of("sendPhoto", ANA)[0]
    assert photo.files["photo"].content == PNG
    assert photo.params["caption"] == "Your skills 🌟"
    document = peer.calls_of("sendDocument", ANA)[0]
    assert document.files["document"].filename == "answers.csv"
    assert document.files["document"].content == b"question,answer\n"


async def test_when_the_engine_fails_the_member_gets_a_kind_sorry(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    async with running_bot(peer, engine):
        peer.text(ana, "boom")
        peer.text(ana, "hello")
        await until(peer.wait_text, ANA, "You said: hello")
    assert peer.sent(ANA)[0]["text"] == TEXTS["telegram.sorry"]


async def test_network_errors_are_retried_and_the_reply_arrives_once(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    peer.fail("sendMessage", times=2, status=502)
    peer.fail("editMessageReplyMarkup", drop=True)
    async with running_bot(peer, engine):
        peer.command(ana, "start")
        question = await until(peer.wait_buttons, ANA)
        peer.tap_button(ana, question, "yes")
        await until(peer.wait_text, ANA, "Question 2")
    assert [m["text"] for m in peer.sent(ANA)] == [
        "Hello 👋",
        "Question 1 🙂?",
        "Thank you 🙏",
        "Question 2 🙂?",
    ]
    failed = [c.status for c in peer.calls if c.status != 200]
    assert failed == [502, 502, 0]
    assert peer.buttons(question) == []


async def test_telegram_asking_to_slow_down_is_obeyed(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    peer.fail("sendMessage", status=429, description="Too Many Requests: retry after 1",
              retry_after=1)  # fmt: skip
    async with running_bot(peer, engine):
        peer.command(ana, "start")
        sent = await until(peer.wait_sent, ANA, 2)
    assert [m["text"] for m in sent] == ["Hello 👋", "Question 1 🙂?"]


async def test_failing_nice_to_have_calls_do_not_stop_the_conversation(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    peer.fail("setMyCommands", times=10, status=500, description="Internal Server Error")
    peer.fail("sendChatAction", times=10, status=500, description="Internal Server Error")
    async with running_bot(peer, engine):
        peer.command(ana, "start")
        sent = await until(peer.wait_sent, ANA, 2)
    assert [m["text"] for m in sent] == ["Hello 👋", "Question 1 🙂?"]
    assert peer.calls_of("sendChatAction") == []


async def test_one_member_in_order_and_others_not_kept_waiting(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana, bo = peer.user(ANA, "Ana"), peer.user(4202, "Bo")
    engine.gates["first"] = asyncio.Event()
    async with running_bot(peer, engine):
        peer.text(ana, "first")  # the engine is slow on this one
        for word in ("second", "third"):
            peer.text(ana, word)
        peer.text(bo, "hello")
        await until(peer.wait_text, 4202, "You said: hello")
        assert peer.sent(ANA) == []  # Ana's later messages wait for her first one
        engine.gates["first"].set()
        await until(peer.wait_text, ANA, "You said: third")
    said = [m["text"] for m in peer.sent(ANA) if m["text"].startswith("You said")]
    assert said == ["You said: first", "You said: second", "You said: third"]
    ana_inputs = [i.value for m, i, _ in engine.calls if i and m.external_id == str(ANA)]
    assert ana_inputs == ["first", "second", "third"]


async def test_updates_are_confirmed_once_in_the_inbox_and_leave_it_once_answered(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    inbox = MemoryInbox()
    problems: list[str] = []
    ids: list[int] = []

    def check(offset: int | None) -> None:
        for update_id in ids:
            kept = update_id in inbox.rows or f"tg:{update_id}" in engine.stored
            if offset is not None and update_id < offset and not kept:
                problems.append(f"update {update_id} confirmed before it was kept")

    peer.on_get_updates = check
    engine.gates["answer 0"] = asyncio.Event()
    async with running_bot(peer, engine, inbox):
        for i in range(5):
            ids.append(peer.text(ana, f"answer {i}")["update_id"])
        await until(peer.wait_for, lambda: engine.calls)
        # The engine is busy with the first answer; polling goes on and confirms all five.
        await until(peer.wait_for, lambda: peer.pending_count() == 0, 10, "confirmation")
        assert sorted(inbox.rows) == ids  # kept until they are answered
        assert peer.sent(ANA) == []
        engine.gates["answer 0"].set()
        await until(peer.wait_text, ANA, "You said: answer 4")
        await until(peer.wait_for, lambda: not inbox.rows, 10, "an empty inbox")
    assert problems == []
    said = [m["text"] for m in peer.sent(ANA) if m["text"].startswith("You said")]
    assert said == [f"You said: answer {i}" for i in range(5)]


async def test_one_members_slow_turn_does_not_hold_up_later_updates_of_others(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana, bo = peer.user(ANA, "Ana"), peer.user(4202, "Bo")
    engine.gates["slow"] = asyncio.Event()
    async with running_bot(peer, engine):
        peer.text(ana, "slow")
        await until(peer.wait_for, lambda: engine.calls, 10, "Ana's turn")
        await until(peer.wait_for, lambda: peer.pending_count() == 0, 10, "confirmation")
        peer.text(bo, "hello")  # a later batch, while Ana's turn is still going on
        await until(peer.wait_text, 4202, "You said: hello")
        assert peer.sent(ANA) == []
        engine.gates["slow"].set()
        await until(peer.wait_text, ANA, "You said: slow")


async def test_a_stop_that_runs_out_of_time_keeps_the_unfinished_turn_for_the_next_start(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    """The turn still running at the end of the stop is stopped; its update is not lost."""
    ana = peer.user(ANA, "Ana")
    inbox = MemoryInbox()
    engine.gates["never ends"] = asyncio.Event()  # never set: the turn outlasts the stop
    async with running_bot(peer, engine, inbox, SKILLSPARK_STOP_SECONDS="0.5"):
        peer.text(ana, "hello")
        await until(peer.wait_text, ANA, "You said: hello")
        hanging = peer.text(ana, "never ends")
        await until(peer.wait_for, lambda: len(engine.calls) == 2, 10, "the second turn")
    assert list(inbox.rows) == [hanging["update_id"]]  # answered ones gone, this one kept


async def test_updates_kept_from_an_earlier_run_are_handled_at_start(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    inbox = MemoryInbox()
    # An earlier run kept these, confirmed them to Telegram and stopped before answering.
    earlier = [peer.text(ana, f"from before {i}") for i in (1, 2, 3)]
    peer.take_pending()
    for stored in earlier[:2]:  # the first two were stored, not answered
        engine.stored.add(f"tg:{stored['update_id']}")
    await inbox.keep([(u["update_id"], json.dumps(u)) for u in earlier])
    async with running_bot(peer, engine, inbox):
        await until(peer.wait_text, ANA, "You said: from before 3")
        await until(peer.wait_for, lambda: not inbox.rows, 10, "an empty inbox")
    texts = [m["text"] for m in peer.sent(ANA)]
    # The stored ones are not answered twice: the member is shown where they are
    # (once, not once for each), then the next one is answered.
    assert texts == ["Question 1 🙂?", "You said: from before 3", "Question 2 🙂?"]
    assert [i.value if i else None for _, i, _ in engine.calls] == [
        "from before 1",
        None,
        "from before 2",
        "from before 3",
    ]


async def test_a_reply_the_network_kept_back_stays_in_the_inbox_for_the_next_start(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    inbox = MemoryInbox()
    peer.fail("sendMessage", times=5, drop=True)  # more than the limiter's four retries
    async with running_bot(peer, engine, inbox) as channel:
        lost = peer.text(ana, "hello")
        await until(peer.wait_for, lambda: peer.received("sendMessage") >= 5, 20, "the tries")
        await until(peer.wait_for, lambda: channel.open_updates == 0, 10, "given up")
        assert list(inbox.rows) == [lost["update_id"]]  # kept: shown again at the next start
        peer.text(ana, "again")
        await until(peer.wait_text, ANA, "You said: again")
    assert list(inbox.rows) == [lost["update_id"]]


async def test_one_chats_updates_keep_their_order_when_keeping_them_finishes_out_of_order(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")

    class UnevenInbox(MemoryInbox):
        """Keeping the first update is slow; later ones are quick (a busy connection pool)."""

        def __init__(self) -> None:
            super().__init__()
            self.slow = asyncio.Event()

        async def keep(self, updates: Any, answered: Any = ()) -> None:
            if any('"first"' in body for _, body in updates):
                await self.slow.wait()
            await super().keep(updates, answered)

    inbox = UnevenInbox()
    async with running_bot(peer, engine, inbox) as channel:
        first, second = peer.text(ana, "first"), peer.text(ana, "second")
        peer.take_pending()  # delivered one at a time, as two webhook calls would be
        one = asyncio.create_task(channel.receive([first]))
        await asyncio.sleep(0.05)
        await channel.receive([second])  # kept at once
        await asyncio.sleep(0.2)
        assert engine.calls == []  # "second" waits for "first"
        inbox.slow.set()
        await one
        await until(peer.wait_text, ANA, "You said: second")
    assert [i.value for _, i, _ in engine.calls if i] == ["first", "second"]


async def test_when_keeping_fails_a_copy_waiting_for_it_fails_too(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")

    class FailingInbox(MemoryInbox):
        """The first keep fails after a while (the database went away)."""

        def __init__(self) -> None:
            super().__init__()
            self.go_on = asyncio.Event()
            self.failed = False

        async def keep(self, updates: Any, answered: Any = ()) -> None:
            await self.go_on.wait()
            if not self.failed:
                self.failed = True
                raise OSError("database is down")
            await super().keep(updates, answered)

    inbox = FailingInbox()
    async with running_bot(peer, engine, inbox) as channel:
        update = peer.text(ana, "hello")
        peer.take_pending()
        first = asyncio.create_task(channel.receive([update]))
        await asyncio.sleep(0.05)
        copy = asyncio.create_task(channel.receive([dict(update)]))
        await asyncio.sleep(0.05)
        inbox.go_on.set()
        results = await asyncio.gather(first, copy, return_exceptions=True)
        assert all(isinstance(r, OSError) for r in results)  # neither may be confirmed
        assert channel.open_updates == 0 and engine.calls == []
        await channel.receive([update])  # Telegram sends it again; now it is kept
        await until(peer.wait_text, ANA, "You said: hello")
        await until(peer.wait_for, lambda: not inbox.rows, 10, "an empty inbox")
    assert [i.value for _, i, _ in engine.calls if i] == ["hello"]


async def test_a_copy_arriving_while_the_first_is_being_kept_is_handled_once(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")

    class SlowInbox(MemoryInbox):
        """Keeps updates only when allowed to (a slow disk)."""

        def __init__(self) -> None:
            super().__init__()
            self.go_on = asyncio.Event()

        async def keep(self, updates: Any, answered: Any = ()) -> None:
            await self.go_on.wait()
            await super().keep(updates, answered)

    inbox = SlowInbox()
    async with running_bot(peer, engine, inbox) as channel:
        update = peer.text(ana, "hello")
        peer.take_pending()  # given to the channel directly below, twice (a webhook retry)
        first = asyncio.create_task(channel.receive([update]))
        await asyncio.sleep(0.05)
        copy = asyncio.create_task(channel.receive([dict(update)]))
        await asyncio.sleep(0.05)
        assert not copy.done()  # a copy is confirmed only once the first one is kept
        inbox.go_on.set()
        await asyncio.gather(first, copy)
        await until(peer.wait_text, ANA, "You said: hello")
        await until(peer.wait_for, lambda: not inbox.rows, 10, "an empty inbox")
    assert [i.value for _, i, _ in engine.calls if i] == ["hello"]
    assert [m["text"] for m in peer.sent(ANA)] == ["You said: hello", "Question 2 🙂?"]


async def test_when_the_bot_is_far_behind_telegram_keeps_the_rest(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    users = [peer.user(5100 + i, f"M{i}") for i in range(5)]
    engine.gates["wait"] = asyncio.Event()
    async with running_bot(peer, engine, max_open=3) as channel:
        for user in users[:3]:
            peer.text(user, "wait")
        await until(peer.wait_for, lambda: len(engine.calls) == 3, 10, "the first three")
        assert channel.open_updates == 3
        polls = peer.received("getUpdates")
        for user in users[3:]:
            peer.text(user, "later")
        await asyncio.sleep(0.5)
        # full: no more fetching (the kept three are confirmed with the next fetch)
        assert peer.received("getUpdates") == polls
        assert len(engine.calls) == 3
        engine.gates["wait"].set()
        for user in users:
            await until(peer.wait_buttons, user["id"])
        await until(peer.wait_for, lambda: peer.pending_count() == 0, 10, "confirmation")
        await until(peer.wait_for, lambda: channel.open_updates == 0, 10, "all answered")
    assert sorted(i.value for _, i, _ in engine.calls if i) == ["later"] * 2 + ["wait"] * 3


async def test_when_the_inbox_cannot_keep_updates_they_are_not_confirmed(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")

    class BrokenInbox(MemoryInbox):
        """Fails to keep the first two batches (a database that is briefly down)."""

        failures = 2

        async def keep(self, updates: Any, answered: Any = ()) -> None:
            if self.failures:
                self.failures -= 1
                raise OSError("database is down")
            await super().keep(updates, answered)

    inbox = BrokenInbox()
    confirmed: list[int | None] = []
    peer.on_get_updates = confirmed.append
    async with running_bot(peer, engine, inbox):
        update = peer.text(ana, "hello")
        await until(peer.wait_text, ANA, "You said: hello", 0, 20)
    assert inbox.failures == 0
    # Telegram was asked for the same update again (not confirmed) until it was kept.
    first_after = [o for o in confirmed if o is not None and o > update["update_id"]]
    assert first_after, "the update was never confirmed"
    assert [m["text"] for m in peer.sent(ANA)].count("You said: hello") == 1


async def test_webhook_mode_checks_the_secret_and_answers_once_the_update_is_kept(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana = peer.user(ANA, "Ana")
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    inbox = MemoryInbox()
    secret = "hook-secret-0123456789"
    engine.gates["start"] = asyncio.Event()
    async with running_bot(
        peer,
        engine,
        inbox,
        SKILLSPARK_WEBHOOK_URL=url,
        SKILLSPARK_WEBHOOK_SECRET=secret,
        SKILLSPARK_WEBHOOK_PORT=port,
    ):
        await until(peer.wait_for, lambda: peer.webhook.get("url"))
        assert peer.webhook["secret_token"] == secret
        assert set(peer.webhook["allowed_updates"]) >= {"message", "callback_query"}
        start = peer.command(ana, "start")
        assert peer.take_pending() == [start]  # delivered by webhook, not by polling
        assert await until(peer.push_webhook, start, secret="wrong") == 403
        assert await until(peer.push_webhook, start, secret=None) == 403
        assert engine.calls == [] and inbox.rows == {}
        assert await until(peer.push_webhook, start) == 200
        assert start["update_id"] in inbox.rows  # kept before Telegram hears 200
        engine.gates["start"].set()
        sent = await until(peer.wait_sent, ANA, 2)
        await until(peer.wait_for, lambda: not inbox.rows, 10, "an empty inbox")
    assert [m["text"] for m in sent] == ["Hello 👋", "Question 1 🙂?"]
    assert peer.calls_of("getUpdates") == []


async def test_webhook_asks_telegram_to_wait_when_the_bot_is_far_behind(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    ana, bo = peer.user(ANA, "Ana"), peer.user(4202, "Bo")
    port = free_port()
    engine.gates["wait"] = asyncio.Event()
    async with running_bot(
        peer,
        engine,
        max_open=1,
        SKILLSPARK_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        SKILLSPARK_WEBHOOK_PORT=port,
    ) as channel:
        await until(peer.wait_for, lambda: peer.webhook.get("url"))
        first, second = peer.text(ana, "wait"), peer.text(bo, "hello")
        peer.take_pending()
        assert await until(peer.push_webhook, first) == 200
        assert await until(peer.push_webhook, second) == 503  # Telegram sends it again later
        engine.gates["wait"].set()
        await until(peer.wait_for, lambda: channel.open_updates == 0, 10, "Ana answered")
        assert await until(peer.push_webhook, second) == 200
        await until(peer.wait_text, 4202, "You said: hello")


async def test_staff_alerts_are_sent_and_a_failure_is_raised_for_a_later_retry(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    peer.user(7001, "Jo")
    async with running_bot(peer, engine) as channel:
        await channel.send_alert(7001, "Member 3 wrote: help me 🆘")
        peer.fail("sendMessage", times=10, status=403, description="Forbidden: bot was blocked")
        with pytest.raises(Exception, match="blocked"):
            await channel.send_alert(7001, "second alert")
    assert [m["text"] for m in peer.sent(7001)] == ["Member 3 wrote: help me 🆘"]
