"""The conversation engine end to end on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import Runtime
from bot.types import HEAR_SHOWN
from storage.models import (
    Answer,
    ConfidenceRating,
    ConversationState,
    LearningWish,
    Member,
    MemberSkill,
    StaffAlert,
)
from tests.chat import CONSENT_EXPLAINED, Chat
from tests.conftest import Database, runtime_for


async def count(rt: Runtime, model: type, **where: object) -> int:
    """How many rows of ``model`` match ``where``."""
    async with rt.sessionmaker() as session:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return int((await session.execute(stmt)).scalar_one())


async def member_row(rt: Runtime, local_id: str = "t1") -> Member:
    """The stored member."""
    async with rt.sessionmaker() as session:
        return (
            await session.execute(select(Member).where(Member.local_id == local_id))
        ).scalar_one()


async def test_onboarding_and_three_topics_are_said_and_stored(
    database: Database, tmp_path: Path
) -> None:
    """A member goes through onboarding and three topics; all answers are kept."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        topics = rt.content.topics
        await chat.cmd("start")
        assert chat.keys == ["onboarding.welcome", "onboarding.read_aloud"]
        assert chat.choices == ["read_to_me", "read_myself", "hear"]
        await chat.press("read_myself")
        assert chat.keys == ["onboarding.ask_name"]
        await chat.say("my name is sam")
        assert chat.keys == ["onboarding.nice_to_meet", *CONSENT_EXPLAINED, "onboarding.consent"]
        assert "Sam" in chat.last[0].text
        assert chat.choices == ["yes", "no", "hear"]
        await chat.press("yes")
        assert chat.keys == ["onboarding.consent_thanks", "onboarding.howto_buttons"]
        await chat.press("ok")
        assert chat.keys == ["onboarding.howto_stop"]
        await chat.press("ok")
        assert chat.keys == ["confidence.start"]
        await chat.press("feel_good")
        first_q = topics[0].questions[0]
        assert chat.keys == ["confidence.thanks", "topic.choose_first"]
        await chat.pick(topics[0].id)
        assert chat.keys == [topics[0].intro, first_q.text]
        assert chat.choices == ["yes", "a_bit", "no", "learn", "skip", "hear"]

        # Topic 1: Yes to everything and confirm every skill.
        confirmed: set[str] = set()
        for question in topics[0].questions:
            assert chat.keys[-1] == question.text
            await chat.press("yes")
            if question.reflect:
                assert chat.keys[0] == question.reflect
            while chat.keys[-1].startswith("skill."):
                several = chat.keys[-1] == "skill.several"
                await chat.press("several_yes" if several else "skill_yes")
                assert chat.keys[0] == ("skill.several_confirmed" if several else "skill.confirmed")
            confirmed.update(question.skills)
        assert chat.keys[-2:] == ["topic.done", "topic.choose"]
        await chat.pick(topics[1].id)
        assert chat.keys == [topics[1].intro, topics[1].questions[0].text]

        # Topic 2: No, I want to learn, Skip, then A bit + "not sure".
        await chat.press("no")
        assert chat.keys == ["answer.no_thanks", topics[1].questions[1].text]
        await chat.press("learn")
        assert chat.keys == ["learn.saved", topics[1].questions[2].text]
        await chat.press("skip")
        assert chat.keys == ["answer.skipped", topics[1].questions[3].text]
        for _ in topics[1].questions[3:]:
            await chat.press("a_bit")
            while chat.keys[-1].startswith("skill."):
                several = chat.keys[-1] == "skill.several"
                await chat.press("several_some" if several else "skill_unsure")
        assert chat.keys[-1] == "topic.choose"
        await chat.pick(topics[2].id)

        # Topic 3: typed answers.
        await chat.say("yeh")
        assert chat.keys[-1].startswith("skill.") or chat.keys[-1] == topics[2].questions[1].text
        while chat.keys[-1].startswith("skill."):
            several = chat.keys[-1] == "skill.several"
            await chat.say("nope")
            assert chat.keys[0] == ("skill.several_declined" if several else "skill.declined")
        await chat.say("no")
        assert chat.keys[0] == "answer.no_thanks"

        member = await member_row(rt)
        assert member.first_name == "Sam"
        assert member.consent is True and member.consent_at is not None
        assert await count(rt, MemberSkill, status="confirmed") == len(confirmed)
        assert await count(rt, MemberSkill, status="declined") >= 1
        assert await count(rt, LearningWish) == 1
        assert await count(rt, ConfidenceRating, moment="start", value=3) == 1
        async with rt.sessionmaker() as session:
            texts = (
                (await session.execute(select(Answer.text).where(Answer.kind == "text")))
                .scalars()
                .all()
            )
        assert "yeh" in texts and "nope" in texts


