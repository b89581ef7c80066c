"""Members who read little: read aloud, Hear it, /settings, fewer pictures, voice notes in."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.app import Runtime
from bot.conversation.prompts import without_picture
from bot.easyread import pictures
from bot.types import Reply
from storage.models import Answer, Member
from tests.chat import CONSENT_EXPLAINED, Chat
from tests.conftest import Database, runtime_for


async def member_row(rt: Runtime, local_id: str = "t1") -> Member:
    """The stored member."""
    async with rt.sessionmaker() as session:
        return (
            await session.execute(select(Member).where(Member.local_id == local_id))
        ).scalar_one()


async def answer_count(rt: Runtime) -> int:
    """How many answers are stored."""
    async with rt.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(Answer))).scalar_one())


def one_note(replies: list[Reply]) -> bool:
    """The turn is read in 1 voice note: the last message reads every message before it."""
    *before, last = replies
    return (
        not any(r.voice for r in before)
        and last.voice
        and not last.voice_only
        and [text for _, text in last.read_first] == [r.text for r in before]
        and last.spoken().endswith(last.text)
    )


async def onboard_reading_aloud(chat: Chat) -> None:
    """Onboard choosing "🔊 Read to me", up to the first topic question."""
    await chat.cmd("start")
    assert chat.keys[-1] == "onboarding.read_aloud"
    await chat.press("read_to_me")
    await chat.say("Sam")
    await chat.press("yes")
    await chat.press("ok")
    await chat.press("ok")
    await chat.press("feel_ok")


async def test_read_aloud_chosen_in_onboarding_reads_every_turn_in_one_note(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Read aloud chosen: each turn then has 1 voice note of all it says; kept at consent."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.cmd("start")
        assert all(not r.voice for r in chat.last)
        await chat.press("read_to_me")
        assert chat.keys == ["onboarding.ask_name"] and one_note(chat.last)
        await chat.say("Sam")
        assert chat.keys == ["onboarding.nice_to_meet", *CONSENT_EXPLAINED, "onboarding.consent"]
        assert one_note(chat.last)  # 9 messages, 1 voice note that reads them all
        # nothing is stored before consent: not the member's choice either
        member = await member_row(rt)
        assert member.preferences == {}
        assert await answer_count(rt) == 0
        await chat.press("yes")
        assert chat.last and one_note(chat.last)
        member = await member_row(rt)
        assert member.preferences == {"read_aloud": True}
        for choice in ("ok", "ok", "feel_ok"):
            await chat.press(choice)
            assert chat.last and one_note(chat.last)
        assert chat.keys[-1] == "topic.choose_first"
        await chat.pick(rt.content.topics[0].id)
        assert one_note(chat.last)
        assert chat.keys[-1] == rt.content.topics[0].questions[0].text


async def test_reading_myself_gives_no_voice(sqlite_db: Database, tmp_path: Path) -> None:
    """Choosing "I will read them": no voice notes, and the choice is kept as False."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        assert chat.last and all(not r.voice for r in chat.last)
        assert (await member_row(rt)).preferences == {"read_aloud": False}


async def test_no_consent_keeps_no_preference(sqlite_db: Database, tmp_path: Path) -> None:
    """Read aloud chosen, then no to consent: the choice is not stored."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.to_consent("Alex", read="read_to_me")
        await chat.press("no")
        assert chat.keys == ["onboarding.consent_no"]
        assert (await member_row(rt)).preferences == {}


async def test_hear_it_gives_one_voice_only_reply_and_the_prompt_still_answers(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Hear it: the question and its buttons as a voice note only; same seq; nothing stored."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.last[-1]
        assert question.buttons[-1].choice == "hear"
        assert question.buttons[-1].label == rt.content.text("button.hear", "en")
        seq = chat.seq
        answers = await answer_count(rt)
        for _ in range(2):  # a second tap works too
            await chat.press("hear")
            assert len(chat.last) == 1
            heard = chat.last[0]
            assert heard.voice and heard.voice_only
            assert heard.key == question.key and heard.text == question.text
            # the same buttons go with it, so the note ends with what they say
            assert heard.seq == seq and heard.buttons == question.buttons
        assert await answer_count(rt) == answers
        await chat.press("yes", seq=seq)  # the question's buttons still work
        assert chat.keys[0] == rt.content.topics[0].questions[0].reflect


async def test_hear_it_on_an_old_question_is_a_kind_note(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Hear it under a finished question: the old-button note and the current question."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        old = chat.seq
        await chat.press("skip")
        await chat.press("hear", seq=old)
        assert chat.keys[0] == "input.old_button"
        assert not any(r.voice_only for r in chat.last)


async def test_settings_toggles_and_survive_a_restart(sqlite_db: Database, tmp_path: Path) -> None:
    """/settings turns read aloud and fewer pictures over; a new engine keeps them."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.last[-1]
        await chat.cmd("settings")
        assert chat.keys == ["settings.menu"]
        # each button says what a tap does
        labels = [b.label for b in chat.last[0].buttons]
        assert labels[:2] == [
            rt.content.text("button.read_to_me", "en"),
            rt.content.text("button.pictures_fewer", "en"),
        ]
        assert chat.choices[-2:] == ["done", "hear"]
        await chat.press("toggle_read")  # what changed is said, then the menu again
        assert chat.keys == ["settings.read_on", "settings.menu"] and one_note(chat.last)
        await chat.press("toggle_pictures")
        assert chat.keys == ["settings.fewer_pictures", "settings.menu"]
        labels = [b.label for b in chat.last[-1].buttons]
        assert labels[:2] == [  # fewer pictures is on: plain words on the buttons
            without_picture(rt.content.text("button.read_stop", "en")),
            without_picture(rt.content.text("button.pictures_more", "en")),
        ]
        await chat.press("done")
        assert chat.keys == [question.key] and chat.last[0].voice
        assert (await member_row(rt)).preferences == {"read_aloud": True, "fewer_pictures": True}
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.cmd("repeat")
        assert chat.keys == [question.key]
        assert chat.last[0].voice
        await chat.cmd("settings")
        await chat.press("toggle_read")
        await chat.press("done")
        assert chat.keys == [question.key] and not chat.last[0].voice
        assert (await member_row(rt)).preferences == {"read_aloud": False, "fewer_pictures": True}


