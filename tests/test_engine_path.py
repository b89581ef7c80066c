"""Issue 13, a short path: the topic choice, progress, several skills in one step."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.content import ContentError, load_content
from bot.conversation.engine import ENGINE_KEYS
from bot.conversation.topics import topic_page
from bot.conversation.words import skills_words, title_matches
from storage.models import MemberSkill
from tests.chat import Chat
from tests.conftest import Database, runtime_for

DIALOGUES = Path(__file__).resolve().parent.parent / "dialogues"


def test_topic_page_wraps_round_and_says_when_more_remain() -> None:
    assert topic_page(["a", "b", "c", "d", "e"], 0) == (["a", "b", "c"], True)
    assert topic_page(["a", "b", "c", "d", "e"], 3) == (["d", "e", "a"], True)
    assert topic_page(["a", "b"], 3) == (["a", "b"], False)


def test_skills_words_and_title_matches() -> None:
    assert skills_words(["A"]) == "A"
    assert skills_words(["A", "B"]) == "A and B"
    assert skills_words(["A", "B", "C"]) == "A, B and C"
    assert title_matches("food", "🍳 Food and drink")
    assert title_matches("animal", "🐾 Animals")
    assert not title_matches("cars", "🍳 Food and drink")


def test_a_topic_with_8_questions_stops_loading(tmp_path: Path) -> None:
    dialogues = Path(shutil.copytree(DIALOGUES, tmp_path / "dialogues"))
    flow = dialogues / "flows" / "animals.yml"
    text = flow.read_text()
    extra = "".join(
        f"  - id: extra{i}\n    text: q.animals.pets\n    skills: [caring_for_pets]\n"
        for i in range(3)
    )
    flow.write_text(text + extra)
    with pytest.raises(ContentError) as error:
        load_content(dialogues, engine_keys=ENGINE_KEYS)
    assert "at most 7 questions" in str(error.value)


async def test_topic_choice_pages_wraps_and_never_offers_a_done_topic(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard(topic=None)
        topics = [t.id for t in rt.content.topics]
        assert chat.keys[-1] == "topic.choose_first"
        assert len(chat.choices) <= 5
        assert chat.choices == [f"topic:{t}" for t in topics[:3]] + ["more", "hear"]
        seen: list[str] = []
        for _ in range(5):
            seen += [c for c in chat.choices if c.startswith("topic:")]
            await chat.press("more")
        assert {f"topic:{t}" for t in topics} <= set(seen)  # wrapped round
        old_seq = chat.seq
        await chat.pick("food")
        assert chat.keys[0] == "topic.food.intro"
        for _ in rt.content.topics[0].questions:
            await chat.press("skip")
        assert chat.keys[-2:] == ["topic.done", "topic.choose"]
        # 5 to choose from ("Hear it" reads them out; it is not a choice)
        assert len(chat.choices) == 6 and chat.choices[-2:] == ["pause", "hear"]
        for _ in range(6):
            assert "topic:food" not in chat.choices
            await chat.press("more")
        await chat.press("topic:home", seq=old_seq)
        assert chat.keys[0] == "input.old_button"


async def test_back_at_the_topic_choice_shows_the_page_before(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """A member who tapped "Something else" past the topic they wanted can go back."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard(topic=None)
        first = chat.choices
        await chat.press("more")
        second = chat.choices
        await chat.press("more")
        assert chat.choices != second
        await chat.say("back")
        assert chat.keys == ["topic.choose_first"] and chat.choices == second
        await chat.say("back")
        assert chat.choices == first
        await chat.say("back")  # the first page: nothing before it
        assert chat.keys == ["back.first", "topic.choose_first"] and chat.choices == first


async def test_a_typed_title_chooses_and_progress_counts(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard(topic=None)
        await chat.say("animals")
        animals = rt.content.topic("animals")
        assert animals is not None
        count = len(animals.questions)
        assert chat.keys[0] == "topic.animals.intro"
        first = chat.last[-1].text.split("\n")[0]
        assert first == f"🐾 Question 1 of {count}"
        for _ in range(count - 1):
            await chat.press("skip")
        assert chat.last[-1].text.split("\n")[0] == f"🐾 Question {count} of {count}"
        await chat.cmd("back")
        assert chat.last[-1].text.split("\n")[0] == f"🐾 Question {count - 1} of {count}"


async def statuses(rt: object, chat: Chat) -> dict[str, str]:
    async with rt.sessionmaker() as session:  # type: ignore[attr-defined]
        rows = (await session.execute(select(MemberSkill.skill_id, MemberSkill.status))).all()
    return {r[0]: r[1] for r in rows}


@pytest.mark.parametrize(
    ("choice", "then", "expected"),
    [
        ("several_yes", [], "confirmed"),
        ("several_no", [], "declined"),
        ("several_some", ["skill_yes", "skill_no"], None),
    ],
)
async def test_two_skills_are_confirmed_in_one_prompt(
    sqlite_db: Database, tmp_path: Path, choice: str, then: list[str], expected: str | None
) -> None:
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = rt.content.topics[0].questions[0]
        assert len(question.skills) == 2
        await chat.press("yes")
        assert chat.keys == [question.reflect, "skill.several"]
        assert chat.choices == ["several_yes", "several_some", "several_no", "hear"]
        await chat.press(choice)
        for press in then:
            await chat.press(press)
        got = await statuses(rt, chat)
        if expected is not None:
            assert [got[s] for s in question.skills] == [expected, expected]
        else:
            assert [got[s] for s in question.skills] == ["confirmed", "declined"]
        assert chat.keys[-1] == rt.content.topics[0].questions[1].text
