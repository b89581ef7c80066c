"""No dead ends, my own skills and a person when stuck: the engine on a real database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from bot.app import Runtime
from bot.jobs import alert_text
from bot.types import HEAR_SHOWN
from storage.models import Answer, ConversationState, MemberSkill, StaffAlert, utcnow
from tests.chat import Chat
from tests.conftest import Database, runtime_for


async def alerts(rt: Runtime, kind: str = "help") -> list[StaffAlert]:
    """The staff alerts of one kind."""
    async with rt.sessionmaker() as session:
        rows = await session.execute(select(StaffAlert).where(StaffAlert.kind == kind))
        return list(rows.scalars().all())


async def skill(rt: Runtime, skill_id: str) -> MemberSkill | None:
    """The member's record for one skill."""
    async with rt.sessionmaker() as session:
        rows = await session.execute(select(MemberSkill).where(MemberSkill.skill_id == skill_id))
        return rows.scalars().first()


async def finish(rt: Runtime) -> None:
    """Put the member at the end: every topic answered."""
    async with rt.sessionmaker.begin() as session:
        await session.execute(
            update(ConversationState).values(status="finished", flow_id="end", step_id="", data={})
        )


def go_buttons(chat: Chat) -> list[str]:
    """The "go" buttons of the latest replies (not "Hear it", which every such message has)."""
    return [c for c in chat.choices if c.startswith("go:") and not c.startswith("go:hear:")]


async def test_carry_on_after_pause_works_also_after_a_restart(
    database: Database, tmp_path: Path
) -> None:
    """ "Paused" carries a carry-on button; a new engine on the same database honours it."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.cmd("pause")
        await chat.press("feel_ok")
        assert chat.keys[-1] == "paused"
        assert go_buttons(chat) == ["go:carry_on"]
        assert "/start" not in chat.last[-1].text
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.away(minutes=45)  # a long break: how do you feel, then the question
        await chat.press("go:carry_on", seq=0)
        assert chat.keys[:2] == ["resume.welcome_back", "confidence.start"]


async def test_stop_goodbye_carries_on(database: Database, tmp_path: Path) -> None:
    """The stop goodbye carries the carry-on button too."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.cmd("stop")
        await chat.press("pause")
        await chat.press("skip")
        assert chat.keys[-1] == "stop.bye"
        assert go_buttons(chat) == ["go:carry_on"]
        await chat.press("go:carry_on", seq=0)
        assert chat.keys[0] == "resume.welcome_back"


async def test_after_no_to_consent_commands_do_not_start_it_all_again(
    database: Database, tmp_path: Path
) -> None:
    """ "Stop" or "my skills" after a no: the answer stands, with "Try again" (no welcome)."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.to_consent("Sam")
        await chat.press("no")
        for command in ("stop", "pause", "myskills", "settings"):
            await chat.cmd(command)
            assert "onboarding.welcome" not in chat.keys, command
            assert chat.keys[-1] == "onboarding.consent_no", command
            assert go_buttons(chat) == ["go:try_again"], command
        await chat.cmd("myskills")
        assert chat.keys == ["myskills.none", "onboarding.consent_no"]
        await chat.cmd("start")  # asked for: the welcome again
        assert chat.keys == ["onboarding.welcome", "onboarding.read_aloud"]


async def test_try_again_after_consent_refused(database: Database, tmp_path: Path) -> None:
    """ "No" to consent carries "Try again", which starts onboarding again, after a restart too."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.to_consent("Sam")
        await chat.press("no")
        assert chat.keys[-1] == "onboarding.consent_no"
        assert go_buttons(chat) == ["go:try_again"]
        assert "/start" not in chat.last[-1].text
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.press("go:try_again", seq=0)
        assert chat.keys == ["onboarding.welcome", "onboarding.read_aloud"]


