"""The held-out evaluation: the finder must keep its targets on the annotated sentences."""

from __future__ import annotations

from collections import Counter

from bot.settings import PROJECT_ROOT
from bot.skills.cli import TARGET_PRECISION, TARGET_RECALL
from bot.skills.evaluate import Sentence, evaluate, load_sentences
from bot.skills.finder import SpacySkillFinder
from bot.skills.taxonomy import load_taxonomy
from bot.types import FoundSkill


def test_annotated_set_is_big_and_varied() -> None:
    """At least 200 sentences covering every hard case and every category."""
    sentences = load_sentences()
    tags = Counter(tag for s in sentences for tag in s.tags)
    assert len(sentences) >= 200
    for tag in (
        "negative",
        "negation",
        "misspelling",
        "textspeak",
        "past",
        "wish",
        "for_others",
        "plural",
        "tense",
        "someone_else",
    ):
        assert tags[tag] >= 5, tag
    covered = {c for s in sentences for c in s.categories}
    assert len(covered) == 19


def test_finder_meets_its_targets() -> None:
    """Category level on the held-out sentences: precision >= 0.90, recall >= 0.85."""
    finder = SpacySkillFinder(load_taxonomy(PROJECT_ROOT / "dialogues" / "skills.yml"))
    report = evaluate(finder, load_sentences())
    summary = [(m.text, m.expected, m.found) for m in report.misses]
    assert report.overall.precision >= TARGET_PRECISION, summary
    assert report.overall.recall >= TARGET_RECALL, summary
    assert report.wishes.recall >= 0.8
    assert report.skills.tp / (report.skills.tp + report.skills.fn) >= 0.8


class _Fixed:
    """A fake finder with canned answers, to check the scoring itself."""

    def __init__(self, answers: dict[str, list[FoundSkill]]) -> None:
        """Keep the canned answers."""
        self.answers = answers

    def find(self, text: str) -> list[FoundSkill]:
        """The canned answer for ``text``."""
        return self.answers.get(text, [])


def test_scoring_counts_hits_misses_and_optional() -> None:
    """True/false positives and misses are counted per category; optional ones are free."""
    cook = FoundSkill("baking", "baking", "cooking", "🧁", "bake")
    care = FoundSkill("looking_after_people", "looking after people", "caring", "🤗", "for mum")
    song = FoundSkill("singing", "singing", "music", "🎤", "sing", learning_wish=True)
    sentences = [
        Sentence("a", frozenset({"cooking", "caring"})),
        Sentence("b", frozenset(), optional=frozenset({"music"})),
        Sentence("c", frozenset({"music"}), wishes=frozenset({"music"})),
        Sentence("d", frozenset()),
    ]
    finder = _Fixed({"a": [cook], "b": [song], "c": [song], "d": [care]})
    report = evaluate(finder, sentences)
    assert (report.overall.tp, report.overall.fp, report.overall.fn) == (2, 1, 1)
    assert report.per_category["caring"].fn == 1
    assert report.per_category["caring"].fp == 1
    assert report.per_category["music"].fp == 0
    assert report.wishes.tp == 1
    assert [m.text for m in report.misses] == ["a", "d"]
