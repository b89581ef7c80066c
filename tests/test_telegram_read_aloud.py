"""End to end on Telegram: a member who reads little, with the real ``skillspark run``.

The member chooses "🔊 Read to me" in onboarding (with buttons), then gets a
real OGG/Opus voice note after each message, taps "🔊 Hear it" (one voice note,
no new text, the buttons stay) and sends a voice note (a kind reply and the
question again). Each step is a small helper, so later stories can reuse them.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import load_app_content
from bot.content import Content
from bot.settings import Settings
from bot.speech.text import SPEECH_PRESS, speakable
from bot.types import HEAR_SHOWN
from tests.botapi_peer import BotApiPeer
from tests.chat import CONSENT_EXPLAINED
from tests.conftest import needs_tool
from tests.test_speech_telegram import decoded_seconds
from tests.test_telegram_e2e import (
    BotProcess,
    question_text,
    say,
    several_text,
    start_bot,
    wait_polling,
)
from tests.test_telegram_help import (
    add_staff_member,
    ask_staff,
    get_stuck_twice,
    staff_get_help_alert,
)

pytestmark = [
    pytest.mark.slow,
    needs_tool(shutil.which("espeak-ng") is not None, "espeak-ng is not installed"),
]
MEMBER, STAFF_ID = 5101, 7102
ROOT = Path(__file__).resolve().parent.parent

Message = dict[str, Any]


@pytest.fixture(scope="module")
def content() -> Content:
    """The real dialogues, to know what the member should read and hear."""
    return load_app_content(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


def sends_since(peer: BotApiPeer, mark: int) -> list[str]:
    """The methods that put something in the member's chat since ``mark``."""
    return [
        c.method
        for c in peer.chat_calls(MEMBER, mark)
        if c.status == 200 and c.method in ("sendMessage", "sendVoice", "sendPhoto")
    ]


def assert_voice_matches(
    peer: BotApiPeer, content: Content, ogg: bytes, messages: list[Message]
) -> None:
    """The note is real OGG/Opus, as long as the messages' words and the last one's buttons.

    Their words take about 140 a minute to say (``SKILLSPARK_SPEECH_SPEED``).
    """
    labels = [b["text"] for b in peer.buttons(messages[-1])]
    text = "\n".join(m["text"] for m in messages)
    words = speakable(text, labels, content.text(SPEECH_PRESS, "en"))
    count = len(words.split())
    seconds = decoded_seconds(ogg)
    assert count / 3.5 <= seconds <= count / 1.5 + 1.0, (words, seconds)


def tap_and_wait(peer: BotApiPeer, sam: Message, message: Message, choice: str) -> Message:
    """Tap a button, wait for the next message with buttons and its voice note."""
    mark = peer.mark()
    peer.tap_button(sam, message, choice)
    shown = peer.wait_buttons(MEMBER, mark, timeout=60)
    peer.wait_for(lambda: peer.voices(MEMBER, mark) or None, 60, "a voice note")
    return shown


def heard_turn(peer: BotApiPeer, mark: int) -> tuple[list[Message], bytes]:
    """The turn's messages since ``mark`` and its one voice note, sent after the last message."""
    ogg = peer.wait_for(lambda: peer.voices(MEMBER, mark) or None, 60, "the turn's voice note")
    time.sleep(0.5)  # a second note would come right after the first: there must be none
    assert len(peer.voices(MEMBER, mark)) == 1, "one voice note a turn"
    assert sends_since(peer, mark)[-1] == "sendVoice", "the note follows the turn's last message"
    return [m for m in peer.sent(MEMBER, mark) if "text" in m], ogg[0]


