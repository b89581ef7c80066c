"""End to end: the real ``skillspark run`` process against a real HTTP Bot API peer.

A test plays a member on Telegram (through the peer) and checks the exact Bot API
calls the bot makes and what it stored in its SQLite file. The bot process is
the real one: real engine, real storage, real PTB over HTTP.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import load_app_content
from bot.content import Content, Question
from bot.conversation.prompts import without_picture
from bot.conversation.words import skills_words
from bot.easyread import pictures
from bot.settings import Settings
from tests.botapi_peer import PORTS, TOKEN, ApiCall, BotApiPeer
from tests.chat import CONSENT_EXPLAINED

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SKILLSPARK = ROOT / ".venv" / "bin" / "skillspark"
STAFF = "Jo at the office"
START_S = 120  # the process imports spaCy and migrates the database first


@pytest.fixture(scope="module")
def content() -> Content:
    """The real dialogues, to know what the member should read."""
    return load_app_content(Settings(_env_file=None))  # type: ignore[call-arg]


def say(content: Content, key: str, **values: str) -> str:
    """A message as the bot says it to Sam."""
    return content.text(
        key, "en", **{"name": "Sam", "staff": STAFF, "kept_for": "2 years", **values}
    )


@dataclass
class BotProcess:
    """A running ``skillspark run`` process and where it writes."""

    proc: subprocess.Popen[bytes]
    log: Path
    db: Path

    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """Ask it to stop (SIGTERM) and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("the bot did not stop on SIGTERM") from None
        return int(self.proc.returncode)

    def crash(self) -> None:
        """Kill it at once (SIGKILL), like a power cut."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the bot's database (read-only)."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


def start_bot(peer: BotApiPeer, workdir: Path, name: str, **env: str) -> BotProcess:
    """Start ``skillspark run`` pointed at the peer, with its own SQLite file."""
    db = workdir / "skillspark.db"
    log = workdir / f"{name}.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLSPARK_", "TELEGRAM_"))}
    clean.update(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": peer.base_url,
            "SKILLSPARK_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "SKILLSPARK_DATA_DIR": str(workdir / "data"),
            "SKILLSPARK_NLU_ENABLED": "false",
            "SKILLSPARK_LOG_LEVEL": "DEBUG",
            "SKILLSPARK_STAFF_CONTACT": STAFF,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(SKILLSPARK), "run"], cwd=workdir, env=clean, stdout=out, stderr=subprocess.STDOUT
        )
    return BotProcess(proc, log, db)


def wait_polling(peer: BotApiPeer, bot: BotProcess, before: int = 0) -> None:
    """Wait until the bot polls for updates (it has started); ``before``: polls seen earlier."""
    try:
        peer.wait_for(
            lambda: peer.received("getUpdates") > before or bot.proc.poll() is not None,
            START_S,
            "the bot to start polling",
        )
    finally:
        if bot.proc.poll() is not None:
            raise AssertionError(f"the bot stopped:\n{bot.output()[-4000:]}")


def methods(calls: list[ApiCall]) -> list[str]:
    """Method names of calls."""
    return [c.method for c in calls]


def member_calls(peer: BotApiPeer, chat_id: int, since: int) -> list[ApiCall]:
    """Successful calls about one member's chat, including button answers (no chat id)."""
    return [
        c
        for c in peer.calls[since:]
        if c.status == 200 and (c.chat_id == chat_id or c.method == "answerCallbackQuery")
    ]


def split_answers(calls: list[ApiCall]) -> tuple[list[ApiCall], list[ApiCall]]:
    """Button answers (sent beside the chat's calls, in no fixed order), and the rest."""
    answers = [c for c in calls if c.method == "answerCallbackQuery"]
    return answers, [c for c in calls if c.method != "answerCallbackQuery"]


def wait_turn(peer: BotApiPeer, chat_id: int, since: int, messages: int) -> list[ApiCall]:
    """Wait for ``messages`` new messages in the chat; return the member's calls since."""
    peer.wait_sent(chat_id, messages, since, timeout=60)
    return member_calls(peer, chat_id, since)


def press(peer: BotApiPeer, user: dict[str, Any], choice: str) -> list[dict[str, Any]]:
    """Tap a button of the newest question, wait for the next question; the messages since."""
    chat_id = user["id"]
    question = peer.wait_buttons(chat_id)
    mark = peer.mark()
    peer.tap_button(user, question, choice)
    peer.wait_buttons(chat_id, mark, timeout=60)
    return peer.sent(chat_id, mark)


