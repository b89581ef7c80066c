"""Rule-based understanding copes with the way members really write."""

from __future__ import annotations

import pytest

from bot.nlu.rules import RuleUnderstanding, parse_rules
from bot.types import INTENTS

# fmt: off
CASES: dict[str, list[str]] = {
    "affirm": ["yes", "Yes!!", "yeh", "ya", "yep", "yup", "ok", "okay", "👍", "👍🏽", "yes please",
               "yeah i do", "defo", "a bit", "yesss", "ok thanks", "yes i do that every day"],
    "deny": ["no", "nah", "nope", "👎", "not really", "no thanks", "i dont", "no i dont",
             "i cant cook", "nah i never do that", "NO."],
    "unsure": ["dunno", "i dunno", "not sure", "idk", "maybe", "hmm", "no idea", "🤷",
               "i dont know", "not really sure", "im not sure"],
    "skip": ["skip", "pass", "next", "next question", "skip this one", "rather not say",
             "can we skip this", "⏭"],
    "stop": ["stop", "quit", "i want to stop", "leave me alone", "no more questions", "🛑",
             "stop asking me"],
    "help": ["help", "help me", "what do i do", "i dont understand", "?", "what?",
             "how does this work", "im confused"],
    "greet": ["hi", "hello", "hiya", "Hello there!", "good morning", "hey", "👋"],
    "goodbye": ["bye", "bye bye", "see ya", "cya", "good night", "gtg"],
    "thanks": ["thanks", "thank you", "thx", "ta", "cheers", "🙏", "thank u"],
    "bot_challenge": ["are you a bot", "r u a robot", "are you a real person"],
    "want_to_learn": ["i want to learn to cook", "i wanna learn how to drive",
                      "teach me to swim", "i would like to try painting",
                      "i want 2 learn guitar",
                      # the "I want to learn" button, typed: no activity named
                      "learn", "I want to learn", "i'd like to learn", "teach me", "📚"],
    "tell_activity": ["i does the cookin for my mum", "i walk my dogs every day",
                      "i make tea for everyone", "my mum and me go shopping", "gardening",
                      "i help at the food bank", "football"],
    "distress": ["i am scared", "my mate takes my money", "someone is hurting me",
                 "i want to die", "they bully me"],
}
# fmt: on


@pytest.mark.parametrize(
    ("text", "intent"), [(text, intent) for intent, texts in CASES.items() for text in texts]
)
def test_member_spelling_is_understood(text: str, intent: str) -> None:
    """Short answers, text-speak and emoji map to the intent a person would read."""
    result = parse_rules(text)
    assert result.intent == intent, (text, result)
    assert result.source == "rules"
    assert result.intent in INTENTS


@pytest.mark.parametrize("text", ["blah", "asdf qwer", "", "   ", "...", "purple"])
def test_unknown_text_falls_back_with_low_confidence(text: str) -> None:
    """Text the rules cannot place is ``nlu_fallback`` below the usual threshold."""
    result = parse_rules(text)
    assert result.intent == "nlu_fallback"
    assert result.confidence < 0.5


def test_activity_entity_points_into_the_text() -> None:
    """The ``activity`` entity covers the member's own words for what they do."""
    text = "I does the cookin for my mum"
    result = parse_rules(text)
    assert result.intent == "tell_activity"
    (entity,) = result.entities
    assert entity.entity == "activity"
    assert text[entity.start : entity.end].lower() == entity.value
    assert "cookin" in entity.value


def test_learning_wish_names_the_activity() -> None:
    """A learning wish carries the thing the member wants to learn."""
    result = parse_rules("i wanna learn how to drive")
    assert result.intent == "want_to_learn"
    assert [e.value for e in result.entities] == ["drive"]


def test_distress_wins_over_everything() -> None:
    """A yes that also mentions danger is treated as distress."""
    result = parse_rules("yes he hits me")
    assert result.intent == "distress"
    assert result.confidence == 1.0


def test_exact_answers_are_surer_than_guesses() -> None:
    """A whole-message match reports higher confidence than a free-text guess."""
    assert parse_rules("yes").confidence > parse_rules("i walk my dogs").confidence


async def test_rule_understanding_is_async_and_never_raises() -> None:
    """The async wrapper answers every input, odd ones included."""
    nlu = RuleUnderstanding()
    for text in ["yeh", "", "/start", "x" * 10000, "\x00\x01", "🙂🙂🙂"]:
        result = await nlu.parse(text)
        assert result.intent in INTENTS