async def test_what_next_buttons(database: Database, tmp_path: Path) -> None:
    """A finished member: any text or "what next" shows the menu; each button does its thing."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await finish(rt)
        await chat.say("hello there")
        assert chat.keys == ["all.done", "next.menu"]
        assert go_buttons(chat) == ["go:myskills", "go:add_skill", "go:chances"]
        await chat.say("what next")
        assert chat.keys == ["all.done", "next.menu"]
        await chat.press("go:myskills", seq=0)
        assert chat.keys[0] == "myskills"
        await chat.press("go:chances", seq=0)
        assert chat.keys == ["nudges.menu"]
        await chat.press("go:add_skill", seq=0)
        assert chat.keys == ["own.ask"]
        await chat.say("knitting")
        assert chat.keys == ["skill.found"]
        await chat.press("skill_yes")
        assert chat.keys == ["skill.confirmed", "all.done", "next.menu"]
        row = await skill(rt, "knitting")
        assert row is not None and row.status == "confirmed" and row.source == "member"


async def test_own_words_skill_goes_back_to_the_same_question(
    database: Database, tmp_path: Path
) -> None:
    """ "I can also make cakes": finder, confirmation, stored, back to the same question."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.keys[-1]
        await chat.say("I can also make cakes")
        assert chat.keys == ["skill.found"]
        assert chat.choices == ["skill_yes", "skill_no", "skill_unsure", "hear"]
        await chat.press("skill_yes")
        assert chat.keys == ["skill.confirmed", question]
        row = await skill(rt, "baking")
        assert row is not None and row.status == "confirmed" and row.source == "member"
        await chat.press("yes")  # the question still answers as before
        assert chat.keys[-1] != question


async def test_own_words_nothing_found_keeps_the_words(database: Database, tmp_path: Path) -> None:
    """Nothing found: a kind reply, the words kept as an own-words answer, same question."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.keys[-1]
        await chat.say("I can whistle backwards")
        assert chat.keys == ["own.kept", question]
        async with rt.sessionmaker() as session:
            kept = await session.execute(
                select(Answer.text).where(Answer.question_id == "own_words")
            )
            assert kept.scalars().all() == ["I can whistle backwards"]


async def test_add_back_a_declined_skill(database: Database, tmp_path: Path) -> None:
    """My skills offers the declined skills back; one tap confirms it."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("I am good at knitting")
        await chat.press("skill_no")
        assert (await skill(rt, "knitting")).status == "declined"  # type: ignore[union-attr]
        await chat.cmd("myskills")
        assert "addback.offer" in chat.keys
        await chat.press("go:add_back", seq=0)
        assert chat.keys == ["addback.pick"]
        assert chat.choices == ["go:add_back:knitting", "go:add_skill", HEAR_SHOWN]
        await chat.press("go:add_back:knitting", seq=0)
        assert chat.keys[0] == "skill.confirmed"
        assert (await skill(rt, "knitting")).status == "confirmed"  # type: ignore[union-attr]
        await chat.cmd("myskills")
        assert "addback.offer" not in chat.keys


async def test_stuck_twice_offers_staff_and_queues_one_help_alert(
    database: Database, tmp_path: Path
) -> None:
    """Two not-understood in a row: "Ask staff"; a tap queues one help alert, not two."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        question = chat.keys[-1]
        await chat.say("zzqx blorp")
        assert "clarify.pick" in chat.keys and "stuck.offer" not in chat.keys
        await chat.other("sticker")
        assert chat.keys == ["input.unsupported", question, "stuck.offer"]
        assert go_buttons(chat) == ["go:ask_staff"]
        await chat.press("go:ask_staff", seq=0)
        assert chat.keys == ["stuck.asked", question]
        found = await alerts(rt)
        assert len(found) == 1 and found[0].kind == "help"
        await chat.press("go:ask_staff", seq=0)
        assert chat.keys == ["stuck.already", question]
        assert len(await alerts(rt)) == 1
        # half an hour later a new request is queued
        async with rt.sessionmaker.begin() as session:
            await session.execute(
                update(StaffAlert).values(created_at=utcnow() - timedelta(minutes=31))
            )
        await chat.press("go:ask_staff", seq=0)
        assert chat.keys[0] == "stuck.asked"
        assert len(await alerts(rt)) == 2
        assert await alerts(rt, "distress") == []


async def test_typing_ask_staff_asks_for_a_person_at_any_time(
    database: Database, tmp_path: Path
) -> None:
    """ "ask staff" typed (no need to be stuck first, even before consent): one help alert."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.to_consent("Kim")
        asked = chat.keys[-1]
        await chat.say("Ask staff")
        assert chat.keys == ["stuck.asked", asked]
        (alert,) = await alerts(rt)
        assert alert.kind == "help" and "typed that they would like to ask staff" in alert.text
        await chat.press("yes")
        await chat.say("talk to a person")
        assert chat.keys[0] == "stuck.already"  # one request each half hour is enough
        assert len(await alerts(rt)) == 1