def start_and_choose_read_aloud(peer: BotApiPeer, content: Content, sam: Message) -> Message:
    """/start, "Hear it" and "🔊 Read to me" by button, then the name; the consent question."""
    mark = peer.mark()
    peer.command(sam, "start")
    asked = peer.wait_buttons(MEMBER, mark, timeout=60)
    welcome = peer.sent(MEMBER, mark)[0]
    assert welcome["text"] == say(content, "onboarding.welcome")
    assert asked["text"] == say(content, "onboarding.read_aloud")
    assert [b["text"] for b in peer.buttons(asked)] == [
        say(content, "button.read_to_me"),
        say(content, "button.read_myself"),
        say(content, "button.hear"),
    ]
    assert not peer.voices(MEMBER, mark)  # not read aloud before the member asks
    # a member who cannot read the question taps the button with the speaker on it:
    # the welcome, the question and what the buttons say, as 1 voice note
    mark = peer.mark()
    peer.tap_button(sam, asked, "hear")
    (ogg,) = peer.wait_for(lambda: peer.voices(MEMBER, mark) or None, 60, "the heard question")
    assert sends_since(peer, mark) == ["sendVoice"]
    assert_voice_matches(peer, content, ogg, [welcome, asked])
    # "Read to me": from now on each turn comes with its voice note
    mark = peer.mark()
    peer.tap_button(sam, asked, "read_to_me")
    messages, ogg = heard_turn(peer, mark)
    assert [m["text"] for m in messages] == [say(content, "onboarding.ask_name")]
    assert_voice_matches(peer, content, ogg, messages)
    mark = peer.mark()
    peer.text(sam, "Sam")
    consent = peer.wait_buttons(MEMBER, mark, timeout=60)
    assert consent["text"] == say(content, "onboarding.consent")
    # nice to meet you, what saying yes means (1 idea a message), the question: 1 note
    messages, ogg = heard_turn(peer, mark)
    assert [m["text"] for m in messages] == [
        *(say(content, key) for key in ("onboarding.nice_to_meet", *CONSENT_EXPLAINED)),
        consent["text"],
    ]
    assert_voice_matches(peer, content, ogg, messages)
    return consent


def consent_and_reach_question(
    peer: BotApiPeer, content: Content, sam: Message, consent: Message
) -> Message:
    """Yes, OK, OK, a feeling and the food topic: every turn comes with its voice note."""
    shown = consent
    for choice in ("yes", "ok", "ok", "feel_ok", "topic:food"):
        mark = peer.mark()
        shown = tap_and_wait(peer, sam, shown, choice)
        messages, ogg = heard_turn(peer, mark)
        assert messages[-1]["message_id"] == shown["message_id"]
        assert_voice_matches(peer, content, ogg, messages)
    assert shown["text"] == question_text(content)
    return shown


def hear_it(peer: BotApiPeer, content: Content, sam: Message, question: Message) -> None:
    """Tap "🔊 Hear it": one voice note of the question, no new text, buttons kept."""
    mark = peer.mark()
    peer.tap_button(sam, question, "hear")
    peer.wait_for(lambda: peer.voices(MEMBER, mark) or None, 60, "the heard question")
    peer.wait_for(lambda: peer.pending_count() == 0, 30, "the tap answered")
    assert sends_since(peer, mark) == ["sendVoice"]
    assert peer.buttons(question), "the question keeps its buttons"
    (ogg,) = peer.voices(MEMBER, mark)
    assert_voice_matches(peer, content, ogg, [question])  # its buttons are read too


def send_voice_note(peer: BotApiPeer, content: Content, sam: Message, question: Message) -> None:
    """A voice note in: the kind reply, then the same question with its buttons."""
    (ogg,) = peer.voices(MEMBER)[-1:]
    mark = peer.mark()
    peer.voice_note(sam, ogg)
    again = peer.wait_buttons(MEMBER, mark, timeout=60)
    texts = [m["text"] for m in peer.sent(MEMBER, mark) if "text" in m]
    assert texts == [say(content, "input.voice"), question["text"]]
    assert [b["text"] for b in peer.buttons(again)] == [b["text"] for b in peer.buttons(question)]
    heard_turn(peer, mark)  # read aloud is on: the turn ends with its note (paced, so later)