def question_text(content: Content, topic: int = 0, number: int = 1, **values: str) -> str:
    """A topic question as shown: "🍳 Question 1 of 7", then its words (one picture)."""
    chosen = content.topics[topic]
    lead = say(
        content,
        "topic.progress",
        emoji=next(iter(pictures(say(content, chosen.title))), ""),
        number=str(number),
        count=str(len(chosen.questions)),
    )
    return lead + "\n" + without_picture(say(content, chosen.questions[number - 1].text, **values))


def several_text(content: Content, question: Question, **values: str) -> str:
    """ "You are good at A and B. Is that right?" for a question's skills."""
    labels = [content.taxonomy.skills[s].label for s in question.skills]
    return say(content, "skill.several", skills=skills_words(labels), **values)


def choose_topic(peer: BotApiPeer, user: dict[str, Any], topic: str) -> dict[str, Any]:
    """At the topic choice, tap the topic (after "Something else" until it shows)."""
    for _ in range(20):
        shown = peer.wait_buttons(user["id"])
        choices = [b["callback_data"].split(":", 1)[-1] for b in peer.buttons(shown)]
        if f"topic:{topic}" in choices:
            mark = peer.mark()
            peer.tap_button(user, shown, f"topic:{topic}")
            return peer.wait_buttons(user["id"], mark, timeout=60)
        mark = peer.mark()
        peer.tap_button(user, shown, "more")
        peer.wait_buttons(user["id"], mark, timeout=60)
    raise AssertionError(f"topic {topic!r} is never offered")


def onboard(
    peer: BotApiPeer, user: dict[str, Any], name: str, *, topic: str | None = None
) -> dict[str, Any]:
    """/start, the name, "I will read them", yes, OK, OK, a feeling, a topic: its 1st question.

    With ``topic=None`` it stops at the topic choice and returns that message.
    """
    mark = peer.mark()
    peer.command(user, "start")
    asked = peer.wait_buttons(user["id"], mark, timeout=60)
    mark = peer.mark()
    peer.tap_button(user, asked, "read_myself")
    peer.wait_sent(user["id"], 1, mark, timeout=60)
    mark = peer.mark()
    peer.text(user, name)
    peer.wait_buttons(user["id"], mark, timeout=60)
    for choice in ("yes", "ok", "ok", "feel_ok"):
        press(peer, user, choice)
    if topic is None:
        return peer.wait_buttons(user["id"])
    return choose_topic(peer, user, topic)


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


