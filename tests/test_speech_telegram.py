"""Voice notes over the Bot API: the real PTB application and channel against the loopback peer.

The stand-in engine (``tests.test_telegram_channel.ScriptedEngine``) is told which
replies to give, with ``voice=True`` / ``voice_only=True`` set, since the flags
are the engine's to set; the audio is real espeak-ng, OGG/Opus end to end.
"""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import soundfile

from bot.settings import Settings
from bot.speech import Speech, Transcript
from bot.telegram.app import build_application, command_menus, serve, start_bot
from bot.telegram.channel import TelegramChannel
from bot.telegram.limiter import PacedRateLimiter
from bot.types import HEAR_SHOWN, Button, Incoming, Reply
from storage.inbox import MemoryInbox
from tests.botapi_peer import TOKEN, BotApiPeer
from tests.conftest import needs_tool
from tests.test_telegram_channel import PNG, TEXTS, ScriptedEngine, until

PRESS = "🔊 The buttons say:"
needs_espeak = needs_tool(
    shutil.which("espeak-ng") is not None, "espeak-ng is not installed (make deps installs it)"
)
QUESTION = Reply(
    "q.cooking",
    "🍳 Do you like cooking? Tell me about the food you make.",
    buttons=(Button("yes", "✅ Yes"), Button("no", "❌ No")),
    seq=3,
    voice=True,
)
HEAR = Reply("q.cooking", QUESTION.text, voice=True, voice_only=True)


class HeardWords:
    """A recogniser for the seam test: decodes the note and says it heard a fixed word."""

    def __init__(self, words: str) -> None:
        """Hear ``words`` in every note that is real audio."""
        self.words = words
        self.heard: list[float] = []

    async def transcribe(self, ogg: bytes) -> Transcript | None:
        """The fixed words, when ``ogg`` decodes as audio (the duration is kept)."""
        try:
            info = soundfile.info(io.BytesIO(ogg))
        except Exception:
            return None
        self.heard.append(info.duration)
        return Transcript(self.words)


@pytest.fixture
def peer() -> Any:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


@pytest.fixture
def engine() -> ScriptedEngine:
    """A stand-in engine whose replies the test chooses."""
    engine = ScriptedEngine()
    engine.replies_for["cook"] = [QUESTION]
    engine.replies_for["hear"] = [HEAR]
    engine.replies_for["hello"] = [Reply("nice", "😊 Nice to meet you, Priya.", voice=True)]
    return engine


