"""Fast tests of the conversation's pure decisions, below the end-to-end layer.

No database, no NLU, no engine: typed answer -> choice, feelings, names, the
onboarding walk, "back", the phase of a saved state and the step table.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bot.content import ChoiceButton, Step
from bot.conversation import preferences
from bot.conversation.confirm import CONFIRM_STATUS
from bot.conversation.onboarding import walk
from bot.conversation.state import (
    Interrupt,
    PromptKind,
    StateData,
    as_utc,
    derive_phase,
    interrupt_of,
    load_data,
    prompt_choices,
    prompt_kind,
)
from bot.conversation.tables import (
    COMMAND_ACTIONS,
    CONFIRM_BUTTONS,
    INTENT_CHOICES,
    INTERRUPTS,
    PROMPTS,
    STEPS,
    typed_choice,
    waiting,
)
from bot.conversation.topics import back_target, open_skills
from bot.conversation.words import (
    COMMAND_WORDS,
    clean_text,
    extract_name,
    feeling_words,
    plain_words,
    storable,
)
from bot.types import COMMANDS


def saved(kind: str, *, interrupt: str | None = None, under: str | None = None) -> StateData:
    """A saved state whose waiting prompt is ``kind`` (inside ``interrupt`` over ``under``)."""
    data: StateData = {"prompt": {"kind": kind, "key": "k", "values": {}, "buttons": []}}
    if interrupt:
        data["interrupt"] = interrupt
        data["saved_prompt"] = (
            {"kind": under, "key": "q", "values": {}, "buttons": []} if under else None
        )
    return data


# ------------------------------------------------------------------------ words


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("my name is sam", "Sam"),
        ("Hi, I'm Jo Ann Smith", "Jo Ann"),
        ("call me mary-kate", "Mary-kate"),
        ("it's DeShawn!", "DeShawn"),
        ("123 !!!", None),
        ("", None),
    ],
)
def test_a_first_name_is_taken_from_what_was_typed(text: str, name: str | None) -> None:
    assert extract_name(text) == name


def test_text_is_cleaned_matched_and_stored() -> None:
    assert clean_text("  hello\x07  there \n") == "hello there"
    assert plain_words("✅ Yes, PLEASE!") == "yes please"
    assert storable("a\x00b") == "a\ufffdb"


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("good", "feel_good"),
        ("I feel great today", "feel_good"),
        ("okay I guess", "feel_ok"),
        ("not good", "feel_low"),  # low words win over good ones
        ("a bit worried", "feel_low"),
        ("🙂", "feel_ok"),
        ("😊😊", "feel_good"),
        ("😢", "feel_low"),
        ("pizza", None),
    ],
)
def test_feeling_words_answer_a_rating(text: str, choice: str | None) -> None:
    assert feeling_words(text) == choice


# ------------------------------------------------------- typed answer -> choice


@pytest.mark.parametrize(
    ("kind", "intent", "choice"),
    [
        (PromptKind.CONSENT, "affirm", "yes"),
        (PromptKind.CONSENT, "deny", "no"),
        (PromptKind.OK, "thanks", "ok"),
        (PromptKind.QUESTION, "want_to_learn", "learn"),
        (PromptKind.QUESTION, "greet", None),
        (PromptKind.CONFIRM, "unsure", "skill_unsure"),
        (PromptKind.MORE, "goodbye", "pause"),
    ],
)
def test_an_intent_answers_the_waiting_prompt(kind: str, intent: str, choice: str | None) -> None:
    assert typed_choice(waiting(saved(kind)), "whatever", intent) == choice


def test_a_rating_takes_feeling_words_before_the_intent() -> None:
    spec = waiting(saved(PromptKind.FINAL_RATING))
    assert typed_choice(spec, "brilliant", "deny") == "feel_good"
    assert typed_choice(spec, "hmm", "unsure") == "feel_low"
    assert typed_choice(spec, "hmm", "affirm") is None


def test_an_interrupt_answers_before_the_prompt_under_it() -> None:
    data = saved(PromptKind.INTERRUPT, interrupt=Interrupt.SAFETY, under=PromptKind.QUESTION)
    assert typed_choice(waiting(data), "yes", "affirm") == "carry_on"
    stop = saved(PromptKind.INTERRUPT, interrupt=Interrupt.STOP_MENU, under=PromptKind.QUESTION)
    assert typed_choice(waiting(stop), "no", "deny") == "carry_on"
    forget = saved(PromptKind.INTERRUPT, interrupt=Interrupt.FORGET_CONFIRM)
    assert typed_choice(waiting(forget), "yes", "affirm") == "forget_yes"
    rating = saved(PromptKind.INTERRUPT, interrupt=Interrupt.CONFIDENCE_END)
    assert typed_choice(waiting(rating), "fine", None) == "feel_ok"


def test_nothing_waiting_maps_nothing() -> None:
    assert waiting({}) is None
    assert typed_choice(None, "yes", "affirm") is None


def test_every_mapped_choice_is_a_button_of_its_prompt() -> None:
    """Typed text can only choose what a button could, or "skip" (as the command does).

    (A ``choice`` step brings its own buttons.)
    """
    for kind, spec in PROMPTS.items():
        if spec.buttons:
            ids = {c for c, _ in spec.buttons} | {"skip"}
            assert set(spec.intents.values()) <= ids, kind
    for interrupt, ispec in INTERRUPTS.items():
        assert set(ispec.intents.values()) <= {c for c, _ in ispec.buttons} | {"skip"}, interrupt
    assert set(INTENT_CHOICES) == {*PROMPTS, *INTERRUPTS}


def test_every_command_a_channel_sends_has_an_action() -> None:
    assert set(COMMAND_ACTIONS) == set(COMMANDS)
    assert set(COMMAND_WORDS.values()) <= set(COMMAND_ACTIONS)


def test_every_confirmation_button_keeps_a_status() -> None:
    assert set(CONFIRM_STATUS) == {c for c, _ in CONFIRM_BUTTONS}


# ------------------------------------------------------------------ saved state


def test_the_state_is_read_from_its_stored_json() -> None:
    stored = {"prompt": {"kind": "question", "key": "q.x", "buttons": [["yes", "button.yes"]]}}
    data = load_data(stored)
    assert prompt_kind(data) is PromptKind.QUESTION
    assert prompt_choices(data) == ["yes"]
    assert interrupt_of(data) is None
    assert interrupt_of(load_data({"interrupt": "stop_menu"})) is Interrupt.STOP_MENU
    assert load_data(None) == {}
    data["name"] = "Sam"
    assert "name" not in stored  # a copy


@pytest.mark.parametrize(
    ("flow", "data", "phase"),
    [
        ("onboarding", saved(PromptKind.CONSENT), "step"),
        ("onboarding", {}, "step"),
        ("food", saved(PromptKind.QUESTION), "question"),
        ("food", saved(PromptKind.CONFIRM), "confirm"),
        ("food", saved(PromptKind.MORE), "topic_end"),
        ("end", saved(PromptKind.FINAL_RATING), "final_rating"),
        ("end", {}, "final_rating"),
        (
            "food",
            saved(PromptKind.INTERRUPT, interrupt=Interrupt.SAFETY, under=PromptKind.CONFIRM),
            "confirm",
        ),
    ],
)
def test_the_phase_follows_from_the_saved_prompt(flow: str, data: StateData, phase: str) -> None:
    assert derive_phase(flow, data) == phase


def test_naive_times_are_utc() -> None:
    naive = datetime(2026, 1, 2, 3, 4)
    assert as_utc(naive) == naive.replace(tzinfo=UTC)
    aware = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert as_utc(aware) is aware
    assert as_utc(None) is None


# ------------------------------------------------------------------- onboarding

STEPS_FLOW = {
    "hello": Step("hello", "say", "m.hello", next="name"),
    "name": Step("name", "ask_name", "m.name", next="thanks"),
    "thanks": Step("thanks", "say", "m.thanks", next="agree"),
    "agree": Step("agree", "consent", "m.agree", yes="go", no="@end_no_consent"),
    "go": Step("go", "say", "m.go", next="@topics"),
    "loop": Step("loop", "say", "m.loop", next="loop"),
    "pick": Step("pick", "choice", "m.pick", buttons=(ChoiceButton("ok", "button.ok", "go"),)),
}


def test_walking_says_steps_until_one_waits() -> None:
    said, stop = walk(STEPS_FLOW, "hello")
    assert [s.id for s in said] == ["hello"]
    assert stop == "name"
    said, stop = walk(STEPS_FLOW, "thanks")
    assert ([s.id for s in said], stop) == (["thanks"], "agree")


def test_walking_ends_at_an_action() -> None:
    said, stop = walk(STEPS_FLOW, "go")
    assert ([s.id for s in said], stop) == (["go"], "@topics")
    assert walk(STEPS_FLOW, "@end_no_consent") == ([], "@end_no_consent")


def test_a_loop_of_say_steps_stops() -> None:
    said, stop = walk(STEPS_FLOW, "loop")
    assert stop == ""
    assert len(said) == len(STEPS_FLOW) + 1


def test_the_step_table_knows_what_each_type_asks_and_needs() -> None:
    assert not STEPS["say"].waits
    assert STEPS["ask_name"].waits and STEPS["ask_name"].prompt is None
    assert STEPS["consent"].prompt is PromptKind.CONSENT
    assert STEPS["consent"].needs == ("yes", "no")
    assert STEPS["choice"].flow_buttons
    for spec in STEPS.values():
        assert spec.waits == (spec.on_choice is not None or spec.on_text is not None)
        if spec.prompt is not None:
            assert spec.prompt in PROMPTS


# ------------------------------------------------------------------------ topics


def test_back_from_a_question_goes_to_the_one_before() -> None:
    history = [["food", "a"], ["food", "b"], ["food", "c"]]
    target, after = back_target(history, ["food", "c"], "question")
    assert target == ["food", "b"]
    assert after == [["food", "a"]]


def test_back_while_confirming_asks_the_same_question_again() -> None:
    history = [["food", "a"], ["food", "b"]]
    target, after = back_target(history, ["food", "b"], "confirm")
    assert target == ["food", "b"]
    assert after == [["food", "a"]]


def test_back_after_a_topic_goes_to_its_last_question() -> None:
    history = [["food", "a"], ["food", "b"]]
    assert back_target(history, ["food", "b"], "topic_end") == (["food", "b"], [["food", "a"]])


def test_back_stops_at_the_start_of_a_topic() -> None:
    history = [["home", "z"], ["food", "a"]]
    assert back_target(history, ["food", "a"], "question") == (None, history)
    assert back_target([], ["food", "a"], "question") == (None, [])


def test_settled_skills_are_not_asked_again() -> None:
    statuses = {"cooking": "confirmed", "tea": "declined", "music": "suggested"}
    assert open_skills(statuses, ["cooking", "music", "tea", "garden", "music"]) == [
        "music",
        "garden",
    ]


def test_own_words_reopen_a_skill_said_no_to_before() -> None:
    statuses = {"cooking": "confirmed", "tea": "declined"}
    assert open_skills(statuses, ["tea", "cooking", "baking"], settled=("confirmed",)) == [
        "tea",
        "baking",
    ]


# ------------------------------------------------------------- saved state, typed


def test_stored_kinds_become_enums_and_unknown_ones_are_dropped() -> None:
    stored = {
        "prompt": {"kind": "interrupt", "key": "stop.menu", "buttons": []},
        "saved_prompt": {"kind": "question", "key": "q.x", "buttons": []},
        "own_return": {"kind": "no_such_kind", "key": "q.y", "buttons": []},
        "interrupt": "stop_menu",
    }
    data = load_data(stored)
    assert data["prompt"] is not None and data["prompt"]["kind"] is PromptKind.INTERRUPT
    assert data["saved_prompt"] is not None and data["saved_prompt"]["kind"] is PromptKind.QUESTION
    assert data["own_return"] is None  # a kind no release knows: shown where they are instead
    assert data["interrupt"] is Interrupt.STOP_MENU
    assert interrupt_of(load_data({"interrupt": "gone_away"})) is None
    assert json.loads(json.dumps(data))["interrupt"] == "stop_menu"  # the same stored JSON


# ------------------------------------------------------------------ preferences


def member_turn(*, consented: bool, stored: dict[str, bool] | None = None) -> Any:
    """The little of a turn the preference helpers use."""
    member = SimpleNamespace(preferences=dict(stored or {}))
    return SimpleNamespace(data={}, member=member, consented=consented)


def test_a_choice_before_consent_waits_in_the_conversation_then_goes_to_the_member() -> None:
    turn = member_turn(consented=False)
    preferences.set_(turn, preferences.READ_ALOUD, True)
    assert turn.member.preferences == {}  # nothing kept on the member before consent
    assert preferences.get(turn, preferences.READ_ALOUD) is True
    preferences.keep_at_consent(turn)
    assert turn.member.preferences == {"read_aloud": True}
    assert "preferences" not in turn.data


def test_after_consent_a_choice_is_kept_on_the_member_and_missing_means_off() -> None:
    turn = member_turn(consented=True, stored={"read_aloud": True})
    assert preferences.get(turn, preferences.FEWER_PICTURES) is False
    preferences.set_(turn, preferences.FEWER_PICTURES, True)
    assert turn.member.preferences == {"read_aloud": True, "fewer_pictures": True}
    with pytest.raises(ValueError, match="unknown preference"):
        preferences.set_(turn, "dark_mode", True)


def test_a_preference_step_names_a_known_preference() -> None:
    check = STEPS["preference"].check
    assert check is not None
    buttons = (ChoiceButton("read_to_me", "button.read_to_me", "", value=True),)
    good = Step("read", "preference", "m.read", next="x", buttons=buttons, preference="read_aloud")
    assert check(good) == []
    bad = Step("read", "preference", "m.read", next="x", buttons=buttons, preference="loud")
    assert check(bad) == ["sets unknown preference 'loud'"]
    assert STEPS["preference"].flow_buttons
    assert STEPS["preference"].needs == ("preference", "buttons", "next")


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("read to me", "read_on"),
        ("stop reading", "read_off"),
        ("fewer pictures", "pictures_fewer"),
        ("more pictures", "pictures_more"),
        ("hear it", "hear"),
        ("settings", "settings"),
    ],
)
def test_words_that_change_how_the_bot_talks(typed: str, command: str) -> None:
    assert COMMAND_WORDS[plain_words(typed)] == command
    assert command in COMMANDS


def test_a_break_s_rating_time_that_is_missing_or_damaged_counts_as_long_ago() -> None:
    """Then the member is asked how they feel (a new chat), never a crash."""
    from datetime import timedelta

    from bot.conversation.session import Session

    for damaged in (None, "", "not a time", 12):
        assert Session.since(damaged) == timedelta.max  # type: ignore[arg-type]
    just_now = datetime.now(UTC).isoformat()
    assert timedelta(0) <= Session.since(just_now) < timedelta(minutes=1)