def test_a_member_goes_through_onboarding_and_a_question_on_telegram(
    peer: BotApiPeer, tmp_path: Path, content: Content
) -> None:
    sam = peer.user(5001, "Sam")
    bot = start_bot(peer, tmp_path, "journey")
    try:
        wait_polling(peer, bot)
        menu = peer.wait_for(lambda: peer.commands.get(("all_private_chats", "")))
        assert [c["command"] for c in menu] == [
            "start", "help", "myskills", "pause", "resume", "stop", "settings",
        ]  # fmt: skip

        # /start: typing, then the welcome and "shall I read my messages to you?"
        mark = peer.mark()
        start = peer.command(sam, "start")
        calls = wait_turn(peer, 5001, mark, 2)
        assert methods(calls) == ["sendChatAction", "sendMessage", "sendMessage"]
        assert [c.params["text"] for c in calls[1:]] == [
            say(content, "onboarding.welcome"),
            say(content, "onboarding.read_aloud"),
        ]
        read_aloud = peer.sent(5001, mark)[-1]

        # "I will read them", then the name question
        mark = peer.mark()
        peer.tap_button(sam, read_aloud, "read_myself")
        peer.wait_text(5001, say(content, "onboarding.ask_name"), mark, timeout=60)

        # the name, typed: nice to meet you, what saying yes means (1 idea a message),
        # then the consent question with 2 buttons and Hear it
        mark = peer.mark()
        peer.text(sam, "Sam")
        peer.wait_buttons(5001, mark, timeout=60)
        assert [m["text"] for m in peer.sent(5001, mark)[:-1]] == [
            say(content, key) for key in ("onboarding.nice_to_meet", *CONSENT_EXPLAINED)
        ]
        consent = peer.sent(5001, mark)[-1]
        assert consent["text"] == say(content, "onboarding.consent")
        consent_buttons = peer.buttons(consent)
        assert [b["text"] for b in consent_buttons] == [
            say(content, "button.consent_yes"),
            say(content, "button.consent_no"),
            say(content, "button.hear"),
        ]
        assert all(len(b["callback_data"].encode()) <= 64 for b in consent_buttons)
        consent_copy = dict(consent)  # the member's phone, before the buttons go

        # consent by button: the press is answered and the buttons vanish
        mark = peer.mark()
        tap = peer.tap_button(sam, consent, "yes")
        peer.wait_for(lambda: peer.calls_of("answerCallbackQuery", since=mark), 30, "answered")
        calls = wait_turn(peer, 5001, mark, 2)
        # the answer to the press goes out beside the reply, so it may come before or after
        # the buttons are removed; the rest comes in order
        answers, chat = split_answers(calls)
        assert [c.params["callback_query_id"] for c in answers] == [tap["callback_query"]["id"]]
        assert methods(chat) == [
            "editMessageReplyMarkup",
            "sendChatAction",
            "sendMessage",
            "sendMessage",
        ]
        assert chat[0].params["message_id"] == consent["message_id"]
        assert "reply_markup" not in chat[0].params
        assert peer.buttons(consent) == []
        assert chat[2].params["text"] == say(content, "onboarding.consent_thanks")

        # OK, OK, and how the member feels: then the first question of the first topic
        for choice in ("ok", "ok", "feel_ok"):
            press(peer, sam, choice)
        topic = content.topics[0]
        first = topic.questions[0]
        question = choose_topic(peer, sam, topic.id)
        assert question["text"] == question_text(content)
        assert [b["callback_data"].split(":")[1] for b in peer.buttons(question)] == [
            "yes", "a_bit", "no", "learn", "skip", "hear",
        ]  # fmt: skip

        # an answer by button: the reflection, then both skills in one "is that right?"
        several = several_text(content, first)
        mark = peer.mark()
        peer.tap_button(sam, question, "yes")
        asked = peer.wait_text(5001, several, mark)
        assert peer.sent(5001, mark)[0]["text"] == say(content, first.reflect)
        assert [b["callback_data"].split(":")[1] for b in peer.buttons(asked)] == [
            "several_yes", "several_some", "several_no", "hear",
        ]  # fmt: skip

        # an old button (the consent question) gets the kind reply and the current question
        mark = peer.mark()
        peer.tap(sam, consent_copy, consent_buttons[0]["callback_data"])
        peer.wait_for(lambda: peer.calls_of("answerCallbackQuery", since=mark), 30, "answered")
        answers, _ = split_answers(wait_turn(peer, 5001, mark, 2))
        assert len(answers) == 1
        assert [m["text"] for m in peer.sent(5001, mark)] == [
            say(content, "input.old_button"),
            several,
        ]

        # a sticker: the kind reply, and the member stays where they are
        mark = peer.mark()
        peer.sticker(sam)
        wait_turn(peer, 5001, mark, 2)
        assert [m["text"] for m in peer.sent(5001, mark)] == [
            say(content, "input.unsupported"),
            several,
        ]

        # only some: each skill in turn; yes to the first, no to the second, the next question
        mark = peer.mark()
        peer.tap_button(sam, peer.wait_buttons(5001), "several_some")
        peer.wait_buttons(5001, mark)
        mark = peer.mark()
        peer.tap_button(sam, peer.wait_buttons(5001), "skill_yes")
        peer.wait_text(5001, say(content, "skill.confirmed"), mark)
        also = peer.wait_buttons(5001, mark)
        mark = peer.mark()
        peer.tap_button(sam, also, "skill_no")
        peer.wait_text(5001, question_text(content, number=2), mark)

        # an answer typed as words, and then Telegram delivering it a second time
        mark = peer.mark()
        typed = peer.text(sam, "I cook dinner for my friends")
        peer.wait_buttons(5001, mark)  # a turn ends with the question waiting
        mark = peer.mark()
        peer.inject(dict(typed), again=True)
        peer.command(sam, "pause")
        peer.wait_sent(5001, 1, mark)
        assert [m["text"] for m in peer.sent(5001, mark)] == [say(content, "confidence.end")]

        # pause: how do you feel, then the break
        mark = peer.mark()
        peer.tap_button(sam, peer.wait_buttons(5001), "feel_good")
        peer.wait_text(5001, say(content, "paused"), mark)

        # resume: welcome back
        mark = peer.mark()
        peer.command(sam, "resume")
        peer.wait_text(5001, say(content, "resume.welcome_back"), mark)
    finally:
        code = bot.stop()
    output = bot.output()
    assert code == 0, output[-4000:]
    assert peer.pending_count() == 0  # every update was confirmed, the last ones on the way out
    assert TOKEN not in output
    assert TOKEN.split(":")[1] not in output

    # what was stored
    members = bot.rows("SELECT id, first_name, consent FROM members WHERE telegram_id = ?", 5001)
    assert len(members) == 1
    member_id, first_name, consented = members[0]
    assert (first_name, consented) == ("Sam", 1)
    answers = bot.rows(
        "SELECT question_id, kind, choice, text FROM answers WHERE member_id = ? ORDER BY id",
        member_id,
    )
    assert ("onboarding.consent", "button", "yes", "yes") in answers
    assert (first.full_id, "button", "yes", "yes") in answers
    assert ("button", "stale") in [(kind, choice) for _, kind, choice, _ in answers]
    assert ("unsupported", "sticker") in [(kind, text) for _, kind, _, text in answers]
    typed_rows = [a for a in answers if a[3] == "I cook dinner for my friends"]
    assert len(typed_rows) == 1 and typed_rows[0][1] == "text"
    skills = bot.rows("SELECT skill_id, status FROM member_skills WHERE member_id = ?", member_id)
    assert (first.skills[0], "confirmed") in skills
    keys = {k for (k,) in bot.rows("SELECT key FROM processed_inputs")}
    assert f"tg:{start['update_id']}" in keys
    assert f"tg:{typed['update_id']}" in keys
    ratings = bot.rows(
        "SELECT moment, value FROM confidence_ratings WHERE member_id = ?", member_id
    )
    assert ("start", 2) in ratings and ("end", 3) in ratings
    state = bot.rows("SELECT status FROM conversation_states WHERE member_id = ?", member_id)
    assert state == [("active",)]


