"""Read-aloud voice notes: speakable words, real espeak-ng audio in OGG/Opus, the cache."""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import soundfile
from sqlalchemy import func, select

from bot.app import Runtime
from bot.console import ConsoleChat
from bot.settings import Settings
from bot.speech import Speech, personal_keys, speakable, speech_from_settings
from bot.speech.synth import decode_ogg, note_key
from bot.types import HEAR_SHOWN, Button, Incoming, MemberKey, Reply
from storage.models import Answer
from tests.conftest import Database, loop_ticks, needs_tool, runtime_for
from tests.test_console import run_cli

PRESS = "🔊 The buttons say:"
needs_espeak = needs_tool(
    shutil.which("espeak-ng") is not None, "espeak-ng is not installed (make deps installs it)"
)


def words_per_second(words: str, seconds: float) -> float:
    """How fast the note speaks."""
    return len(words.split()) / seconds


# ------------------------------------------------------------------ speakable


def test_pictures_are_not_read_out() -> None:
    assert speakable("🍳 Do you like cooking?") == "Do you like cooking?"
    assert speakable("Thank you 🙏🏽. You did it 👨‍👩‍👧!") == "Thank you. You did it!"
    assert speakable("1️⃣ First\n#️⃣ Next") == "First. Next."


def test_each_line_is_a_sentence_and_eye_marks_go() -> None:
    text = "⭐ Sam, here are your skills:\n• 🍳 Cooking\n* Gardening\n- Music\n\nSend /start"
    assert speakable(text) == "Sam, here are your skills: Cooking. Gardening. Music. Send start."


def test_buttons_are_read_at_the_end_without_pictures() -> None:
    said = speakable("🍳 Do you cook?", ["✅ Yes", "❌ No", "🤔 Not sure"], PRESS)
    assert said == "Do you cook? The buttons say: Yes. No. Not sure."


@pytest.mark.parametrize("text", ["", "   ", "🙂", "🙂🙂👍🏽", "\u200b\u200d", "• * _"])
def test_nothing_to_say(text: str) -> None:
    assert speakable(text) == ""


def test_odd_unicode_and_injection_strings_are_just_words() -> None:
    said = speakable("\u202eevil\u202c --help; rm -rf / <script>x</script>")
    assert "\u202e" not in said and "<" not in said
    assert "help" in said


# ------------------------------------------------------------------ audio


@needs_espeak
async def test_a_voice_note_is_real_ogg_opus_as_long_as_its_words(tmp_path: Path) -> None:
    speech = Speech(cache_dir=tmp_path, press=PRESS)
    short = await speech.voice_note("👋 Hello.")
    long = await speech.voice_note(
        "🍳 Do you like cooking? Tell me about the food you make at home for your friends.",
        ["✅ Yes", "❌ No"],
    )
    assert short is not None and long is not None
    for note in (short, long):
        info = soundfile.info(_file(tmp_path, note.ogg))
        assert (info.format, info.subtype, info.channels) == ("OGG", "OPUS", 1)
        samples, rate = decode_ogg(note.ogg)
        decoded = len(samples) / rate  # type: ignore[arg-type]
        assert decoded == pytest.approx(note.duration, abs=0.05)
    assert 0.4 <= short.duration <= 2.0
    # espeak-ng at 140 words a minute: 1.5 to 3.5 words a second, pauses included
    assert 1.5 <= words_per_second(long.words, long.duration) <= 3.5, long
    assert long.duration > 3 * short.duration
    speech.close()


def kept_notes(folder: Path) -> list[Path]:
    """The voice notes kept on disk."""
    return sorted(folder.rglob("*.ogg"))


def _file(folder: Path, ogg: bytes) -> Path:
    path = folder / "check.ogg"
    path.write_bytes(ogg)
    return path