@asynccontextmanager
async def running_bot(
    peer: BotApiPeer, engine: ScriptedEngine, speech: Speech | None, **channel_args: Any
) -> AsyncIterator[TelegramChannel]:
    """The channel (with ``speech``) on a PTB application, polling the peer until the end."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=peer.base_url
    )
    channel = TelegramChannel(
        engine, TEXTS.__getitem__, inbox=MemoryInbox(), speech=speech, **channel_args
    )
    app = build_application(
        settings, channel, rate_limiter=PacedRateLimiter(chat_rate=100, backoff_s=0.01)
    )
    stop = asyncio.Event()
    assert await start_bot(app, stop)
    task = asyncio.create_task(serve(app, channel, settings, stop, command_menus({}, "en")))
    try:
        yield channel
    finally:
        stop.set()
        await task
        await app.shutdown()


def voice_calls(peer: BotApiPeer, chat_id: int) -> list[Any]:
    """Every sendVoice call to a chat, failed ones too."""
    return [c for c in list(peer.calls) if c.method == "sendVoice" and c.chat_id == chat_id]


def decoded_seconds(ogg: bytes) -> float:
    """Decode a voice note and return its length (raises when it is not OGG/Opus)."""
    info = soundfile.info(io.BytesIO(ogg))
    assert (info.format, info.subtype) == ("OGG", "OPUS")
    samples, rate = soundfile.read(io.BytesIO(ogg), dtype="float32")
    return len(samples) / rate


@needs_espeak
async def test_a_voice_reply_is_the_text_then_a_real_opus_voice_note(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path
) -> None:
    ana = peer.user(51, "Ana")
    speech = Speech(cache_dir=tmp_path, press=PRESS)
    async with running_bot(peer, engine, speech):
        peer.text(ana, "cook")
        await until(peer.wait_for, lambda: peer.voices(51) or None, 30, "a voice note")
    methods = [c.method for c in peer.chat_calls(51)]
    assert methods == ["sendChatAction", "sendMessage", "sendVoice"]
    text, voice = peer.sent(51)
    assert text["text"] == QUESTION.text and text["reply_markup"]  # the buttons stay on the text
    assert "reply_markup" not in voice
    (ogg,) = peer.voices(51)
    seconds = decoded_seconds(ogg)
    call = peer.calls_of("sendVoice", 51)[0]
    assert call.params["duration"] == pytest.approx(seconds, abs=1.0)
    words = "Do you like cooking? Tell me about the food you make. The buttons say: Yes. No."
    # spoken at 140 words a minute, give or take the pauses
    assert len(words.split()) / 3.5 <= seconds <= len(words.split()) / 1.5
    assert call.files["voice"].filename == "voice.ogg"
    speech.close()


@needs_espeak
async def test_the_same_words_are_uploaded_once_then_sent_by_file_id(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path
) -> None:
    members = [peer.user(60 + n, f"M{n}") for n in range(6)]
    speech = Speech(cache_dir=tmp_path, press=PRESS)
    async with running_bot(peer, engine, speech):
        for member in members:  # all at once: made once, uploaded once
            peer.text(member, "cook")
        await until(
            peer.wait_for, lambda: len(peer.calls_of("sendVoice")) >= 6 or None, 30, "6 notes"
        )
        mark = peer.mark()
        peer.text(members[0], "cook")  # later, again
        await until(peer.wait_for, lambda: peer.calls_of("sendVoice", since=mark) or None, 30)
    calls = peer.calls_of("sendVoice")
    uploads = [c for c in calls if "voice" in c.files]
    assert len(uploads) == 1 and speech.stats.made == 1
    by_id = [c for c in calls if "voice" not in c.files]
    assert len(by_id) == 6 and {c.params["voice"] for c in by_id} == {
        peer.sent(uploads[0].chat_id or 0)[-1]["voice"]["file_id"]
    }
    assert all(c.status == 200 for c in calls)
    assert len({v for n in range(6) for v in peer.voices(60 + n)}) == 1  # all heard the same
    speech.close()


@needs_espeak
async def test_an_id_telegram_forgot_is_uploaded_again(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path
) -> None:
    ana = peer.user(52, "Ana")
    speech = Speech(cache_dir=tmp_path, press=PRESS)
    note = await speech.voice_note(QUESTION.text, [b.label for b in QUESTION.buttons])
    assert note is not None
    speech.remember_file_id(note.key, "voice-of-another-bot")
    async with running_bot(peer, engine, speech):
        peer.text(ana, "cook")
        await until(peer.wait_for, lambda: peer.voices(52) or None, 30)
    statuses = [(c.status, "voice" in c.files) for c in voice_calls(peer, 52)]
    assert statuses == [(400, False), (200, True)]
    assert speech.file_id(note.key) == peer.sent(52)[-1]["voice"]["file_id"]
    speech.close()


@needs_espeak
async def test_hear_it_sends_only_the_voice_note(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path
) -> None:
    ana = peer.user(53, "Ana")
    speech = Speech(cache_dir=tmp_path, press=PRESS)
    async with running_bot(peer, engine, speech):
        peer.text(ana, "hear")
        await until(peer.wait_for, lambda: peer.voices(53) or None, 30)
        await asyncio.sleep(0.2)
    assert [c.method for c in peer.chat_calls(53)] == ["sendChatAction", "sendVoice"]
    assert decoded_seconds(peer.voices(53)[0]) > 2
    speech.close()


@needs_espeak
async def test_hear_it_with_the_note_refused_sends_the_words(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path
) -> None:
    """A member who takes no voice messages taps "Hear it": the words, not silence."""
    ana = peer.user(61, "Ana")
    speech = Speech(cache_dir=tmp_path, press=PRESS)
    peer.fail("sendVoice", times=5, status=400, description="Bad Request: VOICE_MESSAGES_FORBIDDEN")
    async with running_bot(peer, engine, speech) as channel:
        peer.text(ana, "hear")
        again = await until(peer.wait_text, 61, "Do you like cooking")
        await until(peer.wait_for, lambda: channel.open_updates == 0 or None, 10)
    assert again["text"] == HEAR.text
    assert len(voice_calls(peer, 61)) == 1
    speech.close()


@needs_espeak
async def test_a_note_with_a_name_is_sent_but_not_kept_on_disk(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path
) -> None:
    ana = peer.user(54, "Priya")
    speech = Speech(cache_dir=tmp_path, press=PRESS)
    async with running_bot(peer, engine, speech, personal_keys=frozenset({"nice"})):
        peer.text(ana, "hello")
        await until(peer.wait_for, lambda: peer.voices(54) or None, 30)
    assert decoded_seconds(peer.voices(54)[0]) > 0.5
    assert not await asyncio.to_thread(lambda: list(tmp_path.rglob("*.ogg")))
    speech.close()


#: A message the engine composed (like "My skills"): its buttons are offers (prompt 0)
#: and it ends with "Hear it", which the channel answers by reading the message itself.
COMPOSED = Reply(
    "myskills",
    "⭐ Your skills:\n🐕 Walking dogs\n🍳 Cooking for others",
    buttons=(Button("rm:list", "➖ Take a skill off"), Button(HEAR_SHOWN, "🔊 Hear it")),
    seq=0,
)


@needs_espeak
async def test_hear_it_under_a_composed_message_reads_that_message(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path
) -> None:
    """One voice note of the message tapped under; no text, the engine not asked, buttons kept."""
    ana = peer.user(57, "Ana")
    engine.replies_for["myskills"] = [COMPOSED]
    speech = Speech(cache_dir=tmp_path, press=PRESS)
    async with running_bot(peer, engine, speech):
        peer.text(ana, "myskills")
        shown = await until(peer.wait_buttons, 57)
        asked = len(engine.calls)
        for _ in range(2):  # a second tap reads it again
            mark = peer.mark()
            peer.tap_button(ana, shown, HEAR_SHOWN)
            await until(peer.wait_for, lambda m=mark: peer.voices(57, m) or None, 30, "the note")
            await until(peer.wait_for, lambda: peer.pending_count() == 0, 30, "the tap answered")
            await asyncio.sleep(0.2)
            sent = [c.method for c in peer.chat_calls(57, mark) if c.method.startswith("send")]
            assert sent == ["sendVoice"]
    assert len(engine.calls) == asked, "Hear it is not an answer: the engine is not asked"
    assert peer.buttons(shown), "the message keeps its buttons"
    words = "Your skills: Walking dogs. Cooking for others. The buttons say: Take a skill off."
    seconds = decoded_seconds(peer.voices(57)[0])
    assert len(words.split()) / 3.5 <= seconds <= len(words.split()) / 1.5 + 1.0
    # a note of a member's own list is made on demand, never kept on disk
    assert not await asyncio.to_thread(lambda: list(tmp_path.rglob("*.ogg")))
    speech.close()


@needs_espeak
async def test_hear_it_under_a_long_list_with_its_picture_reads_all_of_it(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path
) -> None:
    """A long "My skills" goes as text, then the picture with the buttons: all is heard."""
    ana = peer.user(59, "Ana")
    lines = [f"🌟 Skill number {n} that Ana is good at" for n in range(40)]
    long = replace(COMPOSED, text="\n".join(["⭐ Your skills:", *lines]), image_png=PNG)
    engine.replies_for["myskills"] = [long]
    speech = Speech(cache_dir=tmp_path, press=PRESS)
    async with running_bot(peer, engine, speech) as channel:
        peer.text(ana, "myskills")
        card = await until(peer.wait_buttons, 59)
        assert "photo" in card and not card.get("caption")  # the words came before it
        mark = peer.mark()
        peer.tap_button(ana, card, HEAR_SHOWN)
        await until(peer.wait_for, lambda: peer.voices(59, mark) or None, 60, "the note")
        await until(peer.wait_for, lambda: channel.open_updates == 0 or None, 10)
    assert decoded_seconds(peer.voices(59)[0]) > 60  # 40 lines, not an empty caption
    assert peer.buttons(card)
    speech.close()


@pytest.mark.parametrize("why", ["no-espeak", pytest.param("voice-refused", marks=needs_espeak)])
async def test_hear_it_under_a_composed_message_without_a_note_sends_the_words(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path, why: str
) -> None:
    """No espeak-ng, or a member who does not take voice messages: the words again.

    The tap is answered either way (a refused note is not tried again and again).
    """
    ana = peer.user(60, "Ana")
    engine.replies_for["myskills"] = [COMPOSED]
    speech = Speech(cache_dir=tmp_path, press=PRESS, espeak=None if why == "voice-refused" else "")
    async with running_bot(peer, engine, speech) as channel:
        peer.text(ana, "myskills")
        shown = await until(peer.wait_buttons, 60)
        peer.fail("sendVoice", times=5, status=400,
                  description="Bad Request: VOICE_MESSAGES_FORBIDDEN")  # fmt: skip
        mark = peer.mark()
        peer.tap_button(ana, shown, HEAR_SHOWN)
        again = await until(peer.wait_text, 60, "Your skills", mark)
        await until(peer.wait_for, lambda: channel.open_updates == 0 or None, 10)
    assert again["text"] == COMPOSED.text
    assert len(voice_calls(peer, 60)) == (1 if why == "voice-refused" else 0)
    speech.close()


@pytest.mark.parametrize("speech_here", [False, True], ids=["no-espeak", "speech-off"])
async def test_without_audio_the_text_is_sent_instead(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path, speech_here: bool
) -> None:
    ana = peer.user(55, "Ana")
    speech = Speech(cache_dir=tmp_path, espeak="") if speech_here else None
    async with running_bot(peer, engine, speech):
        peer.text(ana, "cook")
        await until(peer.wait_text, 55, "Do you like cooking")
        mark = peer.mark()
        peer.text(ana, "hear")  # a "Hear it" tap: the text again, since no audio can be made
        await until(peer.wait_text, 55, "Do you like cooking", mark)
    assert peer.calls_of("sendVoice") == []
    assert [m["text"] for m in peer.sent(55)] == [QUESTION.text, HEAR.text]
    if speech is not None:
        speech.close()


@needs_espeak
async def test_a_voice_note_that_fails_to_send_leaves_the_text_answered(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path
) -> None:
    ana = peer.user(56, "Ana")
    speech = Speech(cache_dir=tmp_path, press=PRESS)
    peer.fail("sendVoice", times=1, status=400, description="Bad Request: VOICE_MESSAGES_FORBIDDEN")
    async with running_bot(peer, engine, speech) as channel:
        peer.text(ana, "cook")
        await until(peer.wait_for, lambda: voice_calls(peer, 56) or None, 30)
        await until(peer.wait_for, lambda: channel.open_updates == 0 or None, 10)
        mark = peer.mark()
        peer.text(ana, "more")
        await until(peer.wait_text, 56, "You said: more", mark)
    assert peer.sent(56)[0]["text"] == QUESTION.text
    speech.close()


async def voice_in(
    peer: BotApiPeer, engine: ScriptedEngine, ogg: bytes, **channel_args: Any
) -> Incoming:
    """A member sends a voice note; what the engine was given."""
    sam = peer.user(57, "Sam")
    async with running_bot(peer, engine, None, **channel_args):
        peer.voice_note(sam, ogg, duration=2)
        await until(peer.wait_for, lambda: peer.sent(57) or None, 30)
    incoming = engine.calls[-1][1]
    assert incoming is not None
    return incoming


@needs_espeak
async def test_a_voice_note_in_is_downloaded_and_heard(
    peer: BotApiPeer, engine: ScriptedEngine, tmp_path: Path
) -> None:
    speech = Speech(cache_dir=tmp_path)
    note = await speech.voice_note("🌟 I like cooking.")
    assert note is not None
    hearer = HeardWords("I like cooking")
    incoming = await voice_in(peer, engine, note.ogg, recognizer=hearer)
    assert incoming == Incoming("text", "I like cooking")
    assert peer.calls_of("getFile") and sum(peer.downloads.values()) == 1
    assert hearer.heard == [pytest.approx(note.duration, abs=0.05)]
    assert peer.sent(57)[0]["text"] == "You said: I like cooking"
    speech.close()


async def test_a_voice_note_without_a_recogniser_stays_a_voice_note(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    incoming = await voice_in(peer, engine, b"OggS not really audio")
    assert incoming == Incoming("unsupported", "voice")
    assert peer.calls_of("getFile") == []


async def test_a_big_or_broken_voice_note_stays_a_voice_note(
    peer: BotApiPeer, engine: ScriptedEngine
) -> None:
    hearer = HeardWords("never")
    big = await voice_in(
        peer, engine, b"OggS" + b"x" * 5000, recognizer=hearer, max_voice_in_bytes=1000
    )
    assert big == Incoming("unsupported", "voice") and peer.calls_of("getFile") == []
    broken = await voice_in(peer, engine, b"OggS not really audio", recognizer=hearer)
    assert broken == Incoming("unsupported", "voice")
    assert hearer.heard == []