def test_a_crash_after_confirming_loses_nothing_and_the_member_sees_where_they_are(
    peer: BotApiPeer, tmp_path: Path, content: Content
) -> None:
    ana = peer.user(5002, "Ana")
    first = start_bot(peer, tmp_path, "before-crash")
    consent_query = (
        "SELECT a.choice FROM answers a JOIN members m ON m.id = a.member_id "
        "WHERE m.telegram_id = 5002 AND a.question_id = 'onboarding.consent'"
    )
    try:
        wait_polling(peer, first)
        peer.command(ana, "start")
        read_aloud = peer.wait_buttons(5002, timeout=60)
        mark = peer.mark()
        peer.tap_button(ana, read_aloud, "read_myself")
        peer.wait_sent(5002, 1, mark, timeout=60)
        mark = peer.mark()
        peer.text(ana, "Ana")
        consent = peer.wait_buttons(5002, mark, timeout=60)
        # The bot stores the consent tap and confirms it to Telegram, then dies before replying.
        peer.hold("sendChatAction")
        tap = peer.tap_button(ana, consent, "yes")
        peer.wait_for(lambda: first.rows(consent_query), 60, "the stored tap")
        peer.wait_for(lambda: peer.pending_count() == 0, 60, "the confirmation")
        # The name's update is answered too; its row goes in the next batched delete
        # (Intake.gather_s), which a busy machine may run a little after the tap is stored.
        only_the_tap = [(tap["update_id"],)]
        inbox = "SELECT update_id FROM inbound_updates"
        peer.wait_for(lambda: first.rows(inbox) == only_the_tap, 60, "only the tap kept")
        assert first.rows(inbox) == only_the_tap
    finally:
        first.crash()
    peer.release("sendChatAction")
    assert peer.pending_count() == 0  # Telegram will not send the tap again: the inbox has it
    assert not any(m["text"] == say(content, "onboarding.consent_thanks", name="Ana")
                   for m in peer.sent(5002))  # fmt: skip

    mark = peer.mark()
    polls = peer.received("getUpdates")
    second = start_bot(peer, tmp_path, "after-crash")
    try:
        wait_polling(peer, second, polls)
        shown = peer.wait_buttons(5002, mark, timeout=60)
        assert shown["text"] == say(content, "onboarding.howto_buttons", name="Ana")
        peer.tap_button(ana, shown, "ok")
        peer.wait_text(5002, say(content, "onboarding.howto_stop", name="Ana"), mark)
    finally:
        assert second.stop() == 0
    assert second.rows(consent_query) == [("yes",)]  # the kept tap was not stored twice
    assert second.rows("SELECT update_id FROM inbound_updates") == []  # all answered