@needs_espeak
async def test_the_same_words_are_made_once_and_kept_on_disk(tmp_path: Path) -> None:
    speech = Speech(cache_dir=tmp_path)
    notes = await asyncio.gather(
        *(speech.voice_note("🌟 You are good at cooking.") for _ in range(20))
    )
    assert speech.stats.made == 1 and speech.stats.shared == 19
    assert len({n.key for n in notes if n is not None}) == 1
    assert await speech.voice_note("🍰 You are good at cooking.") == notes[0]  # same words
    assert speech.stats.from_memory == 1
    kept = kept_notes(tmp_path)
    assert [p.name for p in kept] == [f"{note_key(notes[0].words, 'en-gb', 140)}.ogg"]  # type: ignore[union-attr]
    # a new process (a restart) reads it from disk instead of making it again
    again = Speech(cache_dir=tmp_path)
    note = await again.voice_note("🌟 You are good at cooking.")
    assert note is not None and note.ogg == kept[0].read_bytes()
    assert (again.stats.made, again.stats.from_disk) == (0, 1)
    assert abs(note.duration - notes[0].duration) < 0.05  # type: ignore[union-attr]
    speech.close()
    again.close()


@needs_espeak
async def test_a_damaged_cache_file_is_made_again(tmp_path: Path) -> None:
    speech = Speech(cache_dir=tmp_path)
    note = await speech.voice_note("🌟 Hello.")
    assert note is not None
    path = kept_notes(tmp_path)[0]
    path.write_bytes(b"OggS broken")
    fresh = Speech(cache_dir=tmp_path)
    again = await fresh.voice_note("🌟 Hello.")
    assert again is not None and fresh.stats.made == 1
    assert soundfile.info(path).subtype == "OPUS"
    speech.close()
    fresh.close()


@needs_espeak
async def test_a_note_with_the_members_name_is_not_kept_on_disk(tmp_path: Path) -> None:
    speech = Speech(cache_dir=tmp_path)
    note = await speech.voice_note("😊 Nice to meet you, Priya.", personal=True)
    assert note is not None and note.duration > 0.5
    assert kept_notes(tmp_path) == []
    speech.close()


@needs_espeak
async def test_one_note_reads_the_turn_and_a_name_anywhere_in_it_keeps_it_off_disk(
    tmp_path: Path,
) -> None:
    """A turn's note reads its earlier messages first; a name in any of them: not on disk."""
    speech = Speech(cache_dir=tmp_path)
    question = Reply(
        "q.tea",
        "☕ Do you make tea?",
        buttons=(Button("yes", "✅ Yes"),),
        voice=True,
        read_first=(("resume.welcome_back", "👋 Welcome back, Priya."),),
    )
    alone = await speech.voice_note(question.text, ["✅ Yes"])
    note = await speech.reply_note(question, personal_keys={"resume.welcome_back"})
    assert alone is not None and note is not None
    assert note.duration > alone.duration + 0.8  # "Welcome back, Priya." is read too
    assert len(kept_notes(tmp_path)) == 1  # only the question alone was kept
    fixed = replace(question, read_first=(("answer.thanks", "🙏 Thank you."),))
    assert await speech.reply_note(fixed, personal_keys={"resume.welcome_back"}) is not None
    assert len(kept_notes(tmp_path)) == 2  # fixed words only: kept for everyone
    speech.close()


@needs_espeak
async def test_emoji_only_text_has_no_note_and_the_loop_is_not_blocked(tmp_path: Path) -> None:
    speech = Speech(cache_dir=tmp_path)
    assert await speech.voice_note("🙂👍") is None
    async with loop_ticks(0.005) as ticks:
        note = await speech.voice_note("🌟 " + "This is a longer message to read out loud. " * 8)
    assert note is not None and note.duration > 10
    assert ticks.count >= 3  # the loop ran while the note was made in a worker thread
    speech.close()


async def test_without_espeak_there_are_no_notes_and_the_log_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "bot.speech.synth"):
        speech = Speech(cache_dir=tmp_path, espeak="")
        assert not speech.available
        assert await speech.voice_note("🌟 Hello.") is None
        assert await speech.voice_note("🌟 Hello again.") is None
    assert caplog.text.count("espeak-ng is not installed") == 1
    assert "make deps" in caplog.text
    speech.close()


async def test_a_failing_espeak_gives_no_note_and_no_error(tmp_path: Path) -> None:
    speech = Speech(cache_dir=tmp_path, espeak="/bin/false")
    assert speech.available
    assert await speech.voice_note("🌟 Hello.") is None
    assert speech.stats.failed == 1
    speech.close()