async def test_restart_resumes_the_same_question(sqlite_db: Database, tmp_path: Path) -> None:
    """Dropping the process state (a new runtime) resumes exactly where the member was."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.press("no")
        where = chat.keys[-1]
        seq = chat.seq
    async with runtime_for(sqlite_db, tmp_path) as rt2:
        chat2 = Chat(rt2.engine)
        await chat2.cmd("start")
        assert chat2.keys == ["resume.welcome_back", where]
        assert "Sam" in chat2.last[0].text
        # The buttons of the question shown before the restart still work.
        await chat2.press("no", seq=seq)
        assert chat2.keys[0] == "answer.no_thanks"


@pytest.mark.parametrize(("months", "said"), [(24, "2 years"), (18, "18 months")])
async def test_the_consent_says_how_long_typed_words_are_kept_as_set(
    sqlite_db: Database, tmp_path: Path, months: int, said: str
) -> None:
    """The period in the consent is the one the purge job deletes by (not fixed words)."""
    async with runtime_for(sqlite_db, tmp_path, SKILLSPARK_RETENTION_MONTHS=months) as rt:
        chat = Chat(rt.engine)
        await chat.to_consent("Sam")
        (how_long,) = [r.text for r in chat.last if r.key == "onboarding.consent_how_long"]
        assert f"I delete the words you type after {said}." in how_long


@pytest.mark.parametrize("typed", ["learn", "I want to learn", "i'd like to learn", "📚"])
async def test_typing_i_want_to_learn_is_the_learn_button(
    sqlite_db: Database, tmp_path: Path, typed: str
) -> None:
    """A member who types what the "📚 I want to learn" button says gets the same."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        first, second = rt.content.topics[0].questions[:2]
        await chat.say(typed)
        assert chat.keys == ["learn.saved", second.text]
        assert await count(rt, LearningWish) == 1
        async with rt.sessionmaker() as session:
            answer = (await session.execute(select(Answer).order_by(Answer.id.desc()))).scalar()
        assert answer is not None and answer.question_id == first.full_id
        assert (answer.kind, answer.choice, answer.text) == ("text", "learn", typed)


