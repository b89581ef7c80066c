"""Score a skill finder against the annotated sentences in ``tests/data/skill_sentences.yml``.

Scores are at category level (the unit staff and the targets care about):
for each sentence the categories found are compared with the expected ones;
``optional`` categories (ambiguous on purpose) count neither way. Learning
wishes are scored on the categories found correctly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.types import CATEGORIES, SkillFinder

#: The annotated sentences that ship with the project.
DEFAULT_SENTENCES = Path(__file__).resolve().parents[2] / "tests" / "data" / "skill_sentences.yml"


@dataclass(frozen=True)
class Sentence:
    """One annotated sentence."""

    text: str
    categories: frozenset[str]
    optional: frozenset[str] = frozenset()
    skills: frozenset[str] = frozenset()
    wishes: frozenset[str] = frozenset()
    tags: tuple[str, ...] = ()


@dataclass
class Counts:
    """True positives, false positives and false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was found."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when nothing was expected."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Miss:
    """A sentence the finder got (partly) wrong."""

    text: str
    expected: list[str]
    found: list[str]


@dataclass
class Report:
    """The result of one evaluation run."""

    sentences: int = 0
    overall: Counts = field(default_factory=Counts)
    per_category: dict[str, Counts] = field(default_factory=dict)
    per_tag: dict[str, list[int]] = field(default_factory=dict)  # tag -> [right, total]
    skills: Counts = field(default_factory=Counts)
    wishes: Counts = field(default_factory=Counts)
    misses: list[Miss] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary."""

        def row(c: Counts) -> dict[str, Any]:
            """One counts row."""
            return {
                "precision": round(c.precision, 3),
                "recall": round(c.recall, 3),
                "f1": round(c.f1, 3),
                "tp": c.tp,
                "fp": c.fp,
                "fn": c.fn,
            }

        return {
            "sentences": self.sentences,
            "overall": row(self.overall),
            "per_category": {k: row(v) for k, v in self.per_category.items()},
            "skills": row(self.skills),
            "wishes": row(self.wishes),
            "per_tag": {k: {"right": v[0], "total": v[1]} for k, v in self.per_tag.items()},
        }


def _set(value: Any) -> frozenset[str]:
    """A YAML list (or nothing) as a set of strings."""
    return frozenset(str(v) for v in value or ())


def load_sentences(path: str | Path = DEFAULT_SENTENCES) -> list[Sentence]:
    """Read the annotated sentences; unknown categories are an error."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out: list[Sentence] = []
    for entry in data["sentences"]:
        sentence = Sentence(
            text=str(entry["text"]),
            categories=_set(entry.get("categories")),
            optional=_set(entry.get("optional")),
            skills=_set(entry.get("skills")),
            wishes=_set(entry.get("wishes")),
            tags=tuple(str(t) for t in entry.get("tags") or ()),
        )
        bad = (sentence.categories | sentence.optional | sentence.wishes) - set(CATEGORIES)
        if bad:
            raise ValueError(f"{sentence.text!r}: unknown categories {sorted(bad)}")
        out.append(sentence)
    return out


def evaluate(finder: SkillFinder, sentences: Iterable[Sentence]) -> Report:
    """Run the finder over the sentences and count hits and misses per category."""
    report = Report(per_category={c: Counts() for c in CATEGORIES})
    for sentence in sentences:
        report.sentences += 1
        found = finder.find(sentence.text)
        got = {f.category for f in found}
        wished = {f.category for f in found if f.learning_wish}
        expected, optional = sentence.categories, sentence.optional
        for cat in got & expected:
            report.per_category[cat].tp += 1
        for cat in got - expected - optional:
            report.per_category[cat].fp += 1
        for cat in expected - got:
            report.per_category[cat].fn += 1
        for cat in got & expected:
            is_wish, want_wish = cat in wished, cat in sentence.wishes
            report.wishes.tp += is_wish and want_wish
            report.wishes.fp += is_wish and not want_wish
            report.wishes.fn += want_wish and not is_wish
        if sentence.skills:
            ids = {f.skill for f in found}
            report.skills.tp += len(ids & sentence.skills)
            report.skills.fn += len(sentence.skills - ids)
        right = expected <= got and not (got - expected - optional)
        for tag in sentence.tags or ("untagged",):
            counts = report.per_tag.setdefault(tag, [0, 0])
            counts[0] += right
            counts[1] += 1
        if not right:
            report.misses.append(Miss(sentence.text, sorted(expected), sorted(got)))
    for cat_counts in report.per_category.values():
        report.overall.tp += cat_counts.tp
        report.overall.fp += cat_counts.fp
        report.overall.fn += cat_counts.fn
    return report