def test_a_members_distress_reaches_staff_on_telegram(
    peer: BotApiPeer, tmp_path: Path, content: Content
) -> None:
    import asyncio

    from bot.staff.roles import add_staff
    from storage.db import make_engine, make_sessionmaker, upgrade

    async def add_jo() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'skillspark.db'}")
        try:
            await upgrade(engine)
            async with make_sessionmaker(engine).begin() as session:
                await add_staff(session, 7001, "default", name="Jo", added_by="test")
        finally:
            await engine.dispose()

    asyncio.run(add_jo())
    dee, jo = peer.user(5005, "Dee"), peer.user(7001, "Jo")
    bot = start_bot(peer, tmp_path, "alert", SKILLSPARK_ALERT_SWEEP_SECONDS="1")
    try:
        wait_polling(peer, bot)
        peer.command(dee, "start")
        asked = peer.wait_buttons(5005, timeout=60)
        mark = peer.mark()
        peer.tap_button(dee, asked, "read_myself")
        peer.wait_sent(5005, 1, mark, timeout=60)
        mark = peer.mark()
        peer.text(dee, "Dee")
        peer.wait_buttons(5005, mark, timeout=60)
        press(peer, dee, "yes")
        mark = peer.mark()
        peer.text(dee, "im so scared of him")
        peer.wait_text(5005, say(content, "safety.distress", name="Dee"), mark)
        peer.wait_text(jo["id"], "im so scared of him", timeout=60)
        delivered_sql = "SELECT kind, delivered_at IS NOT NULL FROM staff_alerts"
        peer.wait_for(
            lambda: bot.rows(delivered_sql) == [("distress", 1)] or None, 30, "marked sent"
        )
    finally:
        assert bot.stop() == 0
    delivered = bot.rows("SELECT kind, delivered_at IS NOT NULL FROM staff_alerts")
    assert delivered == [("distress", 1)]


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


def test_webhook_mode_needs_the_secret_and_keeps_the_update_before_answering(
    peer: BotApiPeer, tmp_path: Path, content: Content
) -> None:
    bo = peer.user(5003, "Bo")
    port = free_port()
    secret = "webhook-secret-for-tests"
    bot = start_bot(
        peer,
        tmp_path,
        "webhook",
        SKILLSPARK_WEBHOOK_URL=f"http://127.0.0.1:{port}/skillspark/hook",
        SKILLSPARK_WEBHOOK_SECRET=secret,
        SKILLSPARK_WEBHOOK_LISTEN="127.0.0.1",
        SKILLSPARK_WEBHOOK_PORT=str(port),
    )
    try:
        peer.wait_for(
            lambda: peer.webhook.get("url") or bot.proc.poll() is not None, START_S, "setWebhook"
        )
        assert bot.proc.poll() is None, bot.output()[-4000:]
        assert peer.webhook["secret_token"] == secret
        start = peer.command(bo, "start")
        peer.take_pending()
        assert peer.push_webhook(start, secret="not-the-secret") == 403
        assert peer.push_webhook(start, secret=None) == 403
        assert bot.rows("SELECT count(*) FROM members") == [(0,)]
        peer.hold("sendChatAction")  # the replies wait, so the update stays in the inbox
        assert peer.push_webhook(start) == 200
        # Telegram heard 200 only after the update was kept in the inbox
        kept = bot.rows("SELECT update_id FROM inbound_updates")
        assert kept == [(start["update_id"],)]
        peer.wait_for(lambda: bot.rows("SELECT key FROM processed_inputs"), 60, "the store")
        assert bot.rows("SELECT key FROM processed_inputs") == [(f"tg:{start['update_id']}",)]
        peer.release("sendChatAction")
        sent = peer.wait_sent(5003, 2, timeout=60)
        peer.wait_for(lambda: not bot.rows("SELECT * FROM inbound_updates"), 60, "the inbox")
        assert [m["text"] for m in sent] == [
            say(content, "onboarding.welcome", name="Bo"),
            say(content, "onboarding.read_aloud", name="Bo"),
        ]
        mark = peer.mark()
        assert peer.push_webhook(start) == 200  # Telegram retries: nothing is said twice
        peer.push_webhook(peer.text(bo, "Bo"))
        peer.take_pending()
        peer.wait_buttons(5003, mark)
        assert say(content, "onboarding.welcome", name="Bo") not in [
            m["text"] for m in peer.sent(5003, mark)
        ]
        assert peer.calls_of("getUpdates") == []
    finally:
        code = bot.stop()
    assert code == 0, bot.output()[-4000:]
    assert TOKEN not in bot.output()
    assert secret not in bot.output()