async def test_before_the_name_is_told_no_message_leaves_a_gap_for_it(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """/start and /myskills while the bot asks for the name: said without the name."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.cmd("start")
        await chat.press("read_myself")
        assert chat.keys == ["onboarding.ask_name"]
        await chat.cmd("start")
        assert chat.keys == ["resume.welcome_back", "onboarding.ask_name"]
        assert chat.last[0].text == "👋 Welcome back. It is good to see you."
        await chat.cmd("myskills")
        assert chat.last[0].text.startswith("⭐ Here are your skills:")
        await chat.say("Sam")
        await chat.cmd("myskills")
        assert chat.last[0].text.startswith("⭐ Sam, here are your skills:")


async def test_pause_asks_how_you_feel_and_resume_returns(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Pause asks for an end rating; coming back after a while asks a start rating.

    Coming back soon after (a tap on Carry on) is the same chat going on: straight
    to the question, the member was asked how they feel a moment ago.
    """
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.keys[-1]
        await chat.say("pause")
        assert chat.keys == ["confidence.end"]
        await chat.press("feel_good")
        assert chat.keys == ["confidence.thanks", "paused"]
        await chat.say("hello")
        assert chat.keys == ["resume.welcome_back", question]
        assert await session_numbers(rt) == [1, 1]  # start, end: the same chat goes on

        await chat.say("pause")
        await chat.press("feel_ok")
        assert chat.keys == ["confidence.thanks", "paused"]
        await chat.away(minutes=31)
        await chat.say("hello")
        assert chat.keys == ["resume.welcome_back", "confidence.start"]
        await chat.press("feel_ok")
        assert chat.keys == ["confidence.thanks", question]
        assert await count(rt, ConfidenceRating, moment="end") == 2
        assert await count(rt, ConfidenceRating, moment="start") == 2
        assert await session_numbers(rt) == [1, 1, 1, 2]
        async with rt.sessionmaker() as session:
            state = (await session.execute(select(ConversationState))).scalar_one()
        assert state.session_no == 2 and state.status == "active"


async def test_a_long_break_asks_how_you_feel_whatever_was_sent_while_paused(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """The break is timed from its rating: a look at My skills while paused changes nothing."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("pause")
        await chat.press("feel_ok")
        await chat.away(minutes=3 * 24 * 60)
        await chat.cmd("myskills")  # a message now, while still on a break
        await chat.press("go:carry_on", seq=0)
        assert chat.keys == ["resume.welcome_back", "confidence.start"]


async def test_a_break_without_a_rating_asks_how_you_feel_on_coming_back(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """A break taken during the start question asked nothing: carrying on asks it."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("pause")
        await chat.press("feel_ok")
        await chat.away(minutes=31)
        await chat.say("hello")
        assert chat.keys == ["resume.welcome_back", "confidence.start"]
        await chat.say("pause")  # a break again, at the "how do you feel" question
        assert chat.keys[-1] == "paused"
        await chat.press("go:carry_on", seq=0)  # at once
        assert chat.keys == ["resume.welcome_back", "confidence.start"]


async def session_numbers(rt: Runtime) -> list[int]:
    """The chat number of each rating, oldest first."""
    async with rt.sessionmaker() as session:
        found = await session.execute(
            select(ConfidenceRating.session_no).order_by(ConfidenceRating.id)
        )
        return list(found.scalars())


async def test_help_repeat_back_skip(sqlite_db: Database, tmp_path: Path) -> None:
    """Help, repeat, back and skip work by word at any question."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        q1 = chat.keys[-1]
        await chat.say("help")
        assert chat.keys == ["help.text", "help.more", q1]
        await chat.say("repeat")
        assert chat.keys == [q1]
        await chat.say("back")
        assert chat.keys == ["back.first", q1]
        await chat.say("skip")
        assert chat.keys[0] == "answer.skipped"
        q2 = chat.keys[-1]
        assert q2 != q1
        await chat.say("back")
        assert chat.keys == [q1]
        await chat.press("no")
        assert chat.keys == ["answer.no_thanks", q2]


async def test_old_button_gets_a_kind_reply_and_the_current_question(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """A tap on a finished question is not taken as an answer to the new one."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        old_seq = chat.seq
        await chat.press("no")
        current = chat.keys[-1]
        before = await count(rt, Answer, choice="no")
        await chat.press("yes", seq=old_seq)
        assert chat.keys == ["input.old_button", current]
        assert await count(rt, Answer, choice="no") == before
        assert await count(rt, Answer, choice="stale") == 1


async def test_repeated_update_is_handled_once(database: Database, tmp_path: Path) -> None:
    """The same channel update twice: one answer, no second reply."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        first = await chat.say("no", dedup_key="tg:1001")
        assert first
        answers = await count(rt, Answer)
        again = await chat.say("no", dedup_key="tg:1001")
        assert again == []
        assert await count(rt, Answer) == answers


async def test_no_consent_keeps_nothing_but_the_answer(sqlite_db: Database, tmp_path: Path) -> None:
    """Saying no to consent: a kind goodbye; no name and no answers are kept."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.to_consent("Alex")
        await chat.press("no")
        assert chat.keys == ["onboarding.consent_no"]
        member = await member_row(rt)
        assert member.consent is False and member.first_name is None
        async with rt.sessionmaker() as session:
            rows = (await session.execute(select(Answer.question_id))).scalars().all()
        assert rows == ["onboarding.consent"]
        await chat.say("hello?")
        assert chat.keys == ["onboarding.welcome", "onboarding.read_aloud"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \t ",
        "x" * 10_000,
        "😀😀😀",
        "hello\x00\x07\x1b[31m there",
        "我喜欢做饭",
        "'; DROP TABLE members; --",
        "✅ Yes, that is OK",
        "\u202eevil\u202c",
    ],
)
async def test_bad_input_gets_a_kind_reply_and_is_kept(
    sqlite_db: Database, tmp_path: Path, text: str
) -> None:
    """Odd input never crashes; the member gets a reply and stays in place."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.keys[-1]
        await chat.say(text)
        assert chat.last, "the member always gets a reply"
        assert all(r.text.strip() for r in chat.last)
        stored = await count(rt, Answer, kind="text")
        assert stored == 1
        async with rt.sessionmaker() as session:
            answer = (
                await session.execute(select(Answer).where(Answer.kind == "text"))
            ).scalar_one()
        if len(text) > 2000:
            assert answer.truncated and answer.original_length == 10_000
        else:
            assert answer.text == text.replace("\x00", "\ufffd")
        if text.strip() and "DROP" not in text and len(text) < 2000:
            assert chat.keys[-1] in (question, "skill.found") or chat.keys[-1].startswith("q.")
        assert await count(rt, Member) == 1


async def test_sticker_keeps_the_member_in_place(sqlite_db: Database, tmp_path: Path) -> None:
    """A sticker or photo gets a kind reply and the same question again."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.keys[-1]
        await chat.other("sticker")
        assert chat.keys == ["input.unsupported", question]


async def test_distress_mid_flow_alerts_and_lets_the_member_carry_on(
    database: Database, tmp_path: Path
) -> None:
    """A cry for help stops the flow, answers warmly, queues an alert; then carry on."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.keys[-1]
        await chat.say("my carer hits me and i am scared")
        assert chat.keys == ["safety.distress", "safety.carry_on"]
        assert "999" in chat.last[0].text
        assert await count(rt, StaffAlert) == 1
        await chat.press("carry_on")
        assert chat.keys == [question]


async def test_distress_before_consent_is_never_ignored(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Even at the name question, a distress message gets help and an alert."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.cmd("start")
        await chat.say("someone took all my money and i feel unsafe")
        assert chat.keys[0] == "safety.distress"
        assert await count(rt, StaffAlert) == 1


async def test_free_text_becomes_a_confirmed_skill(database: Database, tmp_path: Path) -> None:
    """The member describes life; the finder notices a skill; the member confirms it."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("i walk my neighbours dog every day")
        assert chat.keys[0] == "skill.found"
        assert "Is that right?" in chat.last[0].text or "?" in chat.last[0].text
        await chat.press("skill_yes")
        assert chat.keys[0] == "skill.confirmed"
        async with rt.sessionmaker() as session:
            skill = (
                (
                    await session.execute(
                        select(MemberSkill).where(MemberSkill.status == "confirmed")
                    )
                )
                .scalars()
                .first()
            )
            assert skill is not None and skill.category == "animals"
            evidence = await session.get(Answer, skill.evidence_answer_id)
        assert evidence is not None and evidence.text == "i walk my neighbours dog every day"


async def test_my_skills_shows_confirmed_skills_and_a_card(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """/myskills lists confirmed skills by category and sends a picture card."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.cmd("myskills")
        assert chat.keys[0] == "myskills"
        assert chat.last[0].image_png is None
        question = rt.content.topics[0].questions[0]
        await chat.press("yes")
        await chat.press("several_yes")
        await chat.cmd("myskills")
        profile = chat.last[0]
        label = rt.content.taxonomy.skills[question.skills[0]].label
        assert label in profile.text
        assert profile.image_png is not None and profile.image_png.startswith(b"\x89PNG")


async def test_a_card_being_drawn_holds_up_nobody_else(sqlite_db: Database, tmp_path: Path) -> None:
    """The picture is drawn after the transaction, off the event loop: others go on meanwhile."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        ana, bo = Chat(rt.engine, "ana"), Chat(rt.engine, "bo")
        await ana.onboard()
        await bo.onboard()
        await ana.press("yes")
        await ana.press("several_yes")
        drawing, may_finish = threading.Event(), threading.Event()
        real = rt.engine.card_renderer
        assert real is not None

        def slow(name: str, skills: list[tuple[str, str, str]], wishes: list[str]) -> bytes:
            drawing.set()
            may_finish.wait(10)  # a card that takes long to draw (in a worker thread)
            return real(name, skills, wishes)

        rt.engine.card_renderer = slow
        card = asyncio.create_task(ana.cmd("myskills"))
        assert await asyncio.to_thread(drawing.wait, 10)
        # while Ana's card is being drawn, Bo answers, and it is stored at once
        await asyncio.wait_for(bo.press("yes"), 5)
        assert bo.keys[-1] == "skill.several"
        assert not card.done()
        may_finish.set()
        replies = await asyncio.wait_for(card, 10)
        assert replies[0].key == "myskills"
        assert replies[0].image_png is not None and replies[0].image_png.startswith(b"\x89PNG")


@pytest.mark.parametrize("text", ["i feel sad", "i am so lonely", "nobody likes me", "bad day"])
async def test_low_mood_gets_a_kind_word_not_a_skills_question(
    sqlite_db: Database, tmp_path: Path, text: str
) -> None:
    """Sad or lonely words are answered warmly, kept, and the question comes back."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.keys[-1]
        await chat.say(text)
        assert chat.keys == ["mood.low", question]
        assert "Jo at the office" in chat.last[0].text
        assert await count(rt, Answer, intent="low_mood") == 1
        await chat.say("pause")
        await chat.say("i feel sad")  # answers "how do you feel": no kind-word detour
        assert chat.keys == ["confidence.thanks", "paused"]


async def test_member_removes_a_skill_from_the_profile(sqlite_db: Database, tmp_path: Path) -> None:
    """Under "My skills" a member can take a skill off the list; it is kept as removed."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("i walk my neighbours dog every day")
        while chat.keys[-1].startswith("skill."):
            await chat.press("skill_yes")
        question = chat.keys[-1]
        await chat.cmd("myskills")
        # the composed message can be heard too ("Hear it" last, read by the channel)
        assert [b.choice for b in chat.last[0].buttons] == ["rm:list", HEAR_SHOWN]
        await chat.press("rm:list", seq=0)
        assert chat.keys == ["profile.which"]
        assert "rm:walking_dogs" in chat.choices and "rm:keep" in chat.choices
        await chat.press("rm:walking_dogs", seq=0)
        assert chat.keys == ["profile.removed", question]
        await chat.press("rm:walking_dogs", seq=0)  # a second tap on the old button
        assert chat.keys == ["profile.already_removed", question]
        await chat.cmd("myskills")
        assert "walking dogs" not in chat.last[0].text
        assert await count(rt, MemberSkill, skill_id="walking_dogs", status="removed") == 1