async def test_understood_input_in_between_resets_the_count(
    database: Database, tmp_path: Path
) -> None:
    """Not understood, understood, not understood: no "Ask staff" offer."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("zzqx blorp")
        await chat.cmd("repeat")
        await chat.cmd("frobnicate")
        assert chat.keys[0] == "input.not_understood"
        assert "stuck.offer" not in chat.keys
        await chat.say("zzqx blorp")
        assert chat.keys[-1] == "stuck.offer"
        async with rt.sessionmaker() as session:
            n = await session.execute(select(func.count()).select_from(StaffAlert))
            assert n.scalar_one() == 0


async def test_help_alert_text_names_the_member_and_the_question(
    database: Database, tmp_path: Path
) -> None:
    """Staff get the member's first name and id, what they were on, and not safety words."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard("Robin")
        question_text = chat.last[-1].text
        await chat.say("zzqx blorp")
        await chat.say("zzqx blorp")
        await chat.press("go:ask_staff", seq=0)
        (alert,) = await alerts(rt)
        words = alert_text(alert)
        assert "Robin" in words and f"member {alert.member_id}" in words
        assert question_text in words
        assert "asked for help" in words
        assert "safeguarding" not in words.lower()


def test_own_skill_words_table() -> None:
    """The words table: longest start first, nothing for other text or a bare start."""
    from bot.conversation.words import own_skill_words

    assert own_skill_words("I can also make cakes") == "make cakes"
    assert own_skill_words("I can swim!") == "swim"
    assert own_skill_words("I am good at knitting") == "knitting"
    assert own_skill_words("I can") is None
    assert own_skill_words("I cannot swim") is None
    assert own_skill_words("Yes") is None


def test_the_desk_names_help_alerts_plainly() -> None:
    """The desk's alerts page has a plain label for help alerts."""
    from bot.desk.app import ALERT_WORDS

    assert ALERT_WORDS["help"] == "🙋 A member asked for help"


async def test_own_words_wait_until_the_question_in_hand_is_answered(
    database: Database, tmp_path: Path
) -> None:
    """ "Add a skill" while a skill waits for a yes: finish that first; "Not now" goes back."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.press("yes")
        assert chat.keys[-1] == "skill.several"
        await chat.say("add a skill")
        assert chat.keys == ["own.finish_first", "skill.several"]
        await chat.press("several_yes")
        question = chat.keys[-1]
        await chat.say("add a skill")
        assert chat.keys == ["own.ask"]
        assert go_buttons(chat) == ["go:where"]
        await chat.press("go:where", seq=0)
        assert chat.keys == [question]
        await chat.say("I can also make cakes")  # own words still work any time
        assert chat.keys == ["skill.found"]


async def test_words_the_topic_choice_does_not_understand_count_as_stuck(
    database: Database, tmp_path: Path
) -> None:
    """Twice not understood at the topic choice: "Ask staff" is offered there too."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard(topic=None)
        await chat.say("zzqx blorp")
        assert "stuck.offer" not in chat.keys
        await chat.say("zzqx blorp")
        assert chat.keys[-1] == "stuck.offer"


async def test_after_no_to_consent_ask_staff_still_asks_a_person(
    database: Database, tmp_path: Path
) -> None:
    """A member who said no can still ask for a person by typing; nothing else is kept."""
    async with runtime_for(database, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.to_consent("Sam")
        await chat.press("no")
        await chat.say("ask staff")
        assert chat.keys[0] == "stuck.asked"
        (alert,) = await alerts(rt)
        assert alert.kind == "help"