async def test_words_turn_reading_and_pictures_on_and_off(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Typed "read to me", "stop reading", "fewer pictures", "more pictures"."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.last[-1].key
        await chat.say("read to me")
        assert chat.keys == ["settings.read_on", question]
        assert one_note(chat.last)
        await chat.say("Stop reading")
        assert chat.keys == ["settings.read_off", question]
        assert one_note(chat.last)  # "OK, I will stop reading" is heard by who asked
        await chat.say("fewer pictures")
        assert not any(r.voice for r in chat.last)  # and from then on, text only
        await chat.say("more pictures")
        await chat.say("fewer pictures")
        assert chat.keys == ["settings.fewer_pictures", question]
        await chat.say("more pictures")
        assert chat.keys == ["settings.more_pictures", question]
        assert (await member_row(rt)).preferences == {"read_aloud": False, "fewer_pictures": False}


async def test_fewer_pictures_keeps_one_picture_and_draws_no_card(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Fewer pictures: one picture per message at most, and /myskills has no card."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.press("yes")
        await chat.press("several_yes")
        await chat.cmd("myskills")
        assert chat.last[0].image_png is not None
        many = [r for r in chat.last if len(pictures(r.text)) > 1]
        assert many, "the skills list has a picture on each line"
        await chat.say("fewer pictures")
        await chat.cmd("myskills")
        profile = chat.last[0]
        assert profile.image_png is None
        for reply in chat.last:
            found = pictures(reply.text)
            assert len(found) <= 1, reply.text
            assert not found or reply.text.startswith(found[0])
        # buttons are plain words for a screen reader ("Yes", not "check mark Yes")
        question = chat.last[-1]
        assert question.buttons and all(not pictures(b.label) for b in question.buttons)
        await chat.say("more pictures")
        assert all(pictures(b.label) for b in chat.last[-1].buttons)


async def test_a_voice_note_gets_its_own_reply_then_the_question(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """A voice note: the kind voice reply, then the same question with Hear it."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.last[-1]
        await chat.other("voice")
        assert chat.keys == ["input.voice", question.key]
        assert [b.choice for b in chat.last[1].buttons] == [b.choice for b in question.buttons]
        assert chat.last[1].seq == question.seq
        await chat.other("sticker")  # 2 not understood in a row: a person is offered
        assert chat.keys == ["input.unsupported", question.key, "stuck.offer"]


async def test_a_voice_note_before_consent_stores_nothing(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """A voice note at the read-aloud question: its reply and the question; nothing kept."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.cmd("start")
        await chat.other("voice")
        assert chat.keys == ["input.voice", "onboarding.read_aloud"]
        await chat.press("hear")
        assert chat.keys == ["onboarding.read_aloud"] and chat.last[0].voice_only
        assert await answer_count(rt) == 0


async def test_a_message_with_carry_on_buttons_can_be_heard_too(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """ "Paused" is not a question, yet it has Hear it: read aloud, nothing stored or changed."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.keys[-1]
        await chat.cmd("pause")
        await chat.press("feel_ok")
        paused = chat.last[-1]
        assert paused.key == "paused"
        assert [b.choice for b in paused.buttons] == ["go:carry_on", "go:hear:paused"]
        answers = await answer_count(rt)
        await chat.press("go:hear:paused", seq=0)
        (heard,) = chat.last
        assert heard.voice_only and heard.text == paused.text and heard.buttons == paused.buttons
        assert await answer_count(rt) == answers
        await chat.press("go:hear:no.such.message", seq=0)  # made up: the kind note
        assert chat.keys[0] == "input.old_button"
        await chat.press("go:carry_on", seq=0)  # the carry-on button still works
        assert chat.keys == ["resume.welcome_back", question]


async def test_hear_it_on_a_question_also_reads_what_led_to_it(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Hear it at the consent question reads the 8 messages that explain it, then the question."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.cmd("start")
        await chat.press("hear")  # before anything is chosen: the welcome and the question
        (heard,) = chat.last
        assert [key for key, _ in heard.read_first] == ["onboarding.welcome"]
        await chat.press("read_myself")
        await chat.say("Sam")
        explained = [r.text for r in chat.last[:-1]]
        await chat.press("hear")
        (heard,) = chat.last
        assert heard.key == "onboarding.consent" and heard.voice_only
        assert [text for _, text in heard.read_first] == explained
        assert "Sam" in heard.spoken()  # "Nice to meet you, Sam": a note kept off disk
        await chat.press("yes")  # the question still answers
        assert chat.keys[0] == "onboarding.consent_thanks"