def test_settings_turn_speech_off_or_choose_the_cache(tmp_path: Path) -> None:
    off = Settings(_env_file=None, SKILLSPARK_SPEECH_ENABLED="false")  # type: ignore[call-arg]
    assert speech_from_settings(off) is None
    on = Settings(  # type: ignore[call-arg]
        _env_file=None, SKILLSPARK_SPEECH_CACHE_DIR=str(tmp_path), SKILLSPARK_SPEECH_SPEED="120"
    )
    speech = speech_from_settings(on)
    assert speech is not None and speech.cache_dir == tmp_path and speech.speed == 120
    speech.close()


# ------------------------------------------------------------------ terminal chat


def voice_chat(
    rt: Runtime, member: str, out: io.StringIO, tmp_path: Path
) -> tuple[ConsoleChat, Speech]:
    """A terminal chat that saves voice notes in ``tmp_path / "audio"`` (cache beside it)."""
    (tmp_path / "audio").mkdir(exist_ok=True)
    speech = Speech(cache_dir=tmp_path / "cache", press=PRESS)
    personal = personal_keys(rt.content)
    chat = ConsoleChat(rt.engine, MemberKey("local", member), out, False, speech=speech,
                       audio_dir=tmp_path / "audio", personal=personal)  # fmt: skip
    return chat, speech


@needs_espeak
async def test_the_terminal_chat_saves_each_voice_reply(
    sqlite_db: Database, tmp_path: Path
) -> None:
    audio, out = tmp_path / "audio", io.StringIO()
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat, speech = voice_chat(rt, "voice-1", out, tmp_path)
        await chat.send(Incoming("command", "start"))
        assert not chat.saved  # not read aloud before the member asks
        await chat.send(Incoming("button", "read_to_me", chat.seq))
        await chat.send(Incoming("text", "Sam"))
        speech.close()
    assert chat.saved and all(p.parent == audio for p in chat.saved)
    for path in chat.saved:
        info = soundfile.info(path)
        assert (info.format, info.subtype) == ("OGG", "OPUS") and info.duration > 0.5
    assert "(voice note: " in out.getvalue()
    # 1 note a turn: the name question, then "Nice to meet you, Sam" and the consent
    # messages; that one has the name in it: made for the chat, not kept in the cache
    assert [p.name.split("-", 1)[1] for p in chat.saved] == [
        "onboarding.ask_name.ogg",
        "onboarding.consent.ogg",
    ]
    assert len(kept_notes(tmp_path / "cache")) == 1


@needs_espeak
async def test_hear_it_under_a_composed_message_in_the_terminal_chat(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """The nudges menu ends with "Hear it": the chat shows it again and saves its note."""
    out = io.StringIO()
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat, speech = voice_chat(rt, "voice-2", out, tmp_path)
        await chat.send(Incoming("command", "start"))
        await chat.send(Incoming("button", "read_myself", chat.seq))
        await chat.send(Incoming("text", "Sam"))
        for choice in ("yes", "ok", "ok", "feel_ok", "topic:food"):
            await chat.send(Incoming("button", choice, chat.seq))
        await chat.send(Incoming("command", "nudges"))
        assert chat.buttons[-1].choice == HEAR_SHOWN
        menu = chat.shown
        assert menu is not None and not chat.saved  # read aloud is off: no notes so far
        printed = out.getvalue()
        stored = await answer_count(rt)
        await chat.send(chat.to_incoming(str(len(chat.buttons))))  # the number of "Hear it"
        assert await answer_count(rt) == stored  # "Hear it" is not an answer
        speech.close()
    assert out.getvalue()[len(printed) :].count(menu.text) == 1  # shown again
    assert [p.name.split("-", 1)[1] for p in chat.saved] == ["nudges.menu.ogg"]
    assert soundfile.info(chat.saved[0]).duration > 1


async def answer_count(rt: Runtime) -> int:
    """How many answers are stored."""
    async with rt.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(Answer))).scalar_one())


def test_the_chat_command_takes_an_audio_folder(tmp_path: Path) -> None:
    done = run_cli(
        ["chat", "--member", "a1", "--audio", str(tmp_path / "notes")], tmp_path, "1\nSam\n"
    )  # 1: "Read to me", then the name
    assert done.returncode == 0, done.stderr
    assert "Sam" in done.stdout
    notes = sorted((tmp_path / "notes").glob("*.ogg"))
    assert len(notes) == 2 and all(soundfile.info(n).subtype == "OPUS" for n in notes)