def hear_a_composed_message(peer: BotApiPeer, content: Content, sam: Message) -> None:
    """A message the bot composes (the nudges menu) ends with "🔊 Hear it" too; a tap reads it."""
    # the turn before ends with its voice note (the texts are paced, the note comes last)
    peer.wait_for(lambda: sends_since(peer, 0)[-1] == "sendVoice" or None, 60, "the last note")
    mark = peer.mark()
    peer.command(sam, "nudges")
    messages, _ = heard_turn(peer, mark)  # read aloud is on: the turn's own note
    menu = messages[-1]
    assert say(content, "nudges.menu") in menu["text"]
    assert peer.buttons(menu)[-1]["text"] == say(content, "button.hear")
    mark = peer.mark()
    peer.tap_button(sam, menu, HEAR_SHOWN)
    (ogg,) = peer.wait_for(lambda: peer.voices(MEMBER, mark) or None, 60, "the menu heard")
    peer.wait_for(lambda: peer.pending_count() == 0, 30, "the tap answered")
    time.sleep(0.5)  # no text follows, the menu keeps its buttons
    assert sends_since(peer, mark) == ["sendVoice"]
    assert peer.buttons(menu)
    assert_voice_matches(peer, content, ogg, [menu])


def test_a_member_who_reads_little_hears_the_bot(
    peer: BotApiPeer, tmp_path: Path, content: Content
) -> None:
    """Read to me, voice notes, Hear it, a voice note in, stuck twice, ask staff: staff hear."""
    add_staff_member(tmp_path, STAFF_ID)
    sam = peer.user(MEMBER, "Sam")
    peer.user(STAFF_ID, "Jo")
    # the bot process runs this checkout's code (not whatever the venv was installed from)
    bot: BotProcess = start_bot(
        peer, tmp_path, "read-aloud", PYTHONPATH=str(ROOT), SKILLSPARK_ALERT_SWEEP_SECONDS="1"
    )
    try:
        wait_polling(peer, bot)
        consent = start_and_choose_read_aloud(peer, content, sam)
        question = consent_and_reach_question(peer, content, sam, consent)
        hear_it(peer, content, sam, question)
        hear_it(peer, content, sam, question)  # a second tap works too
        send_voice_note(peer, content, sam, question)
        # stuck twice: the offer of a person comes with its voice note too
        mark = peer.mark()
        offer = get_stuck_twice(peer, sam, content)
        # 2 turns, 2 notes; the second turn ends with the offer, and its note reads it
        peer.wait_for(lambda: len(peer.voices(MEMBER, mark)) == 2 or None, 60, "2 voice notes")
        assert sends_since(peer, mark)[-1] == "sendVoice"
        assert [m for m in peer.sent(MEMBER, mark) if "text" in m][-1]["text"] == offer["text"]
        mark = peer.mark()
        ask_staff(peer, sam, offer, content)
        again = peer.wait_text(MEMBER, question["text"], mark, timeout=60)  # back to the question
        alert = staff_get_help_alert(peer, STAFF_ID, "Sam")
        assert "not a safety alert" in alert
        assert not peer.voices(STAFF_ID)  # staff get text, the member's choice is theirs
        hear_a_composed_message(peer, content, sam)
        # the question still answers after all that
        mark = peer.mark()
        peer.tap_button(sam, again, "yes")
        first = content.topics[0].questions[0]
        peer.wait_text(MEMBER, several_text(content, first), mark, timeout=60)
    finally:
        code = bot.stop()
    assert code == 0, bot.output()[-4000:]
    prefs = bot.rows("SELECT preferences FROM members WHERE telegram_id = ?", MEMBER)
    assert prefs == [('{"read_aloud": true}',)]
    assert bot.rows("SELECT kind, delivered_at IS NOT NULL FROM staff_alerts") == [("help", 1)]