def test_without_a_reachable_telegram_the_bot_keeps_trying_and_starts_later(
    tmp_path: Path,
) -> None:
    peer = BotApiPeer()
    peer.fail("getMe", times=2, status=502)
    with peer:
        bot = start_bot(peer, tmp_path, "retry")
        try:
            wait_polling(peer, bot)
            assert [c.status for c in peer.calls if c.method == "getMe"][:3] == [502, 502, 200]
        finally:
            assert bot.stop() == 0
    assert "trying again" in bot.output() or "retry" in bot.output()


def test_a_token_telegram_refuses_stops_the_bot_with_a_clear_message(tmp_path: Path) -> None:
    with BotApiPeer(token="42:another-bot-entirely-0123456789") as peer:
        bot = start_bot(peer, tmp_path, "bad-token")
        try:
            code = bot.proc.wait(timeout=START_S)
        finally:
            bot.crash()
    output = bot.output()
    assert code == 2, output[-4000:]
    assert "does not accept TELEGRAM_BOT_TOKEN" in output
    assert TOKEN not in output
    assert peer.calls_of("getUpdates") == []


def test_a_webhook_telegram_refuses_stops_the_bot_with_a_clear_message(
    peer: BotApiPeer, tmp_path: Path
) -> None:
    bot = start_bot(
        peer,
        tmp_path,
        "bad-webhook",
        SKILLSPARK_WEBHOOK_URL="http://skillspark.example.org/hook",  # not https
        SKILLSPARK_WEBHOOK_PORT=str(free_port()),
    )
    try:
        code = bot.proc.wait(timeout=START_S)
    finally:
        bot.crash()
    output = bot.output()
    assert code == 2, output[-4000:]
    assert "Telegram refused the settings" in output
    assert "https url must be provided" in output.lower()
    assert "Traceback" not in output
    assert TOKEN not in output


def test_a_typed_answer_is_understood_through_rasa(
    peer: BotApiPeer, tmp_path: Path, content: Content, rasa_server: Any
) -> None:
    """ "sorta yeah" is a yes to Rasa (the simple rules do not know it)."""
    cleo = peer.user(5004, "Cleo")
    bot = start_bot(
        peer,
        tmp_path,
        "rasa",
        SKILLSPARK_NLU_ENABLED="true",
        SKILLSPARK_RASA_URL=rasa_server.url,
        SKILLSPARK_RASA_TOKEN=rasa_server.token,
        SKILLSPARK_NLU_TIMEOUT="15",
    )
    try:
        wait_polling(peer, bot)
        question = onboard(peer, cleo, "Cleo", topic=content.topics[0].id)
        first = content.topics[0].questions[0]
        assert question["text"] == question_text(content, name="Cleo")
        mark = peer.mark()
        peer.text(cleo, "sorta yeah")
        peer.wait_text(5004, several_text(content, first, name="Cleo"), mark)
        assert peer.sent(5004, mark)[0]["text"] == say(content, first.reflect, name="Cleo")
    finally:
        code = bot.stop()
    assert code == 0, bot.output()[-4000:]
    assert rasa_server.token not in bot.output()
    rows = bot.rows(
        "SELECT a.kind, a.choice, a.intent FROM answers a JOIN members m ON m.id = a.member_id "
        "WHERE m.telegram_id = 5004 AND a.text = 'sorta yeah'"
    )
    assert rows == [("text", "yes", "affirm")]


def test_a_second_polling_process_exits_with_one_clear_line(
    peer: BotApiPeer, tmp_path: Path
) -> None:
    # a lease of 5 s: the first process renews it while the second starts (imports,
    # migrations) on a busy machine; the second gives up after one lease and 1 s
    first = start_bot(peer, tmp_path, "first", SKILLSPARK_LEASE_SECONDS="5")
    try:
        wait_polling(peer, first)
        second = start_bot(peer, tmp_path, "second", SKILLSPARK_LEASE_SECONDS="5")
        code = second.proc.wait(timeout=START_S)
        assert code == 2, second.output()[-4000:]
        lines = [line for line in second.output().splitlines() if "long polling" in line]
        assert any(
            "is already getting updates by long polling; run one polling process" in line
            for line in lines
        ), second.output()[-4000:]
        assert "Traceback" not in second.output()
        assert first.proc.poll() is None  # the first one goes on
    finally:
        assert first.stop() == 0, first.output()[-4000:]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
