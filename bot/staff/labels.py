"""Words for exports: category names, skill emoji, question texts, profile headings.

Built once from the loaded dialogues (:class:`bot.content.Content`). Without
dialogues every lookup falls back to the stored id, so an export never fails
for want of a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.content import Content
from bot.types import CATEGORIES


@dataclass(frozen=True)
class Labels:
    """Lookups from stored ids to the words staff and members read."""

    categories: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    skill_emoji: Mapping[str, str] = field(default_factory=dict)
    questions: Mapping[str, str] = field(default_factory=dict)
    messages: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_content(cls, content: Content, language: str | None = None) -> Labels:
        """Labels in one language (the default language when not given)."""
        lang = language or content.default_language
        messages = {**content.messages.get(content.default_language, {})}
        messages.update(content.messages.get(lang, {}))
        questions: dict[str, str] = {}
        for topic in content.topics:
            for question in topic.questions:
                questions[question.full_id] = messages.get(question.text, question.full_id)
        for step in content.onboarding.values():
            if step.text:
                questions[f"onboarding.{step.id}"] = messages.get(step.text, step.id)
        return cls(
            categories=dict(content.taxonomy.categories),
            skill_emoji={s.id: s.emoji for s in content.taxonomy},
            questions=questions,
            messages=messages,
        )

    def category(self, category: str) -> str:
        """A category's words, e.g. ``cooking and food``."""
        found = self.categories.get(category)
        return found[0] if found else category.replace("_", " ")

    def category_emoji(self, category: str) -> str:
        """A category's emoji (empty when unknown)."""
        found = self.categories.get(category)
        return found[1] if found else ""

    def emoji(self, skill_id: str | None, category: str | None = None) -> str:
        """A skill's emoji, or its category's, or a star."""
        if skill_id and skill_id in self.skill_emoji:
            return self.skill_emoji[skill_id]
        return self.category_emoji(category or "") or "⭐"

    def question(self, question_id: str) -> str:
        """What the member was asked, as they read it (the id when unknown)."""
        if question_id in self.questions:
            return self.questions[question_id]
        base, _, tail = question_id.rpartition(".")
        if tail == "confirm" and base in self.questions:
            return f"{self.questions[base]} (checking the skill)"
        return question_id

    def text(self, key: str, **values: str) -> str:
        """A message by key with placeholders filled (the key itself when missing)."""
        template = self.messages.get(key, key)
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return template

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The keys that have no message."""
        return [k for k in keys if k not in self.messages]

    @property
    def category_order(self) -> tuple[str, ...]:
        """The 19 category ids in their fixed order."""
        return CATEGORIES
